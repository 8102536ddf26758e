package webhook

import (
	"math"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// clients keeps a token bucket per client IP.
type clients struct {
	limit rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*client
}

type client struct {
	lim  *rate.Limiter
	seen time.Time
}

// Bounds of the client table: past pruneAt entries, clients idle for a
// minute (whose buckets are full again) are forgotten; past maxClients, new
// clients are refused until some are.
const (
	pruneAt    = 1024
	maxClients = 8192
	idleClient = time.Minute
)

func newClients(limit rate.Limit, burst int) *clients {
	return &clients{limit: limit, burst: burst, m: make(map[string]*client)}
}

// allow takes a token for ip at now, or reports how long until one is
// available.
func (c *clients) allow(ip string, now time.Time) (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.m[ip]
	if !ok {
		if len(c.m) >= pruneAt {
			for k, v := range c.m {
				if now.Sub(v.seen) > idleClient {
					delete(c.m, k)
				}
			}
		}
		if len(c.m) >= maxClients {
			return idleClient, false
		}
		cl = &client{lim: rate.NewLimiter(c.limit, c.burst)}
		c.m[ip] = cl
	}
	cl.seen = now
	r := cl.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// retryAfter is a Retry-After value: whole seconds, at least 1.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// clientIP is the host part of a remote address.
func clientIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

// isLoopbackIP reports whether a client address is this computer.
func isLoopbackIP(ip string) bool {
	p := net.ParseIP(ip)
	return p != nil && p.IsLoopback()
}
