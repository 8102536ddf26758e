package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// CheckListen accepts host:port where host is an IP address or "localhost"
// and port is 0 to 65535.
func CheckListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port, e.g. %q", addr, DefaultListen)
	}
	if host != "localhost" && net.ParseIP(host) == nil {
		return fmt.Errorf("%q: the host must be an IP address of this computer or localhost (127.0.0.1 unless vendors must reach it from the network)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: the port must be a number from 1 to 65535 (0: any free port)", addr)
	}
	return nil
}

// IsLoopback reports whether addr (host:port, as CheckListen accepts it)
// can be reached from this computer only.
func IsLoopback(addr string) bool { return isLoopbackHost(hostOf(addr)) }

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// CheckHost accepts a name the Host header may carry, as [webhook] hosts
// lists them: "name" (any port) or "name:port", an IPv6 address in
// brackets.
func CheckHost(h string) error {
	_, _, err := splitHost(h)
	return err
}

// CheckPublicURL accepts the address vendors reach the listener at: an
// absolute http:// or https:// URL without user, query or fragment.
func CheckPublicURL(raw string) error {
	_, err := publicHost(raw)
	return err
}

// splitHost reads a Host header or a configured host name: name or
// name:port, an IPv6 address in brackets. The name comes back lower case,
// without a trailing dot, an IP address in its canonical form; the port is
// "" when absent.
func splitHost(h string) (name, port string, err error) {
	if h == "" || len(h) > 255 {
		return "", "", errors.New("empty or too long")
	}
	rest := h
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", "", fmt.Errorf("%q: no closing ]", h)
		}
		name, rest = h[1:end], h[end+1:]
		if net.ParseIP(name) == nil || !strings.Contains(name, ":") {
			return "", "", fmt.Errorf("%q: not an IPv6 address in brackets", h)
		}
		switch {
		case rest == "":
		case rest[0] == ':':
			port = rest[1:]
		default:
			return "", "", fmt.Errorf("%q: text after ]", h)
		}
	} else {
		name = h
		if i := strings.LastIndexByte(h, ':'); i >= 0 {
			if strings.Count(h, ":") > 1 {
				return "", "", fmt.Errorf("%q: write an IPv6 address in brackets, e.g. [::1]:8790", h)
			}
			name, port = h[:i], h[i+1:]
		}
		name = strings.ToLower(strings.TrimSuffix(name, "."))
		if name == "" || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
			return "", "", fmt.Errorf("%q: no host name", h)
		}
		for _, r := range name {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
				return "", "", fmt.Errorf("%q is not a host name", h)
			}
		}
	}
	if ip := net.ParseIP(name); ip != nil {
		name = ip.String()
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || len(port) > 5 {
			return "", "", fmt.Errorf("%q: the port is not a number from 1 to 65535", h)
		}
		port = strconv.Itoa(n)
	}
	return name, port, nil
}

// hostSet is the names a Host header may carry.
type hostSet struct {
	exact map[string]bool // "name:port" (IPv6 without brackets)
	names map[string]bool // any port
}

// newHostSet allows the loopback names and the bound IP with the bound
// port, cfg.Hosts, and the host of cfg.PublicURL.
func newHostSet(cfg Config, addr *net.TCPAddr) hostSet {
	hs := hostSet{exact: map[string]bool{}, names: map[string]bool{}}
	port := strconv.Itoa(addr.Port)
	for _, n := range []string{"127.0.0.1", "localhost", "::1"} {
		hs.exact[n+":"+port] = true
	}
	if !addr.IP.IsUnspecified() {
		hs.exact[addr.IP.String()+":"+port] = true
	}
	add := func(h string) {
		name, p, err := splitHost(h)
		if err != nil {
			return // New refused it already
		}
		if p == "" {
			hs.names[name] = true
		} else {
			hs.exact[name+":"+p] = true
		}
	}
	for _, h := range cfg.Hosts {
		add(h)
	}
	if cfg.PublicURL != "" {
		if h, err := publicHost(cfg.PublicURL); err == nil {
			add(h)
		}
	}
	return hs
}

// allowed reports whether a Host header names this listener. A request
// without a Host header (HTTP/1.0) is refused too.
func (hs hostSet) allowed(host string) bool {
	name, port, err := splitHost(host)
	if err != nil {
		return false
	}
	if hs.names[name] {
		return true
	}
	return port != "" && hs.exact[name+":"+port]
}

// publicHost is the host (and port, when the URL has one) of a public URL.
func publicHost(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("%q is not an http:// or https:// address", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: put no user, query or fragment in the address", raw)
	}
	if _, _, err := splitHost(u.Host); err != nil {
		return "", fmt.Errorf("%q: %w", raw, err)
	}
	return u.Host, nil
}

// CanonicalOrigin is a web origin as browsers send it in the Origin
// header: scheme://host[:port], lower case, the default port dropped. It
// refuses anything else (a path, a query, "null", a scheme other than http
// or https).
func CanonicalOrigin(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("%q is not an origin: write it as the browser sends it, e.g. \"https://crm.example\"", o)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("%q is not an origin: scheme://host[:port] only, no path or query", o)
	}
	name, port, err := splitHost(u.Host)
	if err != nil {
		return "", fmt.Errorf("%q is not an origin: %w", o, err)
	}
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(name, ":") {
		name = "[" + name + "]"
	}
	s := u.Scheme + "://" + name
	if port != "" {
		s += ":" + port
	}
	return s, nil
}
