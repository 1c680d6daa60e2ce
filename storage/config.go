package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// DefaultLockTimeout is how long Open waits for the file lock before
// reporting ErrLocked. It is short because the usual holder is another
// long-running concord process, which will not let go.
const DefaultLockTimeout = time.Second

// Config says where the store lives and how it reports.
type Config struct {
	// Path is the bbolt data file; it is created if missing. A sibling
	// Path+".restore" is used while restoring a snapshot.
	Path string
	// Logger receives operational logs; nil means slog.Default().
	Logger *slog.Logger
	// LockTimeout bounds the wait for the file lock; 0 means
	// DefaultLockTimeout.
	LockTimeout time.Duration
	// CheckOnOpen makes Open check the whole file (Store.Check) however
	// big it is; without it only a file up to 64 MiB is checked at open.
	CheckOnOpen bool
	// CheckOnOpenMax is the largest file Open checks in full when
	// CheckOnOpen is not set: 0 means DefaultCheckOnOpenMax, a negative
	// value none (tests that must see the damage caught on read).
	CheckOnOpenMax int64
}

func (c Config) checkOnOpenMax() int64 {
	if c.CheckOnOpenMax == 0 {
		return DefaultCheckOnOpenMax
	}
	return c.CheckOnOpenMax
}

// Validate reports whether the config can be used by Open.
func (c Config) Validate() error {
	if c.Path == "" {
		return errors.New("storage: config: empty Path")
	}
	if c.LockTimeout < 0 {
		return fmt.Errorf("storage: config: negative LockTimeout %s", c.LockTimeout)
	}
	return nil
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.Default()
	}
	return c.Logger
}

func (c Config) lockTimeout() time.Duration {
	if c.LockTimeout == 0 {
		return DefaultLockTimeout
	}
	return c.LockTimeout
}

func (c Config) restorePath() string { return c.Path + ".restore" }
