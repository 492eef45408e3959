package loader

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestSetupErrorKeepsItsCause(t *testing.T) {
	err := error(&SetupError{Stage: "start worker", Err: os.ErrPermission, Stderr: "line 1\nline 2"})
	if !errors.Is(err, os.ErrPermission) {
		t.Errorf("errors.Is does not find the cause in %v", err)
	}
	if got := err.Error(); !strings.HasPrefix(got, "start worker: permission denied; stderr: line 1 | line 2") {
		t.Errorf("message %q", got)
	}
	withMsg := &SetupError{Stage: "load", Msg: "worker ended", Err: os.ErrClosed}
	if got := withMsg.Error(); got != "load: worker ended: file already closed" {
		t.Errorf("message %q", got)
	}
}
