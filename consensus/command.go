package consensus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"concord/storage"
)

// ErrBadCommand is returned for a log entry or frame that does not decode.
var ErrBadCommand = errors.New("consensus: malformed command")

// commandVersion is the first byte of every command Concord puts in the Raft
// log. A member refuses versions it does not know rather than guessing;
// docs/protocol.md describes each version.
const commandVersion byte = 1

// command is the body of one Raft log entry: a batch of operations (group
// commit) and the commit time the leader stamped on it.
type command struct {
	CommittedAt time.Time    `json:"t"`
	Ops         []storage.Op `json:"ops"`
}

func encodeCommand(c command) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(commandVersion)
	if err := json.NewEncoder(&buf).Encode(c); err != nil {
		return nil, fmt.Errorf("encode command: %w", err)
	}
	return buf.Bytes(), nil
}

func decodeCommand(b []byte) (command, error) {
	var c command
	if len(b) == 0 {
		return c, fmt.Errorf("%w: empty", ErrBadCommand)
	}
	if b[0] != commandVersion {
		return c, fmt.Errorf("%w: unknown version %d", ErrBadCommand, b[0])
	}
	dec := json.NewDecoder(bytes.NewReader(b[1:]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%w: %v", ErrBadCommand, err)
	}
	for i, op := range c.Ops {
		if err := checkOpShape(op); err != nil {
			return c, fmt.Errorf("%w: op %d: %v", ErrBadCommand, i, err)
		}
	}
	return c, nil
}

// checkOpShape verifies an op carries the payload its kind needs. The values
// themselves are checked by storage, deterministically, when applied.
func checkOpShape(op storage.Op) error {
	switch op.Kind {
	case storage.OpMessage:
		if op.Message == nil {
			return errors.New("message op without message")
		}
	case storage.OpCreateChannel:
		if op.Channel == "" {
			return errors.New("channel op without name")
		}
	case storage.OpAddMember:
		if op.Member == nil || op.Member.ID == "" {
			return errors.New("member op without member")
		}
	default:
		return fmt.Errorf("unknown op kind %d", op.Kind)
	}
	return nil
}
