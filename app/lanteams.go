package app

import (
	"context"
	"fmt"
	"strings"
)

// browse lists the teams announced on the LAN under the join form until
// the welcome screen is left or the UI closes. It runs on its own
// goroutine (not Config.Go, which may run work inline): it lasts as long
// as the screen.
func (w *welcome) browse() {
	ctx, cancel := context.WithCancel(w.u.ctx)
	w.stopBrowse = cancel
	u := w.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		err := u.cfg.Backend.BrowseTeams(ctx, func(teams []LANTeam) {
			u.cfg.Do(func() { w.showTeams(teams) })
		})
		if err != nil && ctx.Err() == nil {
			u.log.Info("cannot look for teams on the LAN", "err", err)
		}
	}()
}

// showTeams shows teams as a hint: joining still needs an invite code.
func (w *welcome) showTeams(teams []LANTeam) {
	if len(teams) == 0 {
		w.teams.Hide()
		return
	}
	names := make([]string, len(teams))
	for i, t := range teams {
		names[i] = fmt.Sprintf("%s (%s online)", t.Name, plural(t.Members, "member"))
	}
	w.teams.SetText("On this network: " + strings.Join(names, ", ") + ". Ask one of their members for an invite code.")
	w.teams.Show()
}

// plural says "1 member", "2 members".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
