package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"concord/p2p"
)

// floodTarget is one protocol a member serves, flooded with streams that
// each send the start of a request that never ends (first) and then hold.
// held is how many of them the member may still hold open after the flood
// window: its per-peer bound (a stream it serves quickly, or resets, or
// ends at its deadline is not held).
type floodTarget struct {
	proto protocol.ID
	n     int
	first []byte
	held  int
}

// floodTargets are every protocol a member serves (docs/protocol.md), the
// propose flood first.
var floodTargets = []floodTarget{
	{p2p.ProtoPropose, floodStreams, []byte{0x80}, 8}, // a length prefix that never ends
	{p2p.ProtoRaft, 1000, []byte{0}, 64},              // an AppendEntries type byte, no body
	{p2p.ProtoProbe, 1000, []byte{0x80}, 4},
	{p2p.ProtoBlob, 1000, []byte{0x80}, 4},
	{p2p.ProtoTime, 1000, []byte{0}, 4},
	{p2p.ProtoRemoved, 1000, []byte{0x80}, 2},
	{p2p.ProtoStats, 1000, []byte{0}, 4},
	{p2p.ProtoLeave, 1000, []byte{0}, 2},
	{p2p.ProtoJoin, 1000, []byte{0x80}, 2},
}

// floodAll opens, for every target, its n streams to the member and writes
// its first bytes; it returns the streams opened per target, which the
// caller resets.
func (a *attacker) floodAll(ctx context.Context, to peer.ID) [][]network.Stream {
	out := make([][]network.Stream, len(floodTargets))
	var wg sync.WaitGroup
	for i, ft := range floodTargets {
		wg.Go(func() {
			for range ft.n {
				if ctx.Err() != nil {
					return
				}
				s, err := a.h.NewStream(ctx, to, ft.proto)
				if err != nil {
					continue // refused before it opened
				}
				out[i] = append(out[i], s)
				_, _ = s.Write(ft.first)
			}
		})
	}
	wg.Wait()
	return out
}

// floodHeld checks, for every target, how many of its streams the member
// still holds open (a read that neither ends nor is reset within a
// second), and returns a line per target plus an error for each target
// holding more than its bound.
func floodHeld(streams [][]network.Stream) (string, error) {
	var lines []string
	var errs []error
	for i, ft := range floodTargets {
		var mu sync.Mutex
		var held, reset, ended int
		var wg sync.WaitGroup
		deadline := time.Now().Add(time.Second)
		for _, s := range streams[i] {
			wg.Go(func() {
				_ = s.SetReadDeadline(deadline)
				_, err := s.Read(make([]byte, 1))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, network.ErrReset):
					reset++
				case err == nil || errors.Is(err, io.EOF):
					ended++
				default:
					held++
				}
			})
		}
		wg.Wait()
		lines = append(lines, fmt.Sprintf("%s: %d of %d opened, %d reset, %d answered or ended, %d held",
			ft.proto, len(streams[i]), ft.n, reset, ended, held))
		if held > ft.held {
			errs = append(errs, fmt.Errorf("%s: the member holds %d of the flood's streams (bound %d)", ft.proto, held, ft.held))
		}
	}
	return strings.Join(lines, "\n"), errors.Join(errs...)
}
