package commands

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// session is an open XEP-0050 session.
type session struct {
	id    string
	owner string // full JID of the requester
	bare  string // its bare JID, for the per-requester cap
	cmd   *Command
	stage int
	raw   map[string][]string // submitted values, as sent, kept across stages
	last  time.Time           // last use
}

// ended remembers a closed session id.
type ended struct {
	owner string
	at    time.Time
}

// sessionState is the outcome of looking a session id up.
type sessionState int

const (
	sessionOpen    sessionState = iota
	sessionUnknown              // never existed, forgotten, or another requester's
	sessionEnded                // completed, canceled or expired
)

func newSessionID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// sweepLocked expires idle sessions and forgets old ended ones.
// s.mu must be held.
func (s *Server) sweepLocked(now time.Time) {
	for id, ss := range s.sessions {
		if now.Sub(ss.last) >= s.idle {
			delete(s.sessions, id)
			s.ended[id] = ended{owner: ss.owner, at: ss.last.Add(s.idle)}
		}
	}
	for id, e := range s.ended {
		if now.Sub(e.at) >= endedTTL {
			delete(s.ended, id)
		}
	}
}

// lookup returns the open session id of owner, or why there is none.
// It returns a copy: the fields change only through save.
func (s *Server) lookup(id, owner string) (session, sessionState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweepLocked(now)
	if ss, ok := s.sessions[id]; ok {
		if ss.owner != owner {
			return session{}, sessionUnknown
		}
		ss.last = now
		return *ss, sessionOpen
	}
	if e, ok := s.ended[id]; ok && e.owner == owner {
		return session{}, sessionEnded
	}
	return session{}, sessionUnknown
}

// open starts a session of cmd for owner, or returns false when bare
// has too many open sessions.
func (s *Server) open(cmd *Command, owner, bare string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweepLocked(now)
	n := 0
	for _, ss := range s.sessions {
		if ss.bare == bare {
			n++
		}
	}
	if n >= s.maxSessions {
		return session{}, false
	}
	ss := &session{id: newSessionID(), owner: owner, bare: bare, cmd: cmd, raw: make(map[string][]string), last: now}
	s.sessions[ss.id] = ss
	return *ss, true
}

// end closes the session id of owner; reusing the id is then
// session-expired.
func (s *Server) end(id, owner string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, id)
	s.ended[id] = ended{owner: owner, at: s.now()}
}

// save stores the state of the open session id: its stage and the values
// submitted so far (never modified in place afterwards).
func (s *Server) save(id string, stage int, raw map[string][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.sessions[id]; ok {
		ss.stage = stage
		ss.raw = raw
		ss.last = s.now()
	}
}

// openSessions returns how many sessions are open (for tests).
func (s *Server) openSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}
