package bench

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	if code, child := ServeBaselineChild(); child {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
