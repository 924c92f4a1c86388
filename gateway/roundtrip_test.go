package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// The round trip: whatever a gateway's /Schemas advertises is kept exactly
// as sent. For each profile, a user (and a group) holding a value for every
// writable attribute, sub-attribute and canonical type /Schemas lists is
// created and read back; then each attribute is replaced, added to and
// removed by PATCH, and read back again. Zero differences: a value
// advertised but refused, dropped or changed fails the test. Values are
// fixed shapes with random parts (the seed is printed on failure).
// Read-only attributes and sub-attributes (primary where the directory
// tells it by the order of values) are left out of what is compared, as
// RFC 7644 says a service provider ignores them.
func TestRoundTrip(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	envs := []struct {
		name string
		env  func(t *testing.T) *userEnv
		// refused are removals the test directory refuses where the real
		// one would not (slapd's person must have sn; AD's need not).
		refused []string
		// onePerType are the multi-valued attributes whose every type has a
		// single-valued home (AD's mail, telephoneNumber, streetAddress...):
		// a second value of a type is refused (400 invalidValue), not kept.
		onePerType []string
	}{
		{"openldap with scimgate's schema", newUserEnv, nil, nil},
		{"openldap alone", newPlainEnv, nil, nil},
		{"389ds", new389Env, nil, nil},
		{"389 Directory Server", func(t *testing.T) *userEnv { return newDS389Env(t, false) }, nil, nil},
		{"Samba AD", func(t *testing.T) *userEnv { return newSambaEnv(t, false) }, nil, []string{"emails", "phoneNumbers", "addresses"}},
		{"activedirectory", newADEnv, []string{"name"}, nil},
		{"janssen", func(t *testing.T) *userEnv { return newJanssenEnv(t) }, nil, nil},
	}
	for _, e := range envs {
		t.Run(e.name, func(t *testing.T) {
			u := e.env(t)
			rt := &roundTrip{t: t, u: u, rng: mrand.New(mrand.NewPCG(seed, 1)), refused: e.refused, onePerType: e.onePerType}
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("seed %d", seed)
				}
			})
			rt.users()
			rt.groups()
		})
	}
}

// roundTrip builds values from a gateway's /Schemas and checks them.
type roundTrip struct {
	t          *testing.T
	u          *userEnv
	rng        *mrand.Rand
	n          int
	manager    string   // a user id, for manager.value
	refused    []string // removals the test directory refuses (see TestRoundTrip)
	onePerType []string // attributes holding one value of each type (see TestRoundTrip)
}

// schemaDoc is an attribute of /Schemas, as JSON gives it.
type schemaDoc struct {
	Name            string      `json:"name"`
	Type            string      `json:"type"`
	MultiValued     bool        `json:"multiValued"`
	Required        bool        `json:"required"`
	Mutability      string      `json:"mutability"`
	Returned        string      `json:"returned"`
	CanonicalValues []string    `json:"canonicalValues"`
	SubAttributes   []schemaDoc `json:"subAttributes"`
}

// schemas returns the attributes /Schemas lists for the resource type's
// core schema and each of its extensions, by URN ("" for the core).
func (rt *roundTrip) schemas(kind string) map[string][]schemaDoc {
	r := rt.u.send("GET", "/ResourceTypes/"+kind, "")
	core, _ := r.body["schema"].(string)
	urns := map[string]string{core: ""}
	if exts, ok := r.body["schemaExtensions"].([]any); ok {
		for _, x := range exts {
			urn := x.(map[string]any)["schema"].(string)
			urns[urn] = urn
		}
	}
	out := map[string][]schemaDoc{}
	for urn, key := range urns {
		r := rt.u.send("GET", "/Schemas/"+urn, "")
		var s struct{ Attributes []schemaDoc }
		if err := json.Unmarshal([]byte(r.raw), &s); err != nil || r.status != 200 {
			rt.t.Fatalf("/Schemas/%s: %d %s", urn, r.status, r.raw)
		}
		out[key] = s.Attributes
	}
	return out
}

func writable(a schemaDoc) bool { return a.Mutability != "readOnly" }

// returned reports whether an attribute comes back when written.
func returned(a schemaDoc) bool {
	return writable(a) && a.Returned != "never" && a.Mutability != "writeOnly"
}

// users runs the round trip of a user.
func (rt *roundTrip) users() {
	sch := rt.schemas("User")
	id, _ := rt.u.create(`{"userName":"the-manager","name":{"familyName":"Manager"}}`)
	rt.manager = id
	doc := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}}
	for urn, attrs := range sch {
		target := doc
		if urn != "" {
			target = map[string]any{}
			doc[urn] = target
		}
		for _, a := range attrs {
			if v := rt.value(urn, a); v != nil {
				target[a.Name] = v
			}
		}
	}
	rt.check("User", sch, "/Users", doc)
}

// groups runs the round trip of a group.
func (rt *roundTrip) groups() {
	sch := rt.schemas("Group")
	doc := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}}
	for _, a := range sch[""] {
		if v := rt.value("", a); v != nil {
			doc[a.Name] = v
		}
	}
	rt.check("Group", sch, "/Groups", doc)
}

// check creates doc at endpoint, reads it back and compares; then, each
// attribute in turn, replaces, adds to and removes it by PATCH.
func (rt *roundTrip) check(kind string, sch map[string][]schemaDoc, endpoint string, doc map[string]any) {
	t := rt.t
	r := rt.u.send("POST", endpoint, string(mustJSON(doc)))
	if r.status != 201 {
		t.Fatalf("create a %s with every advertised value: %d %s\nsent %s", kind, r.status, r.raw, mustJSON(doc))
	}
	id := r.body["id"].(string)
	path := endpoint + "/" + id
	rt.compare("create", sch, doc, rt.u.send("GET", path, "").body)
	for urn, attrs := range sch {
		for _, a := range attrs {
			if !writable(a) || a.Name == "password" || a.Name == "members" {
				continue
			}
			rt.patchAttribute(sch, path, urn, a)
		}
	}
}

// patchAttribute replaces, adds to (multi-valued) and removes one attribute
// of the resource at path, comparing what is read back each time.
func (rt *roundTrip) patchAttribute(sch map[string][]schemaDoc, path, urn string, a schemaDoc) {
	t := rt.t
	p := a.Name
	if urn != "" {
		p = urn + ":" + a.Name
	}
	current := rt.u.send("GET", path, "").body
	expect := func(change func(doc map[string]any)) map[string]any {
		doc := cloneDoc(current)
		change(doc)
		return doc
	}
	container := func(doc map[string]any) map[string]any {
		if urn == "" {
			return doc
		}
		ext, _ := doc[urn].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
			doc[urn] = ext
		}
		return ext
	}
	v := rt.value(urn, a)
	if v == nil {
		return
	}
	r := rt.u.send("PATCH", path, patchBody(patchOp("replace", p, v)))
	if r.status != 200 && r.status != 204 {
		t.Errorf("replace %s: %d %s\nvalue %s", p, r.status, r.raw, mustJSON(v))
		return
	}
	want := expect(func(doc map[string]any) { container(doc)[a.Name] = v })
	rt.compare("replace "+p, sch, want, rt.u.send("GET", path, "").body)
	if a.MultiValued {
		more := rt.value(urn, a).([]any)[:1]
		if a.Type == "complex" {
			delete(more[0].(map[string]any), "primary") // one primary at most: the one there
		}
		r := rt.u.send("PATCH", path, patchBody(patchOp("add", p, more)))
		switch {
		case slices.Contains(rt.onePerType, a.Name):
			if r.status != 400 || r.body["scimType"] != "invalidValue" {
				t.Errorf("add a second value of one type to %s: %d %s, want 400 invalidValue", p, r.status, r.raw)
			}
			rt.compare("refused add to "+p, sch, want, rt.u.send("GET", path, "").body)
		case r.status/100 != 2:
			t.Errorf("add to %s: %d %s", p, r.status, r.raw)
		default:
			want = expect(func(doc map[string]any) { container(doc)[a.Name] = append(slices.Clone(v.([]any)), more...) })
			rt.compare("add to "+p, sch, want, rt.u.send("GET", path, "").body)
		}
	}
	r = rt.u.send("PATCH", path, patchBody(patchOp("remove", p, nil)))
	switch {
	case slices.Contains(rt.refused, a.Name):
	case a.Required || a.Name == "active":
		if r.status != 400 {
			t.Errorf("remove %s (required, or active): %d %s, want 400", p, r.status, r.raw)
		}
	case r.status/100 != 2:
		t.Errorf("remove %s: %d %s", p, r.status, r.raw)
	default:
		want = expect(func(doc map[string]any) { delete(container(doc), a.Name) })
		rt.compare("remove "+p, sch, want, rt.u.send("GET", path, "").body)
	}
	// Back to a value, for the attributes that follow.
	rt.u.send("PATCH", path, patchBody(patchOp("replace", p, v)))
}

// compare checks that got holds exactly the writable, returned values of
// want, and nothing written that want has not.
func (rt *roundTrip) compare(step string, sch map[string][]schemaDoc, want, got map[string]any) {
	for urn, attrs := range sch {
		w, g := want, got
		if urn != "" {
			w, _ = want[urn].(map[string]any)
			g, _ = got[urn].(map[string]any)
		}
		for _, a := range attrs {
			if !returned(a) || a.Name == "members" && len(attrsOf(w)[a.Name]) == 0 {
				continue
			}
			wv, gv := comparable(a, valueOf(w, a.Name)), comparable(a, valueOf(g, a.Name))
			if wv != gv {
				rt.t.Errorf("%s: %s%s differs\nsent %s\nread %s", step, prefix(urn), a.Name, wv, gv)
			}
		}
	}
}

func prefix(urn string) string {
	if urn == "" {
		return ""
	}
	return urn + ":"
}

func attrsOf(m map[string]any) map[string][]any {
	out := map[string][]any{}
	for k, v := range m {
		if l, ok := v.([]any); ok {
			out[k] = l
		}
	}
	return out
}

func valueOf(m map[string]any, name string) any {
	if m == nil {
		return nil
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// comparable is v as text to compare: the writable sub-attributes only,
// multi-valued elements in a canonical order (SCIM's are unordered).
func comparable(a schemaDoc, v any) string {
	if v == nil {
		return "<unassigned>"
	}
	keep := func(x any) any {
		obj, ok := x.(map[string]any)
		if !ok || a.Type != "complex" {
			return x
		}
		out := map[string]any{}
		for _, s := range a.SubAttributes {
			if sv := valueOf(obj, s.Name); sv != nil && returned(s) {
				out[s.Name] = sv
			}
		}
		return out
	}
	if list, ok := v.([]any); ok {
		var parts []string
		for _, el := range list {
			parts = append(parts, string(mustJSON(keep(el))))
		}
		slices.Sort(parts)
		return "[" + strings.Join(parts, ",") + "]"
	}
	return string(mustJSON(keep(v)))
}

func cloneDoc(m map[string]any) map[string]any {
	var out map[string]any
	json.Unmarshal(mustJSON(m), &out)
	return out
}

// value is a value for attribute a of the schema urn: every writable
// sub-attribute; for a multi-valued one, an element of each canonical type
// (one of them primary). Nil for what cannot be written.
func (rt *roundTrip) value(urn string, a schemaDoc) any {
	if !writable(a) || a.Name == "groups" || a.Mutability == "immutable" {
		return nil
	}
	if a.Name == "members" {
		return []any{map[string]any{"value": rt.manager}}
	}
	if a.Name == "manager" {
		return map[string]any{"value": rt.manager}
	}
	if !a.MultiValued {
		return rt.element(a, "")
	}
	types := a.CanonicalValues
	if t, ok := subAttr(a, "type"); ok && len(types) == 0 {
		types = t.CanonicalValues
	}
	if len(types) == 0 {
		types = []string{""}
	}
	var out []any
	for i, typ := range types {
		el := rt.element(a, typ)
		if obj, ok := el.(map[string]any); ok && i == 0 {
			if p, ok := subAttr(a, "primary"); ok && writable(p) {
				obj["primary"] = true
			}
		}
		out = append(out, el)
	}
	return out
}

func subAttr(a schemaDoc, name string) (schemaDoc, bool) {
	for _, s := range a.SubAttributes {
		if s.Name == name {
			return s, true
		}
	}
	return schemaDoc{}, false
}

// element is one element of a multi-valued attribute, of type typ.
func (rt *roundTrip) element(a schemaDoc, typ string) any {
	if a.Type != "complex" {
		return rt.simple(a, a.Name)
	}
	el := map[string]any{}
	for _, s := range a.SubAttributes {
		switch {
		case !writable(s) || s.Name == "primary":
		case s.Name == "type" && typ != "":
			el["type"] = typ
		case s.Name == "type":
		default:
			el[s.Name] = rt.simple(s, a.Name+"."+s.Name)
		}
	}
	return el
}

// simple is a value of a simple attribute (or sub-attribute) name, of a
// shape its directory attribute takes.
func (rt *roundTrip) simple(a schemaDoc, name string) any {
	rt.n++
	word := fmt.Sprintf("%s%d", []string{"ada", "alan", "grace", "edsger", "radia"}[rt.rng.IntN(5)], rt.n)
	switch {
	case a.Type == "boolean":
		return name == "active" || rt.rng.IntN(2) == 0
	case a.Type == "integer":
		return rt.rng.IntN(1000)
	case a.Type == "binary" || name == "x509Certificates.value":
		return certificate(rt.t)
	case a.Type == "reference" || strings.HasSuffix(name, "Url") || name == "photos.value":
		return "https://example.org/" + word
	case strings.HasPrefix(name, "emails"):
		return word + "@example.org"
	case strings.HasPrefix(name, "phoneNumbers"):
		return fmt.Sprintf("+1 555 %04d", rt.n)
	case name == "userName" || name == "displayName":
		return "rt-" + word
	case name == "timezone":
		return "Europe/Paris"
	case name == "locale" || name == "preferredLanguage":
		return "en-US"
	case strings.HasSuffix(name, "country"):
		return "FR"
	}
	return "Value " + word
}

// certificate is a real DER certificate, base64, as x509Certificates holds.
func certificate(t *testing.T) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "round trip"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}
