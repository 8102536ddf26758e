package retailcrm

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/ringside/ringside/connectors"
)

func TestSetStatus(t *testing.T) {
	srv := newFake(t, ok)
	c := newTestCRM(t, testDeps(t), `url = "`+srv.URL+`"`+"\nuser_id = 7")
	for _, s := range connectors.Statuses() {
		if err := c.SetStatus(context.Background(), s); err != nil {
			t.Fatalf("SetStatus(%v): %v", s, err)
		}
	}
	reqs := srv.requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	for i, want := range []string{"free", "busy", "dinner", "break"} {
		checkRequest(t, reqs[i], http.MethodPost, "/api/v5/users/7/status")
		if !reflect.DeepEqual(reqs[i].Form, url.Values{"status": {want}}) {
			t.Errorf("form %q, want status=%s", reqs[i].Body, want)
		}
	}
}

func TestSetStatusRefused(t *testing.T) {
	srv := newFake(t, ok)
	c := newTestCRM(t, testDeps(t), `url = "`+srv.URL+`"`)
	if err := c.SetStatus(context.Background(), connectors.StatusBusy); !connectors.IsPermanent(err) || !strings.Contains(err.Error(), "user_id") {
		t.Errorf("SetStatus without user_id = %v, want a permanent error naming user_id", err)
	}
	c = newTestCRM(t, testDeps(t), baseConf(srv.URL))
	if err := c.SetStatus(context.Background(), connectors.StatusUnknown); !connectors.IsPermanent(err) {
		t.Errorf("SetStatus(unknown) = %v, want a permanent error", err)
	}
	if len(srv.requests()) != 0 {
		t.Error("a refused status was sent")
	}
}
