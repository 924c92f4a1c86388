package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/scimgate/scimgate/schema"
)

// normalizer rewrites request bodies that real provisioning clients send
// in shapes the SCIM library refuses into equivalent ones it accepts (see
// ../shared notes on Entra ID and Okta):
//
//   - the Enterprise User manager as a plain id string: {"value": id};
//   - a path-less PATCH value with dotted ("name.givenName") or
//     URN-qualified keys, or a whole extension object: one operation per
//     attribute, with that path;
//   - a PATCH whose path is an extension's URN: one operation per
//     attribute of the extension (wholeExtension);
//   - the resource's own "id" (and "schemas", "meta") inside a path-less
//     PATCH value: taken out, the id kept for the handler to compare;
//   - a remove without a path is answered 400 noTarget here, where the
//     library would say invalidValue.
//
// And it enforces, before any work, what every write must respect (values.go):
// at most patch.max_operations PATCH operations, at most limits.max_values
// values in one multi-valued attribute, no control characters, and the
// resource's name in NFC without invisible characters.
//
// A body that is not a JSON object is passed on as it is, for the library
// to refuse.
type normalizer struct {
	s      schema.Schemas
	maxOps int // patch.max_operations
	ri     *requestInfo
}

func (n normalizer) normalize(body []byte, method string) ([]byte, error) {
	if err := checkUTF8(body); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return body, nil
	}
	if method != http.MethodPatch {
		if err := n.resource(doc); err != nil {
			return nil, err
		}
		return json.Marshal(doc)
	}
	rewritten, err := n.patch(doc)
	if err != nil || !rewritten {
		return body, err
	}
	return json.Marshal(doc)
}

// resource checks and rewrites the body of a create or a replace.
func (n normalizer) resource(doc map[string]any) error {
	if err := checkResourceShape(n.s, doc); err != nil {
		return err
	}
	if err := checkRequired(n.s, doc); err != nil {
		return err
	}
	fixManager(doc)
	return n.attributes(doc)
}

// patch checks and rewrites the operations of a PATCH, and reports
// whether it found operations to rewrite.
func (n normalizer) patch(doc map[string]any) (bool, error) {
	if _, v := lookupKey(doc, "schemas"); !slices.Equal(anyStrings(v), []string{patchOpURN}) {
		// Malformed (RFC 7644 section 3.12), where the library says invalidValue.
		return false, newError(http.StatusBadRequest, "invalidSyntax", "A PATCH body must have \"schemas\": [%q] (RFC 7644 section 3.5.2).", patchOpURN)
	}
	key, ops := lookupKey(doc, "Operations")
	list, ok := ops.([]any)
	if !ok {
		return false, nil
	}
	if len(list) == 0 {
		return false, newError(http.StatusBadRequest, "invalidValue", "Operations must hold at least one operation (RFC 7644 section 3.5.2).")
	}
	if len(list) > n.maxOps {
		return false, newError(http.StatusBadRequest, "tooMany", "The PATCH has %d operations; patch.max_operations is %d.", len(list), n.maxOps)
	}
	var out []any
	for _, raw := range list {
		ops, err := n.expand(raw)
		if err != nil {
			return false, err
		}
		out = append(out, ops...)
	}
	if len(out) > n.maxOps {
		return false, newError(http.StatusBadRequest, "tooMany",
			"The PATCH has %d operations once its path-less values and whole extensions are taken apart (one per dotted or URN key, one per attribute of an extension); patch.max_operations is %d.", len(out), n.maxOps)
	}
	for _, op := range out {
		if err := n.operation(op); err != nil {
			return false, err
		}
	}
	if len(out) == 0 {
		// Nothing left but the resource's own id: a no-op, which the
		// library needs at least one operation to express.
		out = append(out, map[string]any{"op": "add", "value": map[string]any{}})
	}
	delete(doc, key)
	doc["Operations"] = out
	return true, nil
}

// expand rewrites one PATCH operation into those the library accepts.
func (n normalizer) expand(raw any) ([]any, error) {
	op, ok := raw.(map[string]any)
	if !ok {
		return []any{raw}, nil
	}
	_, verb := lookupKey(op, "op")
	_, path := lookupKey(op, "path")
	_, value := lookupKey(op, "value")
	verbs, _ := verb.(string)
	paths, _ := path.(string)
	remove := strings.EqualFold(verbs, "remove")
	if remove && paths == "" {
		return nil, newError(http.StatusBadRequest, "noTarget", "A remove operation needs a path.")
	}
	if ext, ok := n.s.Extension(paths); ok {
		if remove && value != nil {
			return nil, newError(http.StatusBadRequest, "invalidValue", "A remove of the whole extension %s takes no value.", ext.ID)
		}
		return wholeExtension(verb, ext, value)
	}
	if paths != "" {
		if isManagerPath(paths) {
			if id, ok := value.(string); ok {
				value = map[string]any{"value": id}
			}
		}
		return []any{map[string]any{"op": verb, "path": path, "value": value}}, nil
	}
	obj, ok := value.(map[string]any)
	if !ok {
		return []any{raw}, nil
	}
	return n.pathless(verb, obj)
}

// pathless rewrites the value of a path-less operation: one operation per
// dotted or URN key and per attribute of an extension, one for the rest.
func (n normalizer) pathless(verb any, obj map[string]any) ([]any, error) {
	var out []any
	rest := map[string]any{}
	for k, v := range obj {
		ext, isExt := n.s.Extension(k)
		switch {
		case strings.EqualFold(k, "id"):
			if id, ok := v.(string); ok {
				n.ri.patchID = id
			}
		case strings.EqualFold(k, "schemas") || strings.EqualFold(k, "meta"):
		case isExt:
			ops, err := wholeExtension(verb, ext, v)
			if err != nil {
				return nil, err
			}
			out = append(out, ops...)
		case strings.Contains(k, ".") || strings.HasPrefix(strings.ToLower(k), "urn:"):
			if isManagerPath(k) {
				if id, ok := v.(string); ok {
					v = map[string]any{"value": id}
				}
			}
			out = append(out, map[string]any{"op": verb, "path": k, "value": v})
		default:
			rest[k] = v
		}
	}
	if len(rest) > 0 {
		out = append(out, map[string]any{"op": verb, "value": rest})
	}
	return out, nil
}

// wholeExtension rewrites an operation on a whole extension (its URN as
// the path, or as a key of a path-less value) into one operation per
// attribute. An object (add or replace) writes the attributes it gives
// and leaves the others as they are, as RFC 7644 section 3.5.2.3 says of
// the sub-attributes of a complex attribute: to set the extension to
// exactly the object, remove it first in the same PATCH. No value (a
// remove, or null: RFC 7643 section 2.5) unassigns every attribute of
// the extension that a client may write.
func wholeExtension(verb any, ext schema.Schema, value any) ([]any, error) {
	if value == nil {
		var out []any
		for _, a := range ext.Attributes {
			if a.Mutability != schema.ReadOnly {
				out = append(out, map[string]any{"op": "remove", "path": ext.ID + ":" + a.Name})
			}
		}
		return out, nil
	}
	obj, ok := value.(map[string]any)
	if !ok {
		return nil, newError(http.StatusBadRequest, "invalidValue", "The value of the extension %s must be an object of its attributes.", ext.ID)
	}
	fixManagerIn(obj)
	out := make([]any, 0, len(obj))
	for _, k := range appendSortedKeys(nil, obj) {
		out = append(out, map[string]any{"op": verb, "path": ext.ID + ":" + k, "value": obj[k]})
	}
	return out, nil
}

// checkUTF8 refuses a body that is not UTF-8 (RFC 8259 section 8.1), which
// a JSON decoder would otherwise turn silently into replacement characters.
func checkUTF8(body []byte) error {
	if !utf8.Valid(body) {
		return newError(http.StatusBadRequest, "invalidSyntax", "The body is not UTF-8.")
	}
	return nil
}

// checkResourceShape refuses, in a resource body, schemas the resource
// type does not have (in "schemas" or as an extension's key) — their
// attributes would otherwise be dropped silently — and a single value
// where a multi-valued attribute needs an array.
func checkResourceShape(s schema.Schemas, doc map[string]any) error {
	_, schemas := lookupKey(doc, "schemas")
	list, _ := schemas.([]any)
	for _, x := range list {
		urn, _ := x.(string)
		if !strings.EqualFold(urn, s.Core.ID) && !hasExtension(s, urn) {
			return newError(http.StatusBadRequest, "invalidSyntax", "The schema %q is not one of this resource type's (see /ResourceTypes).", urn)
		}
	}
	check := func(sc schema.Schema, obj map[string]any) error {
		for k, v := range obj {
			a, ok := sc.Attribute(k)
			if !ok || !a.MultiValued || v == nil {
				continue
			}
			if _, ok := v.([]any); !ok {
				return newError(http.StatusBadRequest, "invalidValue", "%s is multi-valued: give it as an array.", a.Name)
			}
		}
		return nil
	}
	if err := check(s.Core, doc); err != nil {
		return err
	}
	for k, v := range doc {
		if !strings.HasPrefix(strings.ToLower(k), "urn:") {
			continue
		}
		if strings.EqualFold(k, s.Core.ID) {
			continue
		}
		ext, ok := s.Extension(k)
		if !ok {
			return newError(http.StatusBadRequest, "invalidSyntax", "The schema %q is not one of this resource type's (see /ResourceTypes).", k)
		}
		if obj, ok := v.(map[string]any); ok {
			if err := check(ext, obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkRequired refuses a resource without a value for an attribute its
// schema marks required (a user's userName, a group's displayName; those
// of an extension the resource holds), naming it, where the library says
// only that something required is missing.
func checkRequired(s schema.Schemas, doc map[string]any) error {
	check := func(sc schema.Schema, obj map[string]any, prefix string) error {
		for _, a := range sc.Attributes {
			_, v := lookupKey(obj, a.Name)
			if l, isList := v.([]any); a.Required && (v == nil || isList && len(l) == 0) {
				return newError(http.StatusBadRequest, "invalidValue", "%s%s is required.", prefix, a.Name)
			}
		}
		return nil
	}
	if err := check(s.Core, doc, ""); err != nil {
		return err
	}
	for _, ext := range s.Extensions {
		if _, v := lookupKey(doc, ext.ID); v != nil {
			if obj, ok := v.(map[string]any); ok {
				if err := check(ext, obj, ext.ID+":"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// patchOpURN is the schema of a PATCH body.
const patchOpURN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// anyStrings returns v's strings when v is a list of strings only.
func anyStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil
		}
		out = append(out, s)
	}
	return out
}

func isManagerPath(p string) bool {
	return strings.EqualFold(p, schema.EnterpriseUserURN+":manager")
}

// fixManager turns a manager given as a plain string (Entra ID) into the
// complex value the schema defines.
func fixManager(doc map[string]any) {
	if _, ext := lookupKey(doc, schema.EnterpriseUserURN); ext != nil {
		if eobj, ok := ext.(map[string]any); ok {
			fixManagerIn(eobj)
		}
	}
}

func fixManagerIn(ext map[string]any) {
	k, v := lookupKey(ext, "manager")
	if id, ok := v.(string); ok {
		ext[k] = map[string]any{"value": id}
	}
}

// lookupKey finds a key case-insensitively and returns it as written.
func lookupKey(m map[string]any, k string) (string, any) {
	if v, ok := m[k]; ok {
		return k, v
	}
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return mk, v
		}
	}
	return k, nil
}

func hasExtension(s schema.Schemas, urn string) bool {
	_, ok := s.Extension(urn)
	return ok
}
