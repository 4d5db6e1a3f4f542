package review

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"
)

// Session lifetimes and bounds.
const (
	sessionTTL    = 12 * time.Hour
	maxSessions   = 32
	ceremonyTTL   = 5 * time.Minute
	maxCeremonies = 16
)

// NewSecret returns 32 random bytes, base64url: a page's URL secret, a
// session id, a CSRF token.
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error()) // never on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func equalSecret(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// session is one browser that presented the URL secret.
type session struct {
	csrf    string
	created time.Time
	// ceremonies are the WebAuthn ceremonies begun and not yet finished,
	// by key (a plan id, or "register"): each is finished at most once.
	ceremonies map[string]*ceremony
}

// ceremony is a WebAuthn ceremony the server began for a session.
type ceremony struct {
	began    time.Time
	approver string
	// payload is the token payload whose SHA-256 is the challenge.
	payload string
	// state is the registration under way (registration ceremonies).
	state any
}

// sessions are the page's sessions, in memory: a page restarted asks for
// its (new) URL again.
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
	now  func() time.Time
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{byID: map[string]*session{}, now: now}
}

// create starts a session; the oldest goes when there are too many.
func (s *sessions) create() (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for id, x := range s.byID {
		if now.Sub(x.created) > sessionTTL {
			delete(s.byID, id)
		}
	}
	if len(s.byID) >= maxSessions {
		var oldest string
		for id, x := range s.byID {
			if oldest == "" || x.created.Before(s.byID[oldest].created) {
				oldest = id
			}
		}
		delete(s.byID, oldest)
	}
	id := NewSecret()
	x := &session{csrf: NewSecret(), created: now, ceremonies: map[string]*ceremony{}}
	s.byID[id] = x
	return id, x
}

// get returns the live session with id.
func (s *sessions) get(id string) (*session, bool) {
	if id == "" {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.byID[id]
	if !ok || s.now().Sub(x.created) > sessionTTL {
		return nil, false
	}
	return x, true
}

// begin records a ceremony of the session under key, replacing one
// begun before under it.
func (s *sessions) begin(x *session, key string, c *ceremony) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.began = s.now()
	for k, old := range x.ceremonies {
		if c.began.Sub(old.began) > ceremonyTTL {
			delete(x.ceremonies, k)
		}
	}
	if len(x.ceremonies) >= maxCeremonies {
		clear(x.ceremonies)
	}
	x.ceremonies[key] = c
}

// finish takes the session's ceremony under key, once.
func (s *sessions) finish(x *session, key string) (*ceremony, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := x.ceremonies[key]
	delete(x.ceremonies, key)
	if !ok || s.now().Sub(c.began) > ceremonyTTL {
		return nil, false
	}
	return c, true
}
