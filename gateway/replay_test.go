package gateway

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// A replay is a client's request sequence, recorded in the shape the client
// sends it (testdata/replays/*.json): each response is checked, and the
// directory at the end.
type replay struct {
	Client string `json:"client"`
	Steps  []struct {
		Note    string            `json:"note"`
		Method  string            `json:"method"`
		Path    string            `json:"path"` // query values as written: the replayer escapes them
		Headers map[string]string `json:"headers"`
		Body    any               `json:"body"`
		Status  int               `json:"status"`
		Expect  any               `json:"expect"` // a subset of the response body
		Absent  []string          `json:"absent"` // top-level keys the response must not have
		Save    map[string]string `json:"save"`   // variable ← top-level key of the response
	} `json:"steps"`
	// Directory is what the directory holds at the end, per preset (the
	// attribute names and values differ).
	Directory map[string][]directoryCheck `json:"directory"`
}

// directoryCheck is the entries a filter finds at the end of a replay.
type directoryCheck struct {
	Base   string              `json:"base"` // people or groups
	Filter string              `json:"filter"`
	Count  int                 `json:"count"`
	Attrs  map[string][]string `json:"attrs"`
	Absent []string            `json:"absent"`
}

func TestClientReplays(t *testing.T) {
	files, _ := filepath.Glob("testdata/replays/*.json")
	if len(files) < 2 {
		t.Fatalf("replays: %v", files)
	}
	for _, d := range realDirectories() {
		for _, f := range files {
			t.Run(d.name+"/"+strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				var r replay
				if err := json.Unmarshal(b, &r); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				runReplay(t, d.start(t, true), r)
			})
		}
	}
}

func runReplay(t *testing.T, u *userEnv, r replay) {
	vars := map[string]string{"people": u.dir.PeopleDN}
	subst := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "{{"+k+"}}", v)
		}
		return s
	}
	for i, st := range r.Steps {
		name := fmt.Sprintf("step %d (%s %s)", i+1, st.Method, st.Note)
		body := ""
		if st.Body != nil {
			raw, _ := json.Marshal(st.Body)
			body = subst(string(raw))
		}
		var headers []string
		for k, v := range st.Headers {
			headers = append(headers, k, subst(v))
		}
		res := u.send(st.Method, escapeQuery(subst(st.Path)), body, headers...)
		if res.status != st.Status {
			t.Fatalf("%s: status %d, want %d: %.500s", name, res.status, st.Status, res.raw)
		}
		if st.Expect != nil {
			raw, _ := json.Marshal(st.Expect)
			var want any
			json.Unmarshal([]byte(subst(string(raw))), &want)
			if path, ok := subset(want, any(res.body)); !ok {
				t.Errorf("%s: the response differs at %s: %.800s", name, path, res.raw)
			}
		}
		for _, k := range st.Absent {
			if _, ok := res.body[k]; ok {
				t.Errorf("%s: the response has %s", name, k)
			}
		}
		for v, key := range st.Save {
			s, _ := res.body[key].(string)
			if s == "" {
				t.Fatalf("%s: no %s to save as %s", name, key, v)
			}
			vars[v] = s
		}
	}
	checks, ok := r.Directory[u.profile]
	if !ok {
		t.Fatalf("the replay says nothing of the directory at the end for preset %q", u.profile)
	}
	c, err := u.dir.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, d := range checks {
		base := u.dir.PeopleDN
		if d.Base == "groups" {
			base = u.dir.GroupsDN
		}
		res, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, 0, 0, 0, false, subst(d.Filter), []string{"*", "+"}, nil))
		if err != nil {
			t.Fatalf("directory %s: %v", d.Filter, err)
		}
		if len(res.Entries) != d.Count {
			t.Errorf("directory %s: %d entries, want %d", d.Filter, len(res.Entries), d.Count)
			continue
		}
		for _, e := range res.Entries {
			for a, want := range d.Attrs {
				for i := range want {
					want[i] = subst(want[i])
				}
				if got := e.GetAttributeValues(a); !slices.Equal(sorted(got...), sorted(want...)) {
					t.Errorf("directory %s: %s = %q, want %q", e.DN, a, got, want)
				}
			}
			for _, a := range d.Absent {
				if got := e.GetAttributeValues(a); len(got) > 0 {
					t.Errorf("directory %s: %s = %q, want none", e.DN, a, got)
				}
			}
		}
	}
}

// escapeQuery escapes query values as clients do (spaces as %20).
func escapeQuery(p string) string {
	path, query, ok := strings.Cut(p, "?")
	if !ok {
		return p
	}
	var parts []string
	for _, kv := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		parts = append(parts, k+"="+strings.ReplaceAll(url.QueryEscape(v), "+", "%20"))
	}
	return path + "?" + strings.Join(parts, "&")
}

// subset reports whether want is within got: objects key by key, arrays
// element by element in any order, numbers and strings equal. It returns
// where they differ.
func subset(want, got any) (string, bool) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return "(not an object)", false
		}
		for k, wv := range w {
			if p, ok := subset(wv, g[k]); !ok {
				return k + "." + p, false
			}
		}
		return "", true
	case []any:
		g, ok := got.([]any)
		if !ok || (len(w) == 0 && len(g) != 0) {
			return "(array)", false
		}
		for i, wv := range w {
			if !slices.ContainsFunc(g, func(gv any) bool { _, ok := subset(wv, gv); return ok }) {
				return fmt.Sprintf("[%d]", i), false
			}
		}
		return "", true
	}
	return "", fmt.Sprint(want) == fmt.Sprint(got)
}
