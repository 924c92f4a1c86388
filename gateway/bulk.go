package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/gateway/auth"
)

// POST /Bulk (RFC 7644 section 3.7). Each operation runs as a sub-request
// (subrequest.go) through the route of the single request, so it is
// checked, applied and answered exactly as that request would be, its
// route's scope included: a token holding only the bulk scope creates
// nothing. Operations run in the order given, except that one naming
// bulkId:X waits until the operation with bulkId X has created its
// resource, even when that operation comes later (section 3.7.2); what
// cannot be ordered so (a circular reference) fails with 409.

const (
	bulkRequestURN  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	bulkResponseURN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	bulkIDPrefix    = "bulkId:"
)

type bulkRequest struct {
	Schemas      []string        `json:"schemas"`
	FailOnErrors *int            `json:"failOnErrors"`
	Operations   []bulkOperation `json:"Operations"`
}

type bulkOperation struct {
	Method  string          `json:"method"`
	BulkID  string          `json:"bulkId"`
	Version string          `json:"version"`
	Path    string          `json:"path"`
	Data    json.RawMessage `json:"data"`
}

// bulkResult is one operation's entry in the BulkResponse.
type bulkResult struct {
	Method   string          `json:"method"`
	BulkID   string          `json:"bulkId,omitempty"`
	Version  string          `json:"version,omitempty"`
	Location string          `json:"location,omitempty"`
	Status   string          `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`
}

// bulkPath is what an operation may name: the Users or Groups endpoint,
// or one resource of it.
var bulkPath = regexp.MustCompile(`^/(Users|Groups)(/[^/?#]+)?$`)

func (s *Server) bulkHandler(c echo.Context) error {
	if s.bulk.MaxOperations == 0 {
		return notYet("POST /Bulk (turned off: bulk.max_operations is 0)")
	}
	// The limit holds on the body itself, whatever Content-Length says.
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, s.bulk.MaxPayloadBytes+1))
	if err != nil {
		return err
	}
	if int64(len(body)) > s.bulk.MaxPayloadBytes {
		return newError(http.StatusRequestEntityTooLarge, "", "The bulk request is larger than maxPayloadSize (%d bytes).", s.bulk.MaxPayloadBytes)
	}
	if err := checkUTF8(body); err != nil {
		return err
	}
	var req bulkRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return newError(http.StatusBadRequest, "invalidSyntax", "The body is not a BulkRequest: %s.", jsonProblem(err))
	}
	if !slices.ContainsFunc(req.Schemas, func(s string) bool { return strings.EqualFold(s, bulkRequestURN) }) {
		return newError(http.StatusBadRequest, "invalidSyntax", "A bulk request must have \"schemas\": [%q].", bulkRequestURN)
	}
	switch {
	case len(req.Operations) > s.bulk.MaxOperations:
		return newError(http.StatusRequestEntityTooLarge, "", "The bulk request has %d operations; maxOperations is %d.", len(req.Operations), s.bulk.MaxOperations)
	case len(req.Operations) == 0:
		return newError(http.StatusBadRequest, "invalidValue", "The bulk request has no Operations.")
	case req.FailOnErrors != nil && *req.FailOnErrors < 0:
		return newError(http.StatusBadRequest, "invalidValue", "failOnErrors must be a positive integer.")
	}
	failOn := 0
	if req.FailOnErrors != nil {
		failOn = *req.FailOnErrors
	}
	results := s.runBulk(c.Request().Context(), req.Operations, failOn)
	return s.scimJSON(c, map[string]any{"schemas": []string{bulkResponseURN}, "Operations": results})
}

// plannedOp is an operation checked and waiting for its turn.
type plannedOp struct {
	n    int // its place in the request, from 1
	op   bulkOperation
	data any      // decoded data, nil without
	refs []string // the bulkIds its path and data name
	err  *scimError
}

// runBulk applies the operations and returns their results in the order
// they ran, stopping after failOn errors (0: never).
func (s *Server) runBulk(ctx context.Context, ops []bulkOperation, failOn int) []bulkResult {
	identity := infoFrom(ctx).identity
	creators := map[string]int{} // bulkId → how many POSTs declare it
	for _, op := range ops {
		if strings.EqualFold(op.Method, http.MethodPost) && op.BulkID != "" {
			creators[op.BulkID]++
		}
	}
	pending := make([]*plannedOp, len(ops))
	for i, op := range ops {
		pending[i] = planOp(i+1, op, creators)
	}

	created := map[string]string{} // bulkId → the id of the resource its POST created
	failed := map[string]bool{}    // bulkIds whose POST failed
	var results []bulkResult
	errors := 0
	record := func(p *plannedOp, r bulkResult) bool {
		results = append(results, r)
		if r.Status[0] >= '4' {
			errors++
			if p.op.Method == http.MethodPost && p.op.BulkID != "" {
				failed[p.op.BulkID] = true
			}
		}
		return failOn > 0 && errors >= failOn
	}
	for len(pending) > 0 {
		// The first operation whose references are all settled.
		next := -1
		for i, p := range pending {
			settled := true // an operation refused already answers at its turn
			for _, ref := range p.refs {
				if _, ok := created[ref]; !ok && !failed[ref] && p.err == nil {
					settled = false
				}
			}
			if settled {
				next = i
				break
			}
		}
		if next < 0 {
			// Every remaining operation waits on another: circular.
			for _, p := range pending {
				e := newError(http.StatusConflict, "", "The operation's bulkId references (%s) are circular: no order of the operations can resolve them.", strings.Join(p.refs, ", "))
				if record(p, failedResult(p.op, e)) {
					return results
				}
			}
			return results
		}
		p := pending[next]
		pending = slices.Delete(pending, next, next+1)
		if p.err == nil {
			for _, ref := range p.refs {
				if failed[ref] {
					p.err = newError(http.StatusConflict, "", "The operation refers to bulkId %q, whose operation failed.", ref)
					break
				}
			}
		}
		if p.err != nil {
			if record(p, failedResult(p.op, p.err)) {
				return results
			}
			continue
		}
		if record(p, s.runOp(ctx, identity, p, created)) {
			return results
		}
	}
	return results
}

// planOp checks an operation and finds the bulkIds it refers to.
func planOp(n int, op bulkOperation, creators map[string]int) *plannedOp {
	p := &plannedOp{n: n, op: op}
	op.Method = strings.ToUpper(op.Method)
	p.op.Method = op.Method
	bad := func(scimType, format string, args ...any) *plannedOp {
		p.err = newError(http.StatusBadRequest, scimType, format, args...)
		return p
	}
	switch op.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return bad("invalidValue", "Operation %d: method must be POST, PUT, PATCH or DELETE, got %q.", n, op.Method)
	}
	m := bulkPath.FindStringSubmatch(op.Path)
	switch {
	case m == nil:
		return bad("invalidValue", "Operation %d: path must be /Users, /Groups, /Users/{id} or /Groups/{id}, got %q.", n, op.Path)
	case op.Method == http.MethodPost && m[2] != "":
		return bad("invalidValue", "Operation %d: POST goes to /Users or /Groups, not to %q.", n, op.Path)
	case op.Method != http.MethodPost && m[2] == "":
		return bad("invalidValue", "Operation %d: %s needs a resource: /Users/{id} or /Groups/{id}.", n, op.Method)
	case op.Method == http.MethodPost && op.BulkID == "":
		return bad("invalidValue", "Operation %d: a POST needs a bulkId (RFC 7644 section 3.7).", n)
	case op.Method == http.MethodPost && creators[op.BulkID] > 1:
		return bad("invalidValue", "Operation %d: bulkId %q is declared by %d operations.", n, op.BulkID, creators[op.BulkID])
	}
	if ref, ok := strings.CutPrefix(strings.TrimPrefix(m[2], "/"), bulkIDPrefix); ok {
		p.refs = append(p.refs, ref)
	}
	if len(bytes.TrimSpace(op.Data)) > 0 && !bytes.Equal(bytes.TrimSpace(op.Data), []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(op.Data))
		dec.UseNumber()
		if err := dec.Decode(&p.data); err != nil {
			return bad("invalidSyntax", "Operation %d: data is not JSON: %s.", n, jsonProblem(err))
		}
		walkStrings(p.data, func(s string) string {
			if ref, ok := strings.CutPrefix(s, bulkIDPrefix); ok && !slices.Contains(p.refs, ref) {
				p.refs = append(p.refs, ref)
			}
			return s
		})
	} else if op.Method != http.MethodDelete {
		return bad("invalidSyntax", "Operation %d: %s needs data.", n, op.Method)
	}
	for _, ref := range p.refs {
		if creators[ref] == 0 {
			return bad("invalidValue", "Operation %d refers to bulkId %q, which no POST of this request declares.", n, ref)
		}
		if ref == op.BulkID && op.Method == http.MethodPost {
			return bad("invalidValue", "Operation %d refers to its own bulkId %q.", n, ref)
		}
	}
	return p
}

// walkStrings replaces every string in a decoded JSON value by f's result.
func walkStrings(v any, f func(string) string) any {
	switch v := v.(type) {
	case string:
		return f(v)
	case map[string]any:
		for k, e := range v {
			v[k] = walkStrings(e, f)
		}
	case []any:
		for i, e := range v {
			v[i] = walkStrings(e, f)
		}
	}
	return v
}

// runOp runs one operation, its bulkId references replaced by the ids
// they stand for, and records what a POST created.
func (s *Server) runOp(ctx context.Context, identity *auth.Identity, p *plannedOp, created map[string]string) bulkResult {
	resolve := func(s string) string {
		if ref, ok := strings.CutPrefix(s, bulkIDPrefix); ok {
			if id, ok := created[ref]; ok {
				return id
			}
		}
		return s
	}
	path := p.op.Path
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		path = path[:i+1] + resolve(path[i+1:])
	}
	var body []byte
	if p.data != nil {
		body, _ = json.Marshal(walkStrings(p.data, resolve))
	}
	header := http.Header{}
	if p.op.Version != "" && p.op.Method != http.MethodPost {
		header.Set("If-Match", p.op.Version)
	}
	res := s.subrequest(ctx, identity, p.n, p.op.Method, path, header, body, subOptions{bodyless: true})
	r := bulkResult{Method: p.op.Method, BulkID: p.op.BulkID, Status: strconv.Itoa(res.status), Version: res.header.Get("ETag")}
	switch {
	case res.status >= 400:
		r.Response = res.body
		r.Version = ""
	case res.status == http.StatusCreated:
		r.Location = res.header.Get(echo.HeaderLocation)
		var doc struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(res.body, &doc) == nil && doc.ID != "" {
			created[p.op.BulkID] = doc.ID
		}
	default:
		r.Location = infoFrom(ctx).baseURL + path
	}
	return r
}

// failedResult is the result of an operation that did not run.
func failedResult(op bulkOperation, e *scimError) bulkResult {
	body, _ := e.MarshalJSON()
	return bulkResult{Method: strings.ToUpper(op.Method), BulkID: op.BulkID, Status: strconv.Itoa(e.Status), Response: body}
}
