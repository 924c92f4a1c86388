package ldapstore

import (
	"errors"
	"fmt"
	"testing"

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
