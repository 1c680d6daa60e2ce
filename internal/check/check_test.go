package check

import "testing"

// TestCheckCatchesFaults shows the checker can fail: each planted fault must
// be reported, and clean histories must pass.
func TestCheckCatchesFaults(t *testing.T) {
	attempts := []Attempt{{"a1", "a", Acked}, {"a2", "a", Queued}, {"b1", "b", Acked}, {"b2", "b", Unknown}, {"c1", "c", Failed}}
	tests := []struct {
		name      string
		histories map[string][]string
		want      func(Report) bool
	}{
		{"clean", map[string][]string{"x": {"a1", "b1", "a2"}, "y": {"a1", "b1", "a2"}},
			func(r Report) bool { return r.OK() && r.UnknownMissing == 1 && r.Unexpected == 0 }},
		{"unknown may land", map[string][]string{"x": {"a1", "b1", "a2", "b2"}, "y": {"a1", "b1", "a2", "b2"}},
			func(r Report) bool { return r.OK() && r.UnknownLanded == 1 }},
		{"unknown on some members only", map[string][]string{"x": {"a1", "b1", "a2", "b2"}, "y": {"a1", "b1", "a2"}},
			func(r Report) bool { return !r.OK() && r.UnknownPartial == 1 }},
		{"lost", map[string][]string{"x": {"a1", "b1", "a2"}, "y": {"a1", "a2"}},
			func(r Report) bool { return !r.OK() && r.Lost == 1 && r.LostOnMember == 1 }},
		{"queued lost everywhere", map[string][]string{"x": {"a1", "b1"}, "y": {"a1", "b1"}},
			func(r Report) bool { return !r.OK() && r.Lost == 1 && r.LostOnMember == 2 }},
		{"duplicated", map[string][]string{"x": {"a1", "b1", "a2", "a1"}},
			func(r Report) bool { return !r.OK() && r.Duplicated == 1 }},
		{"diverged", map[string][]string{"x": {"a1", "b1", "a2"}, "y": {"b1", "a1", "a2"}},
			func(r Report) bool { return !r.OK() && r.Divergences == 1 }},
		{"reordered", map[string][]string{"x": {"a2", "a1", "b1"}},
			func(r Report) bool { return !r.OK() && r.Reordered == 1 }},
		{"refused but landed", map[string][]string{"x": {"a1", "a2", "b1", "c1"}},
			func(r Report) bool { return !r.OK() && r.FailedLanded == 1 }},
		{"unexpected", map[string][]string{"x": {"a1", "a2", "b1", "zz"}},
			func(r Report) bool { return r.Unexpected == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(attempts, tt.histories)
			if !tt.want(r) {
				t.Fatalf("check missed it: %v", r)
			}
		})
	}
}

// TestCheckUnexpectedNeedsIDs: when some attempt's ID is not known (a send
// that failed before printing one), an unknown ID in a history may be that
// attempt, so it is not counted as unexpected.
func TestCheckUnexpectedNeedsIDs(t *testing.T) {
	r := Check([]Attempt{{"a1", "a", Acked}, {"", "a", Unknown}}, map[string][]string{"x": {"a1", "zz"}})
	if r.Unexpected != 0 || !r.OK() {
		t.Fatalf("%v", r)
	}
}
