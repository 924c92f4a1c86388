package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
)

// Lists and searches: GET /Users, GET /Groups and POST .../.search, served
// here rather than by the SCIM library, which has no sorting, projection,
// cursors or .search. The query becomes an ldapstore.Query; ldapstore
// turns it into LDAP searches (filter.go, search.go there).

const searchRequestURN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

// listQuery is a query as the parameters of a GET or the body of a POST
// .search give it (RFC 7644 sections 3.4.2 and 3.4.3, RFC 9865).
type listQuery struct {
	Schemas            []string     `json:"schemas"`
	Attributes         stringList   `json:"attributes"`
	ExcludedAttributes stringList   `json:"excludedAttributes"`
	Filter             string       `json:"filter"`
	SortBy             string       `json:"sortBy"`
	SortOrder          string       `json:"sortOrder"`
	StartIndex         *json.Number `json:"startIndex"`
	Count              *json.Number `json:"count"`
	Cursor             *string      `json:"cursor"`
}

// stringList is a multi-valued string that a client may also send as one
// comma-separated string.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("want an array of attribute names")
	}
	*l = many
	return nil
}

// list answers GET /Users or /Groups.
func (s *Server) list(kind string) echo.HandlerFunc {
	return func(c echo.Context) error {
		v := c.QueryParams()
		q := listQuery{Filter: v.Get("filter"), SortBy: v.Get("sortBy"), SortOrder: v.Get("sortOrder")}
		for _, p := range []struct {
			name string
			dst  **json.Number
		}{{"startIndex", &q.StartIndex}, {"count", &q.Count}} {
			if v.Has(p.name) {
				n := json.Number(strings.TrimSpace(v.Get(p.name)))
				*p.dst = &n
			}
		}
		if v.Has("attributes") {
			q.Attributes = v["attributes"]
		}
		if v.Has("excludedAttributes") {
			q.ExcludedAttributes = v["excludedAttributes"]
		}
		if v.Has("cursor") {
			cursor := v.Get("cursor")
			q.Cursor = &cursor
		}
		return s.query(c, kind, q)
	}
}

// search answers POST /Users/.search or /Groups/.search.
func (s *Server) search(kind string) echo.HandlerFunc {
	return func(c echo.Context) error {
		q, err := searchRequest(c)
		if err != nil {
			return err
		}
		return s.query(c, kind, q)
	}
}

// searchRequest reads the SearchRequest body of a POST .search.
func searchRequest(c echo.Context) (listQuery, error) {
	var q listQuery
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return q, err
	}
	if err := checkUTF8(body); err != nil {
		return q, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&q); err != nil {
		return q, newError(http.StatusBadRequest, "invalidSyntax", "The body is not a SearchRequest: %s.", jsonProblem(err))
	}
	if !slices.ContainsFunc(q.Schemas, func(s string) bool { return strings.EqualFold(s, searchRequestURN) }) {
		return q, newError(http.StatusBadRequest, "invalidSyntax", "A search body must have \"schemas\": [%q].", searchRequestURN)
	}
	return q, nil
}

// jsonProblem says what is wrong with a JSON body without echoing it.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("%s must be a %s", te.Field, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	return "it does not decode"
}

// query runs a list or search and writes the ListResponse.
func (s *Server) query(c echo.Context, kind string, lq listQuery) error {
	ctx := c.Request().Context()
	rs, err := s.store.Users(ctx)
	if kind == "Group" {
		rs, err = s.store.Groups(ctx)
	}
	if err != nil {
		return err
	}
	q, err := s.storeQuery(kind, lq)
	if err != nil {
		return err
	}
	if groupOverheadBypass(c.Request()) {
		q.Projection = q.Projection.Never("members.display")
	}
	page, err := rs.List(ctx, q)
	if err != nil {
		return storeError(ctx, err)
	}
	sch := rs.Schemas()
	out := map[string]any{
		"schemas":      []string{listResponseURN},
		"totalResults": page.Total,
		"itemsPerPage": len(page.Resources),
	}
	if q.Cursor {
		fp := fingerprint(kind, lq.Filter, lq.SortBy, q.Descending)
		if page.Next != nil {
			out["nextCursor"] = s.cursors.encode(fp, page.Next)
		}
		if page.Previous != nil {
			out["previousCursor"] = s.cursors.encode(fp, page.Previous)
		}
	} else {
		out["startIndex"] = q.StartIndex
	}
	resources := make([]any, len(page.Resources))
	for i, res := range page.Resources {
		resources[i] = render(c.Request(), kind, sch, res, q.Projection)
	}
	out["Resources"] = resources
	return s.scimJSON(c, out)
}

// storeQuery checks a query's parameters and converts them.
func (s *Server) storeQuery(kind string, lq listQuery) (ldapstore.Query, error) {
	q := ldapstore.Query{StartIndex: 1, Count: s.cfg.MaxResults, SortBy: strings.TrimSpace(lq.SortBy)}
	integer := func(name string, n *json.Number, scimType string) (int, bool, error) {
		if n == nil {
			return 0, false, nil
		}
		i, err := strconv.ParseInt(string(*n), 10, 32)
		if err != nil {
			if f, ferr := n.Float64(); ferr == nil && f == float64(int64(f)) {
				return int(f), true, nil
			}
			return 0, false, newError(http.StatusBadRequest, scimType, "%s must be an integer, got %q.", name, string(*n))
		}
		return int(i), true, nil
	}
	q.Cursor = lq.Cursor != nil
	countType := "invalidValue"
	if q.Cursor {
		countType = "invalidCount"
	}
	if start, ok, err := integer("startIndex", lq.StartIndex, "invalidValue"); err != nil {
		return q, err
	} else if ok {
		if q.Cursor {
			return q, newError(http.StatusBadRequest, "invalidValue", "Give startIndex (index paging) or cursor (cursor paging), not both.")
		}
		q.StartIndex = max(start, 1) // RFC 7644 section 3.4.2.4: less than 1 is 1
	}
	if count, ok, err := integer("count", lq.Count, countType); err != nil {
		return q, err
	} else if ok {
		q.Count = min(max(count, 0), s.cfg.MaxResults) // negative is 0; more than the maximum is the maximum
	}
	switch strings.ToLower(strings.TrimSpace(lq.SortOrder)) {
	case "", "ascending":
	case "descending":
		q.Descending = true
	default:
		return q, newError(http.StatusBadRequest, "invalidValue", "sortOrder must be ascending or descending, got %q.", lq.SortOrder)
	}
	if n := len([]rune(lq.Filter)); n > s.cfg.MaxFilterLength {
		return q, newError(http.StatusBadRequest, "invalidFilter", "The filter is %d characters long; at most %d are accepted (server.max_filter_length).", n, s.cfg.MaxFilterLength)
	}
	if f := strings.TrimSpace(lq.Filter); f != "" {
		expr, err := schema.ParseFilter(f)
		if err != nil {
			return q, newError(http.StatusBadRequest, "invalidFilter", "The filter %q does not parse: %v.", f, err)
		}
		q.Filter = expr
	}
	p, err := schema.ParseProjection(lq.Attributes, lq.ExcludedAttributes)
	if err != nil {
		return q, newError(http.StatusBadRequest, "invalidValue", "%v.", err)
	}
	q.Projection = p
	if q.Cursor && *lq.Cursor != "" {
		pos, err := s.cursors.decode(fingerprint(kind, lq.Filter, lq.SortBy, q.Descending), *lq.Cursor)
		if err != nil {
			return q, err
		}
		q.After = pos
	}
	return q, nil
}

// render is a stored resource as a response shows it: id, externalId,
// schemas, meta and the attributes, references with their $ref, with what
// the projection leaves out removed. Lists and single resources (scim.go,
// stream.go) are rendered alike.
func render(r *http.Request, kind string, sch schema.Schemas, res ldapstore.Resource, p schema.Projection) map[string]any {
	base := infoFrom(r.Context()).baseURL
	doc := res.Attributes
	if doc == nil {
		doc = map[string]any{}
	}
	addRefs(doc, base, res.Kept)
	doc["id"] = res.ID
	meta := map[string]any{
		"resourceType": kind,
		"location":     location(base, kind, res.ID),
	}
	if !res.Created.IsZero() {
		meta["created"] = res.Created.Format(time.RFC3339)
	}
	if !res.LastModified.IsZero() {
		meta["lastModified"] = res.LastModified.Format(time.RFC3339)
	}
	if res.Version != "" {
		meta["version"] = etag(res.Version)
	}
	doc["meta"] = meta
	p.Apply(sch.Core.ID, doc)
	doc["schemas"] = presentSchemas(sch, doc)
	return doc
}

// location is the URL of the resource of the given kind and id.
func location(base, kind, id string) string {
	return base + "/" + kind + "s/" + url.PathEscape(id)
}

// addRefs gives the references of a resource's attributes their $ref:
// members, groups and, unless the manager was kept as sent (kept), the
// enterprise manager.
func addRefs(doc map[string]any, base string, kept bool) {
	ref := func(el map[string]any, endpoint string) {
		if id, ok := el["value"].(string); ok {
			el["$ref"] = base + endpoint + id
		}
	}
	if members, ok := doc["members"].([]any); ok {
		for _, m := range members {
			if el, ok := m.(map[string]any); ok {
				t, _ := el["type"].(string)
				ref(el, "/"+t+"s/")
			}
		}
	}
	if groups, ok := doc["groups"].([]any); ok {
		for _, g := range groups {
			if el, ok := g.(map[string]any); ok {
				ref(el, "/Groups/")
			}
		}
	}
	if ent, ok := doc[schema.EnterpriseUserURN].(map[string]any); ok && !kept {
		if mgr, ok := ent["manager"].(map[string]any); ok {
			ref(mgr, "/Users/")
		}
	}
}
