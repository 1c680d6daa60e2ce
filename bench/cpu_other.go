//go:build !unix

package bench

import "time"

// ProcessCPU is 0 here: this platform's process CPU time is not read.
func ProcessCPU() time.Duration { return 0 }
