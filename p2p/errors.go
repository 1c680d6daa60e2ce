package p2p

import "errors"

// ErrCorruptIdentity is returned (wrapped, with the file path) when the
// persisted identity key exists but cannot be decoded. The file is never
// replaced automatically: doing so would silently change the member's
// identity.
var ErrCorruptIdentity = errors.New("p2p: corrupt identity key")

// ErrInvalidConfig is returned (wrapped) by [Config.Validate] and [New] when
// the configuration is unusable.
var ErrInvalidConfig = errors.New("p2p: invalid config")

// ErrClosed is returned (wrapped) by methods called after [Host.Close].
var ErrClosed = errors.New("p2p: host closed")

// ErrFrameTooLarge is returned (wrapped) by [ReadFrame] when a frame declares
// a length above the caller's maximum. Nothing is allocated for such a frame.
var ErrFrameTooLarge = errors.New("p2p: frame too large")

// ErrMalformedFrame is returned (wrapped) by [ReadFrame] when the length
// prefix is not a valid, minimally encoded unsigned varint.
var ErrMalformedFrame = errors.New("p2p: malformed frame")
