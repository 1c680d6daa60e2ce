package main

import "testing"

// TestCheckerCatchesFaults shows the checker can fail: each planted fault
// must be reported.
func TestCheckerCatchesFaults(t *testing.T) {
	attempts := []attempt{{"a1", "a", true}, {"a2", "a", true}, {"b1", "b", true}, {"b2", "b", false}}
	tests := []struct {
		name      string
		histories map[string][]string
		want      func(report) bool
	}{
		{"clean", map[string][]string{"x": {"a1", "b1", "a2"}, "y": {"a1", "b1", "a2"}}, report.ok},
		{"unacked may land", map[string][]string{"x": {"a1", "b1", "a2", "b2"}, "y": {"a1", "b1", "a2", "b2"}}, report.ok},
		{"lost", map[string][]string{"x": {"a1", "b1", "a2"}, "y": {"a1", "a2"}}, func(r report) bool { return r.lost == 1 }},
		{"duplicated", map[string][]string{"x": {"a1", "b1", "a2", "a1"}}, func(r report) bool { return r.duplicated == 1 }},
		{"diverged", map[string][]string{"x": {"a1", "b1", "a2"}, "y": {"b1", "a1", "a2"}}, func(r report) bool { return r.divergences == 1 }},
		{"reordered", map[string][]string{"x": {"a2", "a1", "b1"}}, func(r report) bool { return r.reordered == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := check(attempts, tt.histories)
			if !tt.want(r) {
				t.Fatalf("check missed it: %v", r)
			}
		})
	}
}
