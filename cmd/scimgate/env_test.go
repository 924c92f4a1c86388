package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// `scimgate env` lists, for users and for groups, exactly the keys that
// mean something for that resource type: no password strategy for groups,
// no members for users.
func TestEnvListsOnlyKeysThatApply(t *testing.T) {
	var out bytes.Buffer
	printEnv(&out)
	got := map[string][]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		name, _, _ := strings.Cut(line, " ")
		for _, section := range []string{"USERS", "GROUPS"} {
			if strings.HasPrefix(name, "SCIMGATE_"+section+"_") {
				got[section] = append(got[section], strings.TrimPrefix(name, "SCIMGATE_"+section+"_"))
			}
		}
	}
	shared := []string{"BASE_DN", "MAX_NAME_LENGTH", "OBJECT_CLASSES", "AUXILIARY_CLASSES", "RDN",
		"ID_ATTRIBUTE", "ID_CODEC", "VERSION_ATTRIBUTE", "PATCH_RESPONSE"}
	want := map[string][]string{
		"USERS": append(slices.Clone(shared), "MEMBER_OF",
			"ACTIVE_STRATEGY", "ACTIVE_ATTRIBUTE", "ACTIVE_LOCK_VALUE", "ACTIVE_ALSO", "ACTIVE_INVERT", "ACTIVE_BIT", "ACTIVE_INITIAL",
			"PASSWORD_STRATEGY", "PASSWORD_ATTRIBUTE", "MANAGER_RESOLVE", "MANAGER_UNRESOLVED"),
		"GROUPS": append(slices.Clone(shared), "MEMBERS", "MEMBER_VALUE", "REMOVE_DELETED_MEMBERS", "MEMBER_PLACEHOLDER"),
	}
	for section, keys := range want {
		slices.Sort(keys)
		slices.Sort(got[section])
		if !slices.Equal(got[section], keys) {
			t.Errorf("SCIMGATE_%s_*: got %v\nwant %v", section, got[section], keys)
		}
	}
}
