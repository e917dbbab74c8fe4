package store

import (
	"errors"
	"strings"
	"testing"
)

func TestGuard(t *testing.T) {
	errOwn := errors.New("its own error")
	var nilMap map[string]*int
	tests := []struct {
		name    string
		fn      func() error
		damaged bool
		want    string // in the message
	}{
		{"no panic", func() error { return nil }, false, ""},
		{"an error passes through", func() error { return errOwn }, false, "its own error"},
		{"a panic of ours is a bug, not damage", func() error { panic("oops") }, false, "internal error"},
		{"a nil dereference is a bug", func() error { return errors.New(string(rune(*nilMap["x"]))) }, false, "internal error"},
		{"a panic with ErrDamaged stays damage", func() error { panic(errors.Join(ErrDamaged)) }, true, "damaged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Guard(tt.fn)
			if errors.Is(err, ErrDamaged) != tt.damaged {
				t.Errorf("Guard = %v, damaged %v, want %v", err, errors.Is(err, ErrDamaged), tt.damaged)
			}
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Guard = %v, want a message with %q", err, tt.want)
			}
		})
	}
}
