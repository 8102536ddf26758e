package connectortest

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/ringside/ringside/connectors"
)

func TestSection(t *testing.T) {
	const where = "test.toml [connectors.x]"
	var v struct {
		URL string `toml:"url"`
	}
	if err := Section(where, `url = "http://127.0.0.1"`).Decode(&v); err != nil || v.URL != "http://127.0.0.1" {
		t.Errorf("Decode = %v, url %q", err, v.URL)
	}
	for _, conf := range []string{`url = 1`, "url = \"x\"\nurls = 2"} {
		err := Section(where, conf).Decode(&v)
		if err == nil || !strings.HasPrefix(err.Error(), where+": ") {
			t.Errorf("Decode(%q) = %v, want an error naming %s", conf, err, where)
		}
	}
	if got := Section(where, "").Where(); got != where {
		t.Errorf("Where() = %q, want %q", got, where)
	}
}

func TestSecrets(t *testing.T) {
	s := Secrets{"token": "t0k", "empty": ""}
	if got, err := s.Secret("token"); got != "t0k" || err != nil {
		t.Errorf("Secret(token) = %q, %v", got, err)
	}
	if got, err := s.Secret("empty"); got != "" || err != nil {
		t.Errorf("Secret(empty) = %q, %v", got, err)
	}
	if _, err := s.Secret("nope"); err == nil {
		t.Error("Secret(nope) found a secret")
	}
}

func TestLogBuffer(t *testing.T) {
	var l LogBuffer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() { fmt.Fprintf(&l, "%d\n", i) })
	}
	wg.Wait()
	if n := strings.Count(l.String(), "\n"); n != 4 {
		t.Errorf("%d lines, want 4:\n%s", n, l.String())
	}
	l.Reset()
	if got := l.String(); got != "" {
		t.Errorf("after Reset: %q", got)
	}
}

func TestDeps(t *testing.T) {
	d := Deps(t, "crm", "RU")
	if d.Name != "crm" || d.Logger == nil || d.Clock == nil || d.Secrets != nil {
		t.Errorf("Deps = %+v", d)
	}
	if got := d.Phones.Parse("8 912 123-45-67").E164; got != "+79121234567" {
		t.Errorf("phones of RU parse to %q", got)
	}
}

func TestLink(t *testing.T) {
	l := NewLink()
	fwd := make(chan connectors.Event, 1)
	l.Forward(fwd)
	var _ connectors.Link = l
	done := make(chan struct{})
	go func() { // exits after reporting; the test waits for it
		defer close(done)
		l.Up("API 1")
		l.Info("version", "1.0")
		l.Emit(connectors.Event{CallID: "a"})
		l.Emit(connectors.Event{CallID: "b"})
	}()
	if got := (<-fwd).CallID; got != "a" {
		t.Errorf("forwarded %q first, want a", got)
	}
	if got := (<-fwd).CallID; got != "b" {
		t.Errorf("forwarded %q second, want b", got)
	}
	<-done
	l.WaitUp(t)
	if got := l.WaitInfo(t, "version"); got != "1.0" {
		t.Errorf("WaitInfo = %q, want 1.0", got)
	}
	if evs := l.WaitEvents(t, 2); len(evs) != 2 || evs[1].CallID != "b" {
		t.Errorf("WaitEvents = %+v", evs)
	}
	got := l.Snapshot()
	want := Reported{Ups: []string{"API 1"}, Events: l.Events(), Info: map[string]string{"version": "1.0"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Snapshot = %+v, want %+v", got, want)
	}
	got.Info["version"] = "changed"
	if l.Snapshot().Info["version"] != "1.0" {
		t.Error("a Snapshot shares its map with the link")
	}
}
