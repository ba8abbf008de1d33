package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/knnbridge/knnbridge/migrate"
)

// DefaultStateIndex holds migration states, one document per alias.
const DefaultStateIndex = "knnbridge-migrations"

// ErrNoMigration is returned when no state exists for an alias.
var ErrNoMigration = errors.New("no migration recorded for this alias")

// ErrStateConflict means the state document changed under us: another
// knnbridge process is driving the same migration.
var ErrStateConflict = errors.New("migration state was changed by another process")

// stateStore keeps migration states in a small hidden index (see the
// migrate package documentation for why the cluster and not a file). Saves
// are conditional on the document's _seq_no/_primary_term, which makes the
// state document a lease: of two runners, only one can keep saving.
type stateStore struct {
	c     *Client
	index string
	// seq/term of the last version read or written, per migration id.
	seq, term map[string]int64
}

func newStateStore(c *Client, index string) *stateStore {
	if index == "" {
		index = DefaultStateIndex
	}
	return &stateStore{c: c, index: index, seq: map[string]int64{}, term: map[string]int64{}}
}

func (s *stateStore) ensure(ctx context.Context) error {
	body := `{"settings":{"index.hidden":true,"number_of_shards":1,"auto_expand_replicas":"0-1"},` +
		`"mappings":{"dynamic":false,"properties":{"id":{"type":"keyword"},"phase":{"type":"keyword"},"updated_at":{"type":"date"}}}}`
	_, err := s.c.Do(ctx, http.MethodPut, "/"+url.PathEscape(s.index), body)
	var e *Error
	if err != nil && errors.As(err, &e) && e.Type == "resource_already_exists_exception" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating migration state index %s: %w", s.index, err)
	}
	return nil
}

// load reads the state of migration id (realtime GET: no refresh needed).
func (s *stateStore) load(ctx context.Context, id string) (*migrate.State, error) {
	var doc struct {
		Found  bool            `json:"found"`
		Seq    int64           `json:"_seq_no"`
		Term   int64           `json:"_primary_term"`
		Source json.RawMessage `json:"_source"`
	}
	err := s.c.DoJSON(ctx, http.MethodGet, "/"+url.PathEscape(s.index)+"/_doc/"+url.PathEscape(id), nil, &doc)
	if IsNotFound(err) {
		return nil, fmt.Errorf("migration %s: %w", id, ErrNoMigration)
	}
	if err != nil {
		return nil, fmt.Errorf("reading migration state %s: %w", id, err)
	}
	var st migrate.State
	if err := json.Unmarshal(doc.Source, &st); err != nil {
		return nil, fmt.Errorf("migration state %s: %w", id, err)
	}
	s.seq[id], s.term[id] = doc.Seq, doc.Term
	return &st, nil
}

// save writes st, conditionally on the version last seen (create-only when
// none was seen).
func (s *stateStore) save(ctx context.Context, st *migrate.State) error {
	path := "/" + url.PathEscape(s.index) + "/_doc/" + url.PathEscape(st.ID)
	if seq, ok := s.seq[st.ID]; ok {
		path += fmt.Sprintf("?if_seq_no=%d&if_primary_term=%d", seq, s.term[st.ID])
	} else {
		path += "?op_type=create"
	}
	var out struct {
		Seq  int64 `json:"_seq_no"`
		Term int64 `json:"_primary_term"`
	}
	err := s.c.DoJSON(ctx, http.MethodPut, path, st, &out)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusConflict {
		return fmt.Errorf("saving migration %s: %w (%s)", st.ID, ErrStateConflict, e.Reason)
	}
	if err != nil {
		return fmt.Errorf("saving migration state %s: %w", st.ID, err)
	}
	s.seq[st.ID], s.term[st.ID] = out.Seq, out.Term
	return nil
}

// replace overwrites a finished migration's state with a new one.
func (s *stateStore) replace(ctx context.Context, st *migrate.State) error {
	if _, err := s.load(ctx, st.ID); err != nil && !errors.Is(err, ErrNoMigration) {
		return err
	}
	return s.save(ctx, st)
}
