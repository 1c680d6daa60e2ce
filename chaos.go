//go:build concord_chaos

package main

// The concord_chaos build (the chaos suite's image only, `make image`) adds
// a control endpoint that skews the member's local clock, so the suite can
// give a member in a container a wrong clock: libfaketime does not move a
// Go program's clock, and containers share the host's. Never ship it.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// chaosSkew is what chaosClock adds to the system clock, in nanoseconds.
var chaosSkew atomic.Int64

// chaosClock is the system clock shifted by chaosSkew.
type chaosClock struct{}

func (chaosClock) Now() time.Time        { return time.Now().Add(time.Duration(chaosSkew.Load())) }
func (chaosClock) Source() string        { return "system" }
func (chaosClock) Offset() time.Duration { return time.Duration(chaosSkew.Load()) }

// chaosSkewRequest is POST /v1/chaos/skew: the skew to use from now on.
type chaosSkewRequest struct {
	SkewMS int64 `json:"skew_ms"`
}

func (cs *controlServer) chaosSkew(w http.ResponseWriter, r *http.Request) {
	var req chaosSkewRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&req); err != nil {
		cs.fail(w, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	chaosSkew.Store(int64(time.Duration(req.SkewMS) * time.Millisecond))
	cs.log.Warn("chaos: local clock skewed", "skew_ms", req.SkewMS)
	writeJSON(w, http.StatusOK, req)
}

// chaosDigest is POST /v1/chaos/digest: compare state digests with the
// healthy peers now (instead of at the next 30 s round) and answer status's
// "consistency", so the suite can check every run's members agree.
func (cs *controlServer) chaosDigest(w http.ResponseWriter, r *http.Request) {
	cs.node.digest.Round(r.Context())
	writeJSON(w, http.StatusOK, cs.node.consistency())
}

func init() {
	baseClock = chaosClock{}
	extraRoutes = append(extraRoutes, func(mux *http.ServeMux, cs *controlServer) {
		mux.HandleFunc("POST /v1/chaos/skew", cs.chaosSkew)
		mux.HandleFunc("POST /v1/chaos/digest", cs.chaosDigest)
	})
}
