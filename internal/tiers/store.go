package tiers

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
)

// Store holds the current tiers file for concurrent readers (the
// gateway's handlers, the router) while Follow replaces it. The zero
// value is an empty store, ready to use.
type Store struct {
	f atomic.Pointer[File]
}

// File returns the current file, nil when none was loaded.
func (s *Store) File() *File { return s.f.Load() }

// Set replaces the current file (nil empties the store).
func (s *Store) Set(f *File) { s.f.Store(f) }

// Lookup returns the current entry for a catalog model (see File.Lookup).
func (s *Store) Lookup(m *catalog.Model) (Entry, bool) { return s.f.Load().Lookup(m) }

// Follow keeps the store on the file at path until ctx is done: it loads
// it at once, then again whenever bench (or anyone) rewrites it (see
// Watch). A missing file leaves the store as it is and is logged once at
// info level (bench has not run yet); a file that cannot be read or
// parsed is logged as a warning and the previous tiers stay. It returns
// ctx.Err(). Run it in its own goroutine:
//
//	go store.Follow(ctx, path, 2*time.Second, log)
func (s *Store) Follow(ctx context.Context, path string, interval time.Duration, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	return Watch(ctx, path, interval, func(f *File, err error) {
		switch {
		case err == nil:
			s.Set(f)
			log.Info("speed tiers loaded", "file", path, "models", len(f.Tiers), "generated_at", f.GeneratedAt)
		case errors.Is(err, fs.ErrNotExist):
			log.Info("no speed tiers file yet: run bench to write it; the file is picked up when it appears", "file", path)
		default:
			log.Warn("cannot read the speed tiers file: keeping the previous tiers", "file", path, "err", err)
		}
	})
}
