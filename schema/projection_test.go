package schema

import (
	"encoding/json"
	"testing"
)

func TestProjection(t *testing.T) {
	const core = "urn:ietf:params:scim:schemas:core:2.0:User"
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	doc := func() map[string]any {
		var d map[string]any
		json.Unmarshal([]byte(`{"id":"1","schemas":["`+core+`"],"userName":"a","name":{"givenName":"A","familyName":"B"},
			"emails":[{"value":"a@x","type":"work","primary":true},{"value":"b@x","type":"home"}],
			"meta":{"resourceType":"User","location":"l"},"groups":[{"value":"g"}],
			"`+ent+`":{"employeeNumber":"7","department":"D"}}`), &d)
		return d
	}
	tests := []struct {
		attributes, excluded []string
		want                 string
	}{
		{nil, nil, `{"emails":[{"primary":true,"type":"work","value":"a@x"},{"type":"home","value":"b@x"}],"groups":[{"value":"g"}],"id":"1","meta":{"location":"l","resourceType":"User"},"name":{"familyName":"B","givenName":"A"},"schemas":["` + core + `"],"userName":"a","` + ent + `":{"department":"D","employeeNumber":"7"}}`},
		{[]string{"userName"}, nil, `{"id":"1","schemas":["` + core + `"],"userName":"a"}`},
		{[]string{"USERNAME,name.givenName"}, nil, `{"id":"1","name":{"givenName":"A"},"schemas":["` + core + `"],"userName":"a"}`},
		{[]string{"emails.value"}, nil, `{"emails":[{"value":"a@x"},{"value":"b@x"}],"id":"1","schemas":["` + core + `"]}`},
		{[]string{core + ":userName", ent + ":department"}, nil, `{"id":"1","schemas":["` + core + `"],"userName":"a","` + ent + `":{"department":"D"}}`},
		{[]string{ent}, nil, `{"id":"1","schemas":["` + core + `"],"` + ent + `":{"department":"D","employeeNumber":"7"}}`},
		{[]string{"meta.resourceType"}, nil, `{"id":"1","meta":{"resourceType":"User"},"schemas":["` + core + `"]}`},
		{[]string{"id"}, nil, `{"id":"1","schemas":["` + core + `"]}`},
		{nil, []string{"emails", "meta", "groups", ent}, `{"id":"1","name":{"familyName":"B","givenName":"A"},"schemas":["` + core + `"],"userName":"a"}`},
		{nil, []string{"id", "schemas", "name.familyName", ent + ":department"}, `{"emails":[{"primary":true,"type":"work","value":"a@x"},{"type":"home","value":"b@x"}],"groups":[{"value":"g"}],"id":"1","meta":{"location":"l","resourceType":"User"},"name":{"givenName":"A"},"schemas":["` + core + `"],"userName":"a","` + ent + `":{"employeeNumber":"7"}}`},
		{[]string{"nickName"}, nil, `{"id":"1","schemas":["` + core + `"]}`},
	}
	for _, tt := range tests {
		p, err := ParseProjection(tt.attributes, tt.excluded)
		if err != nil {
			t.Fatal(err)
		}
		d := doc()
		p.Apply(core, d)
		got, _ := json.Marshal(d)
		var w any
		json.Unmarshal([]byte(tt.want), &w)
		if want, _ := json.Marshal(w); string(got) != string(want) {
			t.Errorf("attributes=%q excludedAttributes=%q:\n got  %s\n want %s", tt.attributes, tt.excluded, got, tt.want)
		}
	}
	if _, err := ParseProjection([]string{"a"}, []string{"b"}); err == nil {
		t.Error("attributes with excludedAttributes: no error")
	}
	if _, err := ParseProjection([]string{`emails[type eq "work"]`}, nil); err == nil {
		t.Error("a filter in attributes: no error")
	}
}
