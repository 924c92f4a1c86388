package ldapstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/schema"
)

// classify sorts LDAP results into the kinds the gateway answers; the
// errors are made by hand, as a real server cannot be made to give each.
func TestClassify(t *testing.T) {
	tests := []struct {
		code uint16
		want error
	}{
		{ldap.LDAPResultNoSuchObject, ErrNotFound},
		{ldap.LDAPResultEntryAlreadyExists, ErrExists},
		{ldap.LDAPResultObjectClassViolation, ErrInvalid},
		{ldap.LDAPResultConstraintViolation, ErrInvalid},
		{ldap.LDAPResultInvalidAttributeSyntax, ErrInvalid},
		{ldap.LDAPResultNotAllowedOnRDN, ErrInvalid},
		{ldap.LDAPResultBusy, ErrUnavailable},
		{ldap.LDAPResultUnavailable, ErrUnavailable},
		{ldap.LDAPResultTimeLimitExceeded, ErrUnavailable},
		{ldap.ErrorNetwork, ErrUnavailable},
		{ldap.LDAPResultInsufficientAccessRights, nil},
		{ldap.LDAPResultOther, nil},
	}
	kinds := []error{ErrNotFound, ErrExists, ErrInvalid, ErrUnavailable}
	for _, tt := range tests {
		err := classify("op", ldap.NewError(tt.code, errors.New("server text")))
		for _, k := range kinds {
			if got := errors.Is(err, k); got != (k == tt.want) {
				t.Errorf("code %d: errors.Is(%v) = %v", tt.code, k, got)
			}
		}
		if !ldap.IsErrorWithCode(err, tt.code) {
			t.Errorf("code %d: the LDAP error is not kept for the log: %v", tt.code, err)
		}
	}
	if err := classify("op", fmt.Errorf("x: %w", ErrPrecondition)); !errors.Is(err, ErrPrecondition) {
		t.Errorf("a classified error lost its kind: %v", err)
	}
	if got := Reason(ldap.NewError(ldap.LDAPResultInvalidCredentials, errors.New(""))); got != "invalid credentials (LDAP result 49)" {
		t.Errorf("Reason = %q", got)
	}
}

// A write whose entry changes under every attempt is retried with backoff
// until the deadline leaves no room for another attempt, then given up as
// contention, before the deadline. The attempt is a stand-in: a real
// directory cannot be made to change an entry under every attempt on cue
// (TestContendedPatchesAllSucceed in package gateway is the real case).
func TestRetryGivesUpWithContention(t *testing.T) {
	r := &Resources{kind: "User"}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	attempts := 0
	changed := func() (string, error) { attempts++; return "", errChanged }
	_, err := r.retry(ctx, Precondition{}, changed)
	var ce *ContentionError
	if !errors.As(err, &ce) || !errors.Is(err, ErrContention) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want a ContentionError", err)
	}
	if ce.Attempts != attempts || attempts < 5 || ce.Kind != "User" {
		t.Errorf("%+v after %d attempts", ce, attempts)
	}
	if ctx.Err() != nil {
		t.Errorf("gave up after the deadline (%s), not before", ce.Waited)
	}
	// Under If-Match a change is a failed precondition, at once.
	attempts = 0
	if _, err := r.retry(ctx, Precondition{Any: true}, changed); !errors.Is(err, ErrPrecondition) || attempts != 1 {
		t.Errorf("If-Match: %v after %d attempts", err, attempts)
	}
	for n := 1; n < 100; n++ {
		if d := backoff(n); d < 0 || d >= retryMaxDelay || (n < 4 && d >= retryBaseDelay<<n) {
			t.Errorf("backoff(%d) = %s", n, d)
		}
	}
}

// refused blames a value for result 80 (other) only where the rule in its
// comment says; the errors are made by hand, as TestLongNames and
// TestFullDirectoryIsNotBlamedOnValues in package gateway show the real
// ones. A refusal whose diagnostic names an attribute names its SCIM one.
func TestRefusedBlamesValuesOnlyWhenTheyAreTheCause(t *testing.T) {
	profile, err := schema.Preset("openldap")
	if err != nil {
		t.Fatal(err)
	}
	r := &Resources{kind: "User", m: profile.Users}
	long := strings.Repeat("日", 70) // 210 bytes
	tests := []struct {
		name, diagnostic, value string
		code                    uint16
		invalid                 string // the message of the InvalidError, "" for none
	}{
		{"a long name, no diagnostic", "", long, ldap.LDAPResultOther, "The directory refused userName: at 210 bytes it is too long for the directory to store."},
		{"a long name, DN index", "DN index add failed", long, ldap.LDAPResultOther, "The directory refused userName: at 210 bytes it is too long for the directory to store."},
		{"a long name, a full database", "txn_commit failed", long, ldap.LDAPResultOther, ""},
		{"a short name", "", "ada", ldap.LDAPResultOther, ""},
		{"a modify", "", "", ldap.LDAPResultOther, ""},
		{"a syntax error", "userCertificate;binary: value #0 invalid per syntax", "", ldap.LDAPResultInvalidAttributeSyntax, "The directory refused the value of x509Certificates.value."},
		{"an attribute missing", "object class 'inetOrgPerson' requires attribute 'sn'", "", ldap.LDAPResultObjectClassViolation, "The directory refused the value of name.familyName."},
		{"nothing named", "no", "", ldap.LDAPResultConstraintViolation, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.refused("create User", ldap.NewError(tt.code, errors.New(tt.diagnostic)), tt.value)
			var ie *InvalidError
			switch {
			case tt.invalid == "" && errors.As(err, &ie):
				t.Errorf("blamed on a value: %v", err)
			case tt.invalid != "" && (!errors.As(err, &ie) || ie.Msg != tt.invalid):
				t.Errorf("err = %v, want the message %q", err, tt.invalid)
			case tt.code == ldap.LDAPResultOther && tt.invalid == "" && errors.Is(err, ErrInvalid):
				t.Errorf("a server failure classified invalid: %v", err)
			}
			if !ldap.IsErrorWithCode(err, tt.code) {
				t.Errorf("the LDAP error is not kept for the log: %v", err)
			}
		})
	}
}
