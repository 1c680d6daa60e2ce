//go:build concord_chaos

package control

// The concord_chaos build (the chaos suite's image only, `make image`) adds
// a control endpoint that skews the member's local clock, so the suite can
// give a member in a container a wrong clock: libfaketime does not move a
// Go program's clock, and containers share the host's. Never ship it.

import (
	"net/http"
	"sync/atomic"
	"time"
)

// chaosSkew is what ChaosClock adds to the system clock, in nanoseconds.
var chaosSkew atomic.Int64

// ChaosClock is the system clock shifted by the skew POST /v1/chaos/skew
// sets: `concord run` starts the member with it in this build.
type ChaosClock struct{}

func (ChaosClock) Now() time.Time        { return time.Now().Add(time.Duration(chaosSkew.Load())) }
func (ChaosClock) Source() string        { return "system" }
func (ChaosClock) Offset() time.Duration { return time.Duration(chaosSkew.Load()) }

// chaosSkewRequest is POST /v1/chaos/skew: the skew to use from now on.
type chaosSkewRequest struct {
	SkewMS int64 `json:"skew_ms"`
}

func (cs *Server) chaosSkew(w http.ResponseWriter, r *http.Request) {
	var req chaosSkewRequest
	if !cs.decode(w, r, 1<<10, &req) {
		return
	}
	chaosSkew.Store(int64(time.Duration(req.SkewMS) * time.Millisecond))
	cs.log.Warn("chaos: local clock skewed", "skew_ms", req.SkewMS)
	writeJSON(w, http.StatusOK, req)
}

// chaosDigest is POST /v1/chaos/digest: compare state digests with the
// healthy peers now (instead of at the next 30 s round) and answer status's
// "consistency", so the suite can check every run's members agree.
func (cs *Server) chaosDigest(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, NewConsistency(cs.node.CheckConsistency(r.Context())))
}

func init() {
	extraRoutes = append(extraRoutes, func(mux *http.ServeMux, cs *Server) {
		mux.HandleFunc("POST /v1/chaos/skew", cs.chaosSkew)
		mux.HandleFunc("POST /v1/chaos/digest", cs.chaosDigest)
	})
}
