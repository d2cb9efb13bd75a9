// Package statefile saves and loads a plugin's state as JSON, atomically: a
// crash leaves either the old or the new state on disk, never a torn one.
package statefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Load decodes the state at path into v. A missing file is not an error:
// found is false and v is untouched.
func Load(path string, v any) (found bool, err error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, &CorruptError{Path: path, Err: err}
	}
	return true, nil
}

// CorruptError is a state file that was read but does not decode: unlike
// a read error, retrying will not help.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s is corrupt: %v", e.Path, e.Err)
}
func (e *CorruptError) Unwrap() error { return e.Err }

// MoveAside renames the file at path to path.bad-<UTC time>, next to it,
// so that a state that can't be resumed is kept for the operator to look
// at while a fresh one takes its place. It returns the new name.
func MoveAside(path string, now time.Time) (string, error) {
	aside := path + ".bad-" + now.UTC().Format("20060102T150405Z")
	if err := os.Rename(path, aside); err != nil {
		return "", err
	}
	return aside, nil
}

// Save writes v to path: to a temporary file in the same directory, synced,
// then renamed over path, and the directory synced.
func Save(path string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
