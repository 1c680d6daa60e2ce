package storage

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Membership ops are authorised here, by every replica alike, from the
// committed member list: who may admit, remove, promote or invite. The
// leader checks the same rules first to give a clear error early, but
// only this check is binding, since it runs identically everywhere.
//
// Refusal texts are replicated in Results: they must not change.
const (
	refNotMember    = "not a member of the team"
	refNotAdmin     = "only an admin can do that"
	refNotInvited   = "not invited: joining needs an invite"
	refOwnProfile   = "a member can change only its own name and addresses"
	refUnknownInv   = "unknown invite"
	refUsedInv      = "this invite was already used"
	refExpiredInv   = "this invite has expired"
	refIssuerGone   = "the invite's issuer is no longer an admin"
	refAlready      = "already a member"
	refWasRemoved   = "this member was removed from the team"
	refNoSuchMember = "no such member"
	refLastAdmin    = "the team's last admin cannot be removed or demoted"
	refBadInvite    = "malformed invite"
	refDupInvite    = "an invite with this ID exists"
)

// getJSON reads key from b into v; found is false when the key is absent.
func getJSON(b bucket, key string, v any, what string) (found bool, err error) {
	raw, err := b.get([]byte(key))
	if raw == nil || err != nil {
		return false, err
	}
	return true, decodeJSON(raw, v, what+" "+key)
}

func putJSON(b bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return b.put([]byte(key), raw)
}

func (a *applier) member(id string) (*Member, error) {
	var m Member
	if ok, err := getJSON(a.members, id, &m, "member"); !ok || err != nil {
		return nil, err
	}
	return &m, nil
}

// role returns by's role, "" if by is not a member.
func (a *applier) role(by string) (string, error) {
	if by == "" {
		return "", nil
	}
	m, err := a.member(by)
	if m == nil || err != nil {
		return "", err
	}
	return m.Role, nil
}

func (a *applier) admins() (int, error) {
	n := 0
	err := a.members.forEach(func(k, v []byte) error {
		var m Member
		if err := decodeJSON(v, &m, "member "+string(k)); err != nil {
			return err
		}
		if m.Role == RoleAdmin {
			n++
		}
		return nil
	})
	return n, err
}

func (a *applier) empty() bool {
	k, _ := a.members.b.Cursor().First()
	return k == nil
}

// mayCreateChannel: any member; anyone while the team has no member yet
// (the founder's first entries). A private conversation must include its
// creator.
func (a *applier) mayCreateChannel(op Op) (string, error) {
	by := op.By
	if op.Participants != nil && !slices.Contains(op.Participants, by) {
		return "a private conversation must include its creator", nil
	}
	if a.empty() {
		return "", nil
	}
	r, err := a.role(by)
	if err != nil || r != "" {
		return "", err
	}
	return refNotMember, nil
}

// addMember admits a member or updates one. The first member of an empty
// team is its founder and keeps the role it asks for (admin). Later ones
// need Token, an open invite that this entry then marks used, and join as
// plain members. Without a token, a member may update its own name and
// addresses; its role and join time stay.
func (a *applier) addMember(e Entry, op Op) (Result, error) {
	m := op.Member
	if err := validateMember(m); err != nil {
		return Result{Err: err.Error()}, nil
	}
	nm := *m
	nm.Addrs = slices.Clone(m.Addrs)
	if nm.Role == "" {
		nm.Role = RoleMember
	}
	if nm.JoinedAt.IsZero() {
		nm.JoinedAt = e.CommittedAt.UTC()
	}
	if a.empty() {
		return Result{}, putJSON(a.members, nm.ID, nm)
	}
	old, err := a.member(nm.ID)
	if err != nil {
		return Result{}, err
	}
	if op.Token == "" {
		switch {
		case old == nil:
			return Result{Err: refNotInvited}, nil
		case op.By != nm.ID:
			return Result{Err: refOwnProfile}, nil
		}
		nm.Role, nm.JoinedAt = old.Role, old.JoinedAt
		return Result{}, putJSON(a.members, nm.ID, nm)
	}
	if r, err := a.role(op.By); err != nil || r == "" {
		return Result{Err: refNotMember}, err
	}
	var inv Invite
	switch ok, err := getJSON(a.invites, op.Token, &inv, "invite"); {
	case err != nil:
		return Result{}, err
	case !ok:
		return Result{Err: refUnknownInv}, nil
	case inv.UsedBy != "":
		return Result{Err: refUsedInv}, nil
	case !inv.Open(e.CommittedAt):
		return Result{Err: refExpiredInv}, nil
	case old != nil:
		return Result{Err: refAlready}, nil
	case op.Sig != nil && op.Invitee != inv.Key:
		// Signed (protocol 4): the admission must be signed by the
		// invite's key, which only the invite code's holder has.
		return Result{Err: RefusedAdmission}, nil
	}
	if r, err := a.role(inv.Issuer); err != nil || r != RoleAdmin {
		return Result{Err: refIssuerGone}, err
	}
	if gone, err := a.removed.has([]byte(nm.ID)); err != nil || gone {
		return Result{Err: refWasRemoved}, err
	}
	inv.UsedBy = nm.ID
	if err := putJSON(a.invites, inv.ID, inv); err != nil {
		return Result{}, err
	}
	nm.Role, nm.JoinedAt = RoleMember, e.CommittedAt.UTC()
	return Result{}, putJSON(a.members, nm.ID, nm)
}

// removeMember removes Target: an admin may remove anyone, a member may
// remove itself (leave). The removal is recorded so the team keeps the
// peer out; the last admin stays.
func (a *applier) removeMember(e Entry, op Op) (Result, error) {
	byRole, err := a.role(op.By)
	if err != nil {
		return Result{}, err
	}
	if byRole != RoleAdmin && (byRole == "" || op.By != op.Target) {
		return Result{Err: refNotAdmin}, nil
	}
	t, err := a.member(op.Target)
	if err != nil || t == nil {
		return Result{Err: refNoSuchMember}, err
	}
	if msg, err := a.keepsAnAdmin(t); msg != "" || err != nil {
		return Result{Err: msg}, err
	}
	if err := a.members.delete([]byte(t.ID)); err != nil {
		return Result{}, err
	}
	return Result{}, putJSON(a.removed, t.ID, Removal{ID: t.ID, Name: t.Name, By: op.By, At: e.CommittedAt.UTC()})
}

// keepsAnAdmin refuses to take the admin role away from the last admin.
func (a *applier) keepsAnAdmin(t *Member) (string, error) {
	if t.Role != RoleAdmin {
		return "", nil
	}
	n, err := a.admins()
	if err != nil || n > 1 {
		return "", err
	}
	return refLastAdmin, nil
}

// setRole gives Target the Role; admins only.
func (a *applier) setRole(op Op) (Result, error) {
	if r, err := a.role(op.By); err != nil || r != RoleAdmin {
		return Result{Err: refNotAdmin}, err
	}
	if op.Role != RoleAdmin && op.Role != RoleMember {
		return Result{Err: fmt.Sprintf("%v: unknown role %q", ErrInvalidMember, op.Role)}, nil
	}
	t, err := a.member(op.Target)
	if err != nil || t == nil {
		return Result{Err: refNoSuchMember}, err
	}
	if op.Role == RoleMember {
		if msg, err := a.keepsAnAdmin(t); msg != "" || err != nil {
			return Result{Err: msg}, err
		}
	}
	t.Role = op.Role
	return Result{}, putJSON(a.members, t.ID, t)
}

// invite records an invite issued by an admin (By is its issuer).
func (a *applier) invite(op Op) (Result, error) {
	if r, err := a.role(op.By); err != nil || r != RoleAdmin {
		return Result{Err: refNotAdmin}, err
	}
	inv := op.Invite
	if inv == nil || inv.ID == "" || len(inv.ID) > 64 || inv.Key == "" || len(inv.Key) > maxPeerIDBytes ||
		inv.Expires.IsZero() || inv.UsedBy != "" {
		return Result{Err: refBadInvite}, nil
	}
	var have Invite
	if found, err := getJSON(a.invites, inv.ID, &have, "invite"); err != nil || found {
		// The same invite again is its issuer's retry after an unknown
		// outcome (the first proposal committed, the answer was lost):
		// accepted, and nothing changes.
		if err == nil && have.Issuer == op.By && have.Key == inv.Key && have.Expires.Equal(inv.Expires) {
			return Result{}, nil
		}
		return Result{Err: refDupInvite}, err
	}
	stored := *inv
	stored.Issuer = op.By
	stored.Expires = stored.Expires.UTC()
	return Result{}, putJSON(a.invites, stored.ID, stored)
}

// refNotAMember refuses an op proposed by a peer that is not a member.
const refNotAMember = refNotMember

// setTeamVersion raises the team version. Any member may propose it (the
// leader raises it once every member supports the new version; the CLI
// lets only admins force it); it never goes down. Whether this member can
// read the new version was decided before: the log's command header says
// which protocol it needs, and a member that cannot read it stops applying
// there (consensus), so every member that applies this op agrees.
func (a *applier) setTeamVersion(op Op) (Result, error) {
	if r, err := a.role(op.By); err != nil || r == "" {
		return Result{Err: refNotAMember}, err
	}
	if op.Version <= a.st.teamVersion {
		return Result{Err: fmt.Sprintf("the team version is already %d", a.st.teamVersion)}, nil
	}
	a.st.teamVersion = op.Version
	return Result{}, a.meta.put(keyTeamVersion, seqKey(uint64(op.Version)))
}
