// Command summary turns the chaos suite's results (CHAOS_RESULTS, one JSON
// object per run) into the markdown table of docs/reliability.md:
//
//	go run ./test/chaos/summary bin/chaos-results.jsonl
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"
)

// result is the part of a run's line the table needs (test/chaos result).
type result struct {
	Scenario     string  `json:"scenario"`
	Members      int     `json:"members"`
	FaultSeconds float64 `json:"fault_s"`
	Acked        int     `json:"acked"`
	Queued       int     `json:"queued"`
	Lost         int     `json:"lost"`
	Duplicated   int     `json:"duplicated"`
	Divergences  int     `json:"divergences"`
	Reordered    int     `json:"reordered"`
	OK           bool    `json:"ok"`
	UnavailMS    []int64 `json:"unavail_ms"`
}

type row struct {
	runs, failed                             int
	fault                                    time.Duration
	acked, queued, lost, dup, div, reordered int
	unavail                                  []int64
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: summary RESULTS.jsonl")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rows := map[[2]string]*row{}
	var keys [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		k := [2]string{r.Scenario, fmt.Sprint(r.Members)}
		if rows[k] == nil {
			rows[k] = &row{}
			keys = append(keys, k)
		}
		w := rows[k]
		w.runs++
		if !r.OK {
			w.failed++
		}
		w.fault += time.Duration(r.FaultSeconds * float64(time.Second))
		w.acked += r.Acked
		w.queued += r.Queued
		w.lost += r.Lost
		w.dup += r.Duplicated
		w.div += r.Divergences
		w.reordered += r.Reordered
		w.unavail = append(w.unavail, r.UnavailMS...)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Println("| scenario | members | runs | failed | fault-hours | acknowledged | queued | lost | duplicated | divergences | reordered | unavailable after leader loss p50 / p99 / max |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, k := range keys {
		w := rows[k]
		slices.Sort(w.unavail)
		un := "–"
		if len(w.unavail) > 0 {
			un = fmt.Sprintf("%s / %s / %s (%d)", sec(q(w.unavail, 0.5)), sec(q(w.unavail, 0.99)), sec(w.unavail[len(w.unavail)-1]), len(w.unavail))
		}
		fmt.Printf("| %s | %s | %d | %d | %.3f | %d | %d | %d | %d | %d | %d | %s |\n", k[0], k[1], w.runs, w.failed,
			w.fault.Hours(), w.acked, w.queued, w.lost, w.dup, w.div, w.reordered, un)
	}
	return nil
}

// q is the q-quantile of sorted values (nearest rank).
func q(sorted []int64, p float64) int64 {
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func sec(ms int64) string { return fmt.Sprintf("%.2f s", float64(ms)/1000) }
