package ldapstore

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The kinds of failure a caller can act on; match them with errors.Is. The
// wrapped error keeps the LDAP detail for the log, which a client must never
// see.
var (
	// ErrNotFound: no resource has that id.
	ErrNotFound = errors.New("no such resource")
	// ErrExists: an entry with that name already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalid: the directory refused the values (schema or constraint).
	ErrInvalid = errors.New("invalid value")
	// ErrUnavailable: the directory could not be reached or did not answer
	// in time, or the request's context ended; a retry may succeed.
	ErrUnavailable = errors.New("directory unavailable")
	// ErrBindRefused: the directory refused the configured bind DN and
	// password; no retry will help until the configuration changes.
	ErrBindRefused = errors.New("bind refused")
	// ErrPrecondition: the resource is not at the version an If-Match
	// header asked for.
	ErrPrecondition = errors.New("version mismatch")
	// ErrContention: other writes of the same entry kept changing it
	// while a write was recomputed and retried, until its time ran out; a
	// later retry may succeed. See ContentionError.
	ErrContention = errors.New("write contention")

	// errChanged: the entry changed between reading and writing it.
	errChanged = errors.New("entry changed since read")
)

// ExistsError is an ErrExists naming the attribute whose value is taken.
type ExistsError struct{ Attr string }

func (e *ExistsError) Error() string        { return e.Attr + " is already taken" }
func (e *ExistsError) Is(target error) bool { return target == ErrExists }

// ContentionError is an ErrContention: how many times the write was
// computed, and how long it tried, before giving up.
type ContentionError struct {
	Kind     string // User or Group
	Attempts int
	Waited   time.Duration
}

func (e *ContentionError) Error() string {
	return fmt.Sprintf("update %s: write contention: the entry changed under each of %d attempts in %s",
		e.Kind, e.Attempts, e.Waited.Round(time.Millisecond))
}
func (e *ContentionError) Is(target error) bool { return target == ErrContention }

// InvalidError is an ErrInvalid with a message fit for a client.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string        { return e.Msg }
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}

// classify wraps an LDAP error with the kind it belongs to, prefixed by op.
// Errors already classified (by Conn.do) keep their kind.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var kind error
	switch {
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrInvalid), errors.Is(err, ErrNotFound), errors.Is(err, ErrExists),
		errors.Is(err, ErrPrecondition), errors.Is(err, ErrContention), errors.Is(err, errChanged):
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		kind = ErrNotFound
	case ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists):
		kind = ErrExists
	case ldap.IsErrorAnyOf(err, ldap.LDAPResultObjectClassViolation, ldap.LDAPResultConstraintViolation,
		ldap.LDAPResultInvalidAttributeSyntax, ldap.LDAPResultUndefinedAttributeType,
		ldap.LDAPResultNamingViolation, ldap.LDAPResultInvalidDNSyntax, ldap.LDAPResultAttributeOrValueExists,
		ldap.LDAPResultNotAllowedOnRDN, ldap.LDAPResultObjectClassModsProhibited):
		kind = ErrInvalid
	case ldap.IsErrorAnyOf(err, ldap.LDAPResultBusy, ldap.LDAPResultUnavailable,
		ldap.LDAPResultTimeLimitExceeded, ldap.LDAPResultAdminLimitExceeded, ldap.LDAPResultServerDown,
		ldap.ErrorNetwork, ldap.LDAPResultTimeout, ldap.LDAPResultConnectError):
		kind = ErrUnavailable
	}
	if kind == nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %w: %w", op, kind, err)
}

// Reason is a short text for an operator saying why an LDAP call failed:
// the result code's name and number with the server's diagnostic, or the
// innermost network error ("connection refused"), without the chain of
// wrappers around it.
func Reason(err error) string {
	var le *ldap.Error
	if errors.As(err, &le) && le.ResultCode != ldap.ErrorNetwork {
		s := fmt.Sprintf("%s (LDAP result %d)", strings.ToLower(ldap.LDAPResultCodeMap[le.ResultCode]), le.ResultCode)
		if le.Err != nil && le.Err.Error() != "" {
			s += ": " + le.Err.Error()
		}
		return s
	}
	for {
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			if inner := u.Unwrap(); inner != nil {
				err = inner
				continue
			}
		case interface{ Unwrap() []error }:
			if list := u.Unwrap(); len(list) > 0 {
				err = list[len(list)-1]
				continue
			}
		}
		return err.Error()
	}
}

// FrozenError: a write would change an attribute the caller froze
// (Precondition.Frozen); nothing was written.
type FrozenError struct{ Attr string }

func (e *FrozenError) Error() string { return e.Attr + " may not change in this request" }

// TooManyError: a query matches more resources than the gateway orders
// (search.max_candidates), or than the directory lets the gateway's
// account read in one search (Directory: its size limit, which the
// operator should lift for that account).
type TooManyError struct {
	Limit     int
	Directory bool
}

func (e *TooManyError) Error() string {
	if e.Directory {
		return fmt.Sprintf("the directory stopped the search after %d entries: its size limit for the bind DN is too low "+
			"(OpenLDAP: limits dn.exact=\"<bind DN>\" size=unlimited; see deploy/ldap/README.md)", e.Limit)
	}
	return fmt.Sprintf("the query matches more than %d resources, the most this gateway orders (search.max_candidates)", e.Limit)
}
