package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/settings"
)

func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = run(ctx, args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func TestCLIBadInput(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.toml")
	writeFile(t, corrupt, "region = \"RO\"\n[lookup\ntimeout = 3s\n")
	notADir := filepath.Join(dir, "file")
	writeFile(t, notADir, "x")
	unwritable := filepath.Join(dir, "unwritable.toml")
	writeFile(t, unwritable, "region = \"RO\"\n[notifications]\nmode = \"off\"\n[data]\ndir = \""+filepath.Join(notADir, "data")+"\"\n")
	secretInFile := filepath.Join(dir, "secret.toml")
	writeFile(t, secretInFile, "[connectors.crm]\ntype = \"httpcrm\"\nurl = \"https://crm.example/calls\"\ntoken = \"abc\"\n")

	tests := []struct {
		name string
		args []string
		want []string // each must appear in the error
	}{
		{"corrupt config names file and line", []string{"--headless", "--config", corrupt}, []string{corrupt + ":", "table name"}},
		{"history with corrupt config", []string{"history", "--config", corrupt}, []string{corrupt}},
		{"unwritable data dir", []string{"--headless", "--config", unwritable}, []string{notADir}},
		{"secret in the file is refused", []string{"--headless", "--config", secretInFile}, []string{"token", "ringside secret set crm.token"}},
		{"unknown command", []string{"frobnicate"}, []string{"unknown command"}},
		{"bad date", []string{"history", "--since", "yesterday"}, []string{"--since"}},
		{"bad secret name", []string{"secret", "check", "nodot"}, []string{"office.password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCLI(t, "", tt.args...)
			if err == nil {
				t.Fatalf("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestCLISecretFromEnvironment(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
	t.Setenv("RINGSIDE_SECRET_OFFICE_PASSWORD", "s3cret")
	out, _, err := runCLI(t, "", "secret", "check", "office.password")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out, "office.password is set\n"; got != want {
		t.Errorf("out = %q, want %q", got, want)
	}
	_, _, err = runCLI(t, "", "secret", "check", "office.api_key")
	if err == nil || !strings.Contains(err.Error(), "RINGSIDE_SECRET_OFFICE_API_KEY") {
		t.Errorf("missing secret error = %v; want it to name the variable", err)
	}
}

func TestCLIHistory(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config.toml")
	writeFile(t, config, "region = \"RO\"\n[data]\ndir = \""+filepath.Join(dir, "data")+"\"\n")
	j, err := journal.Open(filepath.Join(dir, "data", "ringside.db"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	for i, c := range []journal.Call{
		{Key: "a", State: journal.StateEnded, Direction: connectors.DirectionInbound, Result: connectors.ResultMissed,
			Phone: connectors.Phone{Raw: "0211234567", E164: "+40211234567"}, StartedAt: at, EndedAt: at},
		{Key: "b", State: journal.StateEnded, Direction: connectors.DirectionOutbound, Result: connectors.ResultAnswered,
			Phone: connectors.Phone{Raw: "0722000111", E164: "+40722000111"}, StartedAt: at.Add(time.Hour), AnsweredAt: at.Add(time.Hour), EndedAt: at.Add(time.Hour + 90*time.Second),
			Contact: connectors.Contact{Name: "Maria Ionescu"}},
	} {
		c.UpdatedAt = at.Add(time.Duration(i) * time.Hour)
		if err := j.Save(context.Background(), journal.Change{Call: c}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()

	out, _, err := runCLI(t, "", "history", "--config", config, "--json", "--missed")
	if err != nil {
		t.Fatal(err)
	}
	var cs []journal.Call
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		t.Fatalf("history --json: %v\n%s", err, out)
	}
	if len(cs) != 1 || cs[0].Key != "a" {
		t.Errorf("missed calls = %+v, want call a only", cs)
	}
	out, _, err = runCLI(t, "", "history", "--config", config, "--name", "maria")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"+40 722 000 111", "Maria Ionescu", "answered", "1m30s"} {
		if !strings.Contains(out, want) {
			t.Errorf("history table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "+40 21 123 4567") {
		t.Errorf("name filter let the other call through:\n%s", out)
	}
}

func TestCLIDoctorNamesProblems(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
	config := filepath.Join(dir, "config.toml")
	writeFile(t, config, "region = \"RO\"\ncrm = \"crm\"\n[data]\ndir = \""+filepath.Join(dir, "data")+"\"\n"+
		"[connectors.crm]\ntype = \"httpcrm\"\nurl = \"http://127.0.0.1:1/calls\"\nlookup_url = \"http://127.0.0.1:1/contacts?phone={phone}\"\nauth = \"bearer\"\n")
	out, _, err := runCLI(t, "", "doctor", "--config", config, "--timeout", "5s")
	if err == nil {
		t.Fatalf("doctor passed with an unreachable CRM:\n%s", out)
	}
	for _, want := range []string{"ok    config", "ok    journal", "warn  keyring", "warn  notifications", "FAIL  crm (httpcrm)", "fix:"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Errorf("doctor did not check the data dir: %v", err)
	}
}

// TestConfigExampleLoadsAndBuilds checks the printed example is a valid
// settings file and that every connector's sample section builds once
// switched on.
func TestConfigExampleLoadsAndBuilds(t *testing.T) {
	out, _, err := runCLI(t, "", "config", "example")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	writeFile(t, path, out)
	cfg, err := settings.Load(path)
	if err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	reg := registry()
	if got, want := len(cfg.Connectors), len(reg.Names()); got != want {
		t.Fatalf("example has %d connector sections, want one per type (%d)", got, want)
	}
	phones, _ := connectors.NewPhoneParser("RO")
	for name, cc := range cfg.Connectors {
		on := settings.NewConnectorConfig(cc.Name, cc.Type, true, cc.Values())
		// The contacts sample's files.
		writeFile(t, filepath.Join(dir, "contacts.csv"), "name,phone\nIon Popescu,0211234567\n")
		writeFile(t, filepath.Join(dir, "people.vcf"), "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Maria Ionescu\r\nTEL:0722000111\r\nEND:VCARD\r\n")
		ty, _ := reg.Lookup(cc.Type)
		_, err := ty.New(on, connectors.Deps{Name: name, Logger: slog.New(slog.DiscardHandler), Phones: phones,
			Clock: clockwork.NewRealClock(), ConfigDir: dir,
			Secrets: settings.InstanceSecrets{Store: settings.NewMemoryStore(), Instance: name}})
		if err != nil {
			t.Errorf("sample of %s does not build: %v", name, err)
		}
	}
}

func TestCLIRegisterRetailCRM(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
	t.Setenv("RINGSIDE_SECRET_CRM_API_KEY", "key-123")
	t.Setenv("RINGSIDE_SECRET_CRM_CLIENT_ID", "client-secret-0123456789")
	var got url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v5/integration-modules/ringside/edit" || r.Header.Get("X-API-KEY") != "key-123" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"success":false,"errorMsg":"Not found"}`)
			return
		}
		r.ParseForm()
		got = r.PostForm
		fmt.Fprint(w, `{"success":true,"notExistUsersIds":[2]}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	config := filepath.Join(dir, "config.toml")
	writeFile(t, config, fmt.Sprintf("region = \"RO\"\n[webhook]\nenabled = false\n[data]\ndir = %q\n[connectors.crm]\ntype = \"retailcrm\"\nurl = %q\nuser_id = 1\ncodes = { \"100\" = 1, \"200\" = 2 }\n", filepath.Join(dir, "data"), srv.URL))
	out, _, err := runCLI(t, "", "register", "--config", config, "crm")
	if err != nil {
		t.Fatalf("register: %v\n%s", err, out)
	}
	var module map[string]any
	if err := json.Unmarshal([]byte(got.Get("integrationModule")), &module); err != nil {
		t.Fatalf("integrationModule= is not JSON: %v", err)
	}
	if module["clientId"] != "client-secret-0123456789" || module["code"] != "ringside" {
		t.Errorf("module = %v", module)
	}
	if !strings.Contains(out, "user") || !strings.Contains(out, " 2") {
		t.Errorf("output does not surface the unknown user 2:\n%s", out)
	}
	if _, _, err := runCLI(t, "", "register", "--config", config, "nope"); err == nil {
		t.Error("register of an unknown instance succeeded")
	}
}
