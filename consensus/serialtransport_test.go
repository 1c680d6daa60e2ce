package consensus

import (
	"errors"
	"testing"

	"github.com/hashicorp/raft"
)

// The replica's transport refuses pipelines, with and without the vote
// guard, so Raft replicates one request at a time (serialTransport).
func TestTransportRefusesPipelines(t *testing.T) {
	for _, tr := range []raft.Transport{serialTransport{}, &voteGuard{}} {
		if _, err := tr.AppendEntriesPipeline("peer", "peer"); !errors.Is(err, raft.ErrPipelineReplicationNotSupported) {
			t.Errorf("%T: AppendEntriesPipeline = %v, want ErrPipelineReplicationNotSupported", tr, err)
		}
	}
}
