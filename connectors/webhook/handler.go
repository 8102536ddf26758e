package webhook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ringside/ringside/connectors"
)

// Headers the listener reads the token from, besides the query parameter
// "token"; they, and Cookie, are not passed on to Parse.
const (
	headerToken = "X-Ringside-Token"
	queryToken  = "token"
)

// ServeHTTP runs a request through the steps listed in the package doc.
// The listener serves it on its own address; it is exported so that tests
// and fuzzers can drive it without a socket (after Bind).
func (l *Listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Origin")
	ip := clientIP(r.RemoteAddr)
	if d, ok := l.clients.allow(ip, l.clock.Now()); !ok {
		h.Set("Retry-After", strconv.Itoa(retryAfter(d)))
		l.reject(w, r, ip, http.StatusTooManyRequests, "too many requests from this client; slow down")
		return
	}
	l.mu.Lock()
	hosts := l.hosts
	l.mu.Unlock()
	if !hosts.allowed(r.Host) {
		l.reject(w, r, ip, http.StatusForbidden, "the Host header does not name this listener (add the name to [webhook] hosts if it is yours)")
		return
	}
	origin := r.Header.Get("Origin")
	if origin != "" {
		c, err := CanonicalOrigin(origin)
		if err != nil || !l.origins[c] {
			l.reject(w, r, ip, http.StatusForbidden, "requests from this web origin are not allowed (add it to [webhook] origins if it is your CRM)")
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		origin = c
	}
	m := l.routes[r.URL.Path]
	if r.Method == http.MethodOptions {
		l.options(w, r, m, ip, origin != "")
		return
	}
	if m == nil {
		l.reject(w, r, ip, http.StatusNotFound, "no such route")
		return
	}
	if !slices.Contains(m.route.Methods, r.Method) {
		h.Set("Allow", m.allow)
		l.reject(w, r, ip, http.StatusMethodNotAllowed, "method not allowed; allowed: "+m.allow)
		return
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		l.reject(w, r, ip, http.StatusBadRequest, "the query string is not well-formed")
		return
	}
	if m.noAuth {
		writeJSON(w, http.StatusOK, struct {
			Service string `json:"service"`
			Status  string `json:"status"`
		}{"ringside", StatusListening.String()})
		return
	}
	if reason := l.authorize(m, r, query, origin != "", ip); reason != "" {
		l.reject(w, r, ip, http.StatusUnauthorized, reason)
		return
	}
	delete(query, queryToken)
	if m.route.Auth.Kind == connectors.AuthParam {
		delete(query, m.route.Auth.Param)
	}
	req := connectors.CallbackRequest{Method: r.Method, Query: query, Header: passedHeader(r.Header)}
	if status, reason := l.readBody(w, r, m, &req); status != 0 {
		l.reject(w, r, ip, status, reason)
		return
	}
	cb, err := parse(m, req)
	if err != nil {
		if errors.Is(err, errParserPanic) {
			l.log.Error("webhook: route parser failed", "path", logPath(r), "error", redact(err.Error()))
			l.reject(w, r, ip, http.StatusInternalServerError, "the route's parser failed")
			return
		}
		l.reject(w, r, ip, http.StatusBadRequest, redact(err.Error()))
		return
	}
	status := l.carry(w, r, m, cb, origin, ip)
	if l.log.Enabled(r.Context(), slog.LevelDebug) {
		l.log.Debug("webhook: callback", "path", logPath(r), "instance", m.instance, "status", status,
			"events", len(cb.Events), "agent_status", cb.Status.String(), "dial", cb.Dial.Masked(), "took", time.Since(start))
	}
}

// options answers OPTIONS: a CORS preflight from an allowed origin (the
// Origin was checked already), or a plain OPTIONS with Allow.
func (l *Listener) options(w http.ResponseWriter, r *http.Request, m *mounted, ip string, cors bool) {
	h := w.Header()
	if m == nil {
		l.reject(w, r, ip, http.StatusNotFound, "no such route")
		return
	}
	want := r.Header.Get("Access-Control-Request-Method")
	if !cors || want == "" {
		h.Set("Allow", m.allow+", OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !slices.Contains(m.route.Methods, want) {
		h.Set("Allow", m.allow)
		l.reject(w, r, ip, http.StatusMethodNotAllowed, "method not allowed; allowed: "+m.allow)
		return
	}
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", m.allow)
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, "+headerToken)
	h.Set("Access-Control-Max-Age", "600")
	if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
		// Chrome asks before a public page may call a loopback address.
		h.Set("Access-Control-Allow-Private-Network", "true")
	}
	w.WriteHeader(http.StatusNoContent)
}

// authorize checks the route's authentication and returns why it failed,
// or "". originOK says the request came with an allowed Origin.
func (l *Listener) authorize(m *mounted, r *http.Request, q url.Values, originOK bool, ip string) string {
	switch m.route.Auth.Kind {
	case connectors.AuthToken:
		tok, given := requestToken(r, q)
		if !given {
			if m.originOK && originOK && direct(r, ip) {
				return "" // a CRM page in the agent's own browser
			}
			return "missing token: give it as the query parameter token, as Authorization: Bearer or as " + headerToken
		}
		if !secretEqual(tok, l.cfg.Token) {
			return "wrong token"
		}
		return ""
	case connectors.AuthParam:
		p := m.route.Auth.Param
		vs := q[p]
		switch {
		case len(vs) == 0 || vs[0] == "":
			return "missing " + p
		case len(vs) > 1:
			return p + " is given more than once"
		}
		want := m.route.Auth.Secret()
		if want == "" {
			return "this route is not set up yet: the connector has no " + p
		}
		if !secretEqual(vs[0], want) {
			return "wrong " + p
		}
		return ""
	}
	return "this route has no authentication" // Mount refuses such routes
}

// direct reports whether a request comes from this computer itself, not
// through a reverse proxy or tunnel (which add a forwarding header): only
// then can an Origin header be trusted to be a browser's.
func direct(r *http.Request, ip string) bool {
	if !isLoopbackIP(ip) {
		return false
	}
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Real-Ip", "Cf-Connecting-Ip"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	return true
}

// requestToken finds the token in the Authorization or X-Ringside-Token
// header or the query. A token given twice in the query is given but
// empty, so it is wrong.
func requestToken(r *http.Request, q url.Values) (string, bool) {
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, tok, _ := strings.Cut(a, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", true
		}
		return strings.TrimSpace(tok), true
	}
	if t := r.Header.Values(headerToken); len(t) > 0 {
		if len(t) > 1 {
			return "", true
		}
		return t[0], true
	}
	if t, ok := q[queryToken]; ok {
		if len(t) != 1 {
			return "", true
		}
		return t[0], true
	}
	return "", false
}

// secretEqual compares in constant time, lengths included.
func secretEqual(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1 && want != ""
}

// passedHeader is what Parse sees of the headers: no credentials.
func passedHeader(h http.Header) http.Header {
	out := h.Clone()
	out.Del("Authorization")
	out.Del(headerToken)
	out.Del("Cookie")
	return out
}

// readBody reads and decodes the body into req, or returns the status and
// reason to refuse it with.
func (l *Listener) readBody(w http.ResponseWriter, r *http.Request, m *mounted, req *connectors.CallbackRequest) (int, string) {
	if r.ContentLength > l.cfg.MaxBody {
		return http.StatusRequestEntityTooLarge, "the body is larger than " + byteSize(l.cfg.MaxBody)
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return 0, ""
	}
	if len(m.route.Accept) == 0 {
		return http.StatusUnsupportedMediaType, "this route takes no body: give the fields in the query string"
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !slices.Contains(m.route.Accept, mt) {
		return http.StatusUnsupportedMediaType, "want a body of type " + strings.Join(m.route.Accept, " or ")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, l.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &tooBig):
			return http.StatusRequestEntityTooLarge, "the body is larger than " + byteSize(l.cfg.MaxBody)
		case errors.As(err, &ne) && ne.Timeout():
			return http.StatusRequestTimeout, "the body came too slowly"
		}
		return http.StatusBadRequest, "the body could not be read"
	}
	if len(body) == 0 {
		return 0, ""
	}
	req.ContentType, req.Body = mt, body
	switch mt {
	case connectors.MediaForm:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return http.StatusBadRequest, "the body is not a well-formed form"
		}
		req.Form = form
	case connectors.MediaJSON:
		if !json.Valid(body) {
			return http.StatusBadRequest, "the body is not valid JSON"
		}
	}
	return 0, ""
}

var errParserPanic = errors.New("parser panicked")

// parse calls the route's Parse, turning a panic into an error.
func parse(m *mounted, req connectors.CallbackRequest) (cb connectors.Callback, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errParserPanic, p)
		}
	}()
	return m.route.Parse(req)
}

// carry hands an accepted callback to the sink, dialling a number once per
// dedupe window, answers, and returns the status it answered. origin is the
// request's allowed origin in canonical form, or "".
func (l *Listener) carry(w http.ResponseWriter, r *http.Request, m *mounted, cb connectors.Callback, origin, ip string) int {
	var (
		dupKey     string
		reservedAt time.Time
		duplicate  time.Duration
	)
	if !cb.Dial.IsZero() && l.dedupe != nil {
		src := origin
		if src == "" {
			src = ip
		}
		key := m.instance + "\x00" + src + "\x00" + cb.Dial.Key()
		now := l.clock.Now()
		if ago, ok := l.dedupe.reserve(key, now); ok {
			dupKey, reservedAt = key, now
		} else {
			duplicate = max(ago, time.Nanosecond)
			cb.Dial = connectors.Phone{}
		}
	}
	if !cb.IsZero() {
		ctx, cancel := context.WithTimeout(r.Context(), l.cfg.HandlerTimeout)
		err := l.sink.Handle(ctx, m.instance, cb)
		ctxErr := ctx.Err()
		cancel()
		if err != nil {
			if dupKey != "" {
				l.dedupe.release(dupKey, reservedAt)
			}
			switch {
			case errors.Is(err, ErrUnavailable) || r.Context().Err() != nil:
				w.Header().Set("Retry-After", "5")
				return l.reject(w, r, ip, http.StatusServiceUnavailable, "Ringside is stopping or busy; try again")
			case ctxErr != nil:
				return l.reject(w, r, ip, http.StatusGatewayTimeout, "not done within "+l.cfg.HandlerTimeout.String())
			}
			return l.reject(w, r, ip, http.StatusBadGateway, redact(err.Error()))
		}
	}
	if duplicate > 0 {
		writeJSON(w, http.StatusAccepted, okBody{OK: true, Duplicate: true,
			Detail: fmt.Sprintf("the same number was asked for by the same client %s ago: dialled once", duplicate.Round(time.Millisecond))})
		return http.StatusAccepted
	}
	writeJSON(w, http.StatusOK, okBody{OK: true})
	return http.StatusOK
}

type okBody struct {
	OK        bool   `json:"ok"`
	Duplicate bool   `json:"duplicate,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

type errorBody struct {
	Error string `json:"error"`
}

// reject answers status with a JSON reason and logs it: refusals that
// smell of an attack (401, 403) as warnings, at most about one a second,
// the rest at debug level. It returns status.
func (l *Listener) reject(w http.ResponseWriter, r *http.Request, ip string, status int, reason string) int {
	writeJSON(w, status, errorBody{Error: reason})
	level := slog.LevelDebug
	if (status == http.StatusUnauthorized || status == http.StatusForbidden || status >= 500) && l.warns.Allow() {
		level = slog.LevelWarn
	}
	if l.log.Enabled(r.Context(), level) {
		l.log.Log(r.Context(), level, "webhook: request refused", "status", status, "reason", reason,
			"method", clip(redact(printable(r.Method)), 16), "path", logPath(r), "client", ip)
	}
	return status
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// logPath is the path as it may be logged: never the query, digits masked,
// at most 96 bytes.
func logPath(r *http.Request) string { return clip(redact(printable(r.URL.Path)), 96) }

// printable replaces invalid UTF-8 and unprintable characters with U+FFFD, so
// that a log line shows what came and no escape sequence in it can spell
// digits.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
}

// clip cuts s to at most n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// phoneLike is a run that may be a phone number: digits with separators.
var phoneLike = regexp.MustCompile(`\+?[0-9][0-9 ()./-]*[0-9]`)

// redact masks every run of five digits or more (with separators) but its
// last two digits, so that a number in an error or a path never reaches a
// log line in full.
func redact(s string) string {
	return phoneLike.ReplaceAllStringFunc(s, func(run string) string {
		var digits []byte
		for i := 0; i < len(run); i++ {
			if run[i] >= '0' && run[i] <= '9' {
				digits = append(digits, run[i])
			}
		}
		if len(digits) < 5 {
			return run
		}
		return "•••" + string(digits[len(digits)-2:])
	})
}

// byteSize writes n the way the settings do: "64KiB", "1MiB", "500B".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}
