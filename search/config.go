package search

import (
	"errors"
	"log/slog"
	"path/filepath"
)

// FileName is the index file's name inside the member's data directory.
const FileName = "search.db"

// DefaultReaders is how many searches may run at the same time.
const DefaultReaders = 4

// Config says where the index lives and how it runs.
type Config struct {
	// Dir is the member's data directory; the index is Dir/search.db.
	Dir string
	// Readers caps concurrent searches (connections); 0 means DefaultReaders.
	Readers int
	// Logger receives the index's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Validate reports a Config that cannot work.
func (c Config) Validate() error {
	if c.Dir == "" {
		return errors.New("search: config: Dir is empty")
	}
	if c.Readers < 0 {
		return errors.New("search: config: Readers is negative")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Readers == 0 {
		c.Readers = DefaultReaders
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Path is the index file's path for this Config.
func (c Config) Path() string { return filepath.Join(c.Dir, FileName) }
