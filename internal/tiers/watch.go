package tiers

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"time"
)

// stamp is what Watch compares to notice a change.
type stamp struct {
	exists  bool
	modTime time.Time
	size    int64
	ino     uint64
}

func statStamp(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return stamp{}, nil
		}
		return stamp{}, err
	}
	return stamp{exists: true, modTime: fi.ModTime(), size: fi.Size(), ino: inode(fi)}, nil
}

// Watch polls path every interval (no file-system notifications, so it
// works on every file system and through container bind mounts) until
// ctx is done, and calls onChange from its own goroutine (the caller's):
//
//   - once at the start, with the file as it is then (or the error
//     reading it; a missing file gives an error that satisfies
//     errors.Is(err, fs.ErrNotExist)), so that a caller can use Watch
//     alone to load and follow the file;
//   - then each time the file's modification time, size or identity
//     changes (bench's Write renames a new file into place), with the
//     new content or the error reading it. A file that disappears is
//     reported as fs.ErrNotExist once.
//
// On an error the caller should keep the tiers it has. Watch returns
// ctx.Err() when ctx is done. An interval <= 0 means 2 seconds.
func Watch(ctx context.Context, path string, interval time.Duration, onChange func(*File, error)) error {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	last, err := statStamp(path)
	load := func(st stamp, err error) {
		switch {
		case err != nil:
			onChange(nil, err)
		case !st.exists:
			onChange(nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist})
		default:
			onChange(Load(path))
		}
	}
	load(last, err)
	lastErr := err
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		st, err := statStamp(path)
		if err != nil {
			if lastErr == nil || lastErr.Error() != err.Error() {
				onChange(nil, err)
			}
			lastErr = err
			continue
		}
		if st == last && lastErr == nil {
			continue
		}
		last, lastErr = st, nil
		load(st, nil)
	}
}
