package failover

import "errors"

// ErrInvalidConfig is returned (wrapped) by the Validate methods and the
// constructors when a configuration is unusable.
var ErrInvalidConfig = errors.New("failover: invalid config")

// ErrClosed is returned (wrapped) by methods called after Close.
var ErrClosed = errors.New("failover: closed")

// ErrBadEcho is returned (wrapped) by [Prober.Probe] when the responder
// answers with something other than the nonce it was sent.
var ErrBadEcho = errors.New("failover: probe echo does not match")

// ErrLeaderUnreachable is the cancellation cause of a context returned by
// [LeaderWatch.Guard] once the monitor reports the guarded leader down.
var ErrLeaderUnreachable = errors.New("failover: leader unreachable")
