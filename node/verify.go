package node

import (
	"context"
	"log/slog"
	"path/filepath"

	"concord/consensus"
	"concord/storage"
)

// Verified is what checking a member's signed history found
// (`concord verify`).
type Verified struct {
	// Checked counts the signed ops whose signature, hash and author
	// checked out.
	Checked int `json:"checked"`
	// Groups counts the signatures checked (an author signs a run of its
	// ops at once).
	Groups int `json:"groups"`
	// NotKept counts signed ops whose content the store does not keep:
	// refused, duplicates, messages edited or deleted since, edits
	// replaced by a later one (their hashes are still covered by the
	// signature).
	NotKept int `json:"not_kept"`
	// Messages counts the stored messages; Unsigned those committed before
	// the team signed its ops (team version 4), which no signature covers.
	Messages int `json:"messages"`
	Unsigned int `json:"unsigned_messages"`
	// Failed says what did not check out, one sentence each.
	Failed []string `json:"failed"`
}

// Verify checks this member's signed history.
func (n *Node) Verify(ctx context.Context) (Verified, error) {
	return verifyStore(ctx, n.conf.TeamID, n.store)
}

// VerifyData checks the signed history of the stopped member in dir.
func VerifyData(ctx context.Context, dir string, log *slog.Logger) (Verified, error) {
	conf, err := LoadConfig(dir)
	if err != nil {
		return Verified{}, err
	}
	st, err := storage.Open(storage.Config{Path: filepath.Join(dir, "state.db"), Logger: log})
	if err != nil {
		return Verified{}, err
	}
	defer st.Close()
	return verifyStore(ctx, conf.TeamID, st)
}

func verifyStore(ctx context.Context, team string, st *storage.Store) (Verified, error) {
	v := Verified{Failed: []string{}}
	err := st.WalkSigned(func(rec storage.SignedRecord) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		checked, failed := consensus.CheckSigned(team, rec)
		v.Groups++
		v.Checked += checked
		for _, op := range rec.Ops {
			if !op.Kept() {
				v.NotKept++
			}
		}
		v.Failed = append(v.Failed, failed...)
		return nil
	})
	if err != nil {
		return v, err
	}
	var signed int
	v.Messages, signed, err = st.SignedMessages()
	v.Unsigned = v.Messages - signed
	return v, err
}
