package ldapstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
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
