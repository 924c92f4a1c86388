package gateway

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
)

// getGroup answers GET /Groups/{id} itself, rather than through the SCIM
// library, so that the members of a large group are written as they are
// read, a batch at a time: memory holds the member DNs and one batch of
// members, not the whole list resolved and encoded.
func (s *Server) getGroup(c echo.Context) error {
	req := c.Request()
	p, err := schema.ParseProjection(req.URL.Query()["attributes"], req.URL.Query()["excludedAttributes"])
	if err != nil {
		return newError(http.StatusBadRequest, "invalidValue", "%v.", err)
	}
	if groupOverheadBypass(req) {
		p = p.Never("members.display")
	}
	return s.writeGroup(c, c.Param("id"), p, preconditionOf(req.Header.Get("If-None-Match")))
}

// writeGroup answers with the group id as projected by p (a GET, or a
// PATCH answered with the group), its members written as they are read;
// with 304 when the group's version is one of inm (If-None-Match).
func (s *Server) writeGroup(c echo.Context, id string, p schema.Projection, inm ldapstore.Precondition) error {
	req := c.Request()
	ctx := req.Context()
	rs, err := s.store.Groups(ctx)
	if err != nil {
		return storeError(ctx, err)
	}
	res, members, err := rs.GetStreamed(ctx, id, p)
	if err != nil {
		return storeError(ctx, err)
	}
	h := c.Response().Header()
	if res.Version != "" {
		tag := etag(res.Version)
		if inm.Set() && inm.Holds(res.Version) {
			h.Set("ETag", tag)
			return c.NoContent(http.StatusNotModified)
		}
		h.Set("ETag", tag)
	}
	doc := render(req, "Group", rs.Schemas(), res, p)
	if members == nil {
		return s.scimJSON(c, doc)
	}
	base := infoFrom(ctx).baseURL
	core := rs.Schemas().Core.ID
	next := func() ([]any, error) {
		batch, err := members.Next(ctx)
		if err != nil || batch == nil {
			return nil, err
		}
		list := make([]any, len(batch))
		for i, m := range batch {
			el := m.Element()
			el["$ref"] = base + "/" + m.Type + "s/" + m.ID
			list[i] = el
		}
		p.Apply(core, map[string]any{"members": list})
		return list, nil
	}
	return writeStreamed(c, doc, "members", next)
}

// writeStreamed answers 200 with doc as JSON, keys sorted, with the
// elements that next yields, a batch at a time, as the array at key name.
// Once the first byte is out an error cannot become a SCIM error: the
// response is then cut short (the connection aborted) rather than left
// looking whole.
func writeStreamed(c echo.Context, doc map[string]any, name string, next func() ([]any, error)) error {
	keys := appendSortedKeys(nil, doc)
	at, _ := slices.BinarySearch(keys, name)
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, contentTypeSCIM)
	w.WriteHeader(http.StatusOK)
	buf, err := appendFields(append(make([]byte, 0, 64<<10), '{'), doc, keys[:at])
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if at > 0 {
		buf = append(buf, ',')
	}
	buf = append(appendString(buf, name), ':', '[')
	first := true
	for {
		batch, err := next()
		if err != nil {
			logFor(c.Request().Context()).Error("members cut short", zap.Error(err))
			panic(http.ErrAbortHandler)
		}
		if batch == nil {
			break
		}
		for _, el := range batch {
			if !first {
				buf = append(buf, ',')
			}
			first = false
			if buf, err = appendJSON(buf, el); err != nil {
				panic(http.ErrAbortHandler)
			}
		}
		if _, err := w.Write(buf); err != nil {
			return nil // the client went away
		}
		w.Flush()
		buf = buf[:0]
	}
	buf = append(buf, ']')
	if at < len(keys) {
		buf = append(buf, ',')
	}
	if buf, err = appendFields(buf, doc, keys[at:]); err != nil {
		panic(http.ErrAbortHandler)
	}
	_, err = w.Write(append(buf, '}'))
	return err
}
