package bridge

import (
	"errors"
	"fmt"
)

// Kinds of migration refusals, so that callers (the sidecar's HTTP
// answers, the CLI's exit codes) can tell a bad request from a request
// the migration's current state does not allow, without matching
// messages. Test with errors.Is; the message is unchanged.
var (
	// ErrMigrationInvalid: the request itself cannot be migrated (no such
	// field, a dimension change without a model, a concrete index instead
	// of an alias, ...). Asking again will not help.
	ErrMigrationInvalid = errors.New("invalid migration request")
	// ErrMigrationConflict: the migration's phase (or the cluster's state,
	// e.g. the target index already exists) does not allow this step now.
	ErrMigrationConflict = errors.New("migration phase does not allow this")
	// ErrMigrationActive: another migration of the same alias is not
	// finished yet.
	ErrMigrationActive = errors.New("a migration of this alias is active")
	// ErrMigrationBusy: another process saved progress of this migration
	// within the lease: it is being run elsewhere.
	ErrMigrationBusy = errors.New("migration is being run by another process")
)

// migrationError keeps the original message and adds a kind for
// errors.Is.
type migrationError struct {
	kind error
	err  error
}

func (e *migrationError) Error() string   { return e.err.Error() }
func (e *migrationError) Unwrap() []error { return []error{e.kind, e.err} }

func refusef(kind error, format string, args ...any) error {
	return &migrationError{kind: kind, err: fmt.Errorf(format, args...)}
}
