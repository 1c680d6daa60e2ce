package consensus

import (
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// netPipelineLike is shaped like hashicorp/raft's netPipeline at its
// default of 2 requests in flight: a send hands its future to a decoder
// over an unbuffered channel, and the decoder hands it to the consumer
// over another.
type netPipelineLike struct {
	inprogress, done chan raft.AppendFuture
	shutdown         chan struct{}
	closeOnce        sync.Once
}

func newNetPipelineLike() *netPipelineLike {
	p := &netPipelineLike{inprogress: make(chan raft.AppendFuture), done: make(chan raft.AppendFuture),
		shutdown: make(chan struct{})}
	go func() { // decodeResponses
		for {
			select {
			case f := <-p.inprogress:
				select {
				case p.done <- f:
				case <-p.shutdown:
					return
				}
			case <-p.shutdown:
				return
			}
		}
	}()
	return p
}

type doneFuture struct{ raft.AppendFuture }

func (p *netPipelineLike) AppendEntries(*raft.AppendEntriesRequest, *raft.AppendEntriesResponse) (raft.AppendFuture, error) {
	select {
	case p.inprogress <- doneFuture{}:
		return doneFuture{}, nil
	case <-p.shutdown:
		return nil, raft.ErrPipelineShutdown
	}
}

func (p *netPipelineLike) Consumer() <-chan raft.AppendFuture { return p.done }
func (p *netPipelineLike) Close() error {
	p.closeOnce.Do(func() { close(p.shutdown) })
	return nil
}

// sendsAfterConsumerStops reads one response from p, stops reading (raft's
// pipelineDecode after a follower's Success=false), and reports whether
// three more sends all return within a second.
func sendsAfterConsumerStops(p raft.AppendPipeline) bool {
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		if _, err := p.AppendEntries(nil, nil); err != nil {
			return
		}
		<-p.Consumer()
		for range 3 {
			if _, err := p.AppendEntries(nil, nil); err != nil {
				return
			}
		}
	}()
	select {
	case <-sent:
		return true
	case <-time.After(time.Second):
		return false
	}
}

// TestDrainedPipelineNeverBlocksSends is the deadlock of grafana/pyroscope
// #5518 on a pipeline shaped like raft's: unwrapped, the second send after
// the consumer stops blocks for good; drained, every send returns.
func TestDrainedPipelineNeverBlocksSends(t *testing.T) {
	raw := newNetPipelineLike()
	if sendsAfterConsumerStops(raw) {
		t.Fatal("the raw pipeline did not block: the test does not reproduce the deadlock")
	}
	_ = raw.Close() // unblocks the stuck send
	inner := newNetPipelineLike()
	d := &drainedPipeline{AppendPipeline: inner, out: make(chan raft.AppendFuture, pipelineBuffer), done: make(chan struct{})}
	go d.drain()
	if !sendsAfterConsumerStops(d) {
		_ = d.Close()
		t.Fatal("a send blocked on the drained pipeline after its consumer stopped")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil { // raft may close twice
		t.Fatal(err)
	}
}
