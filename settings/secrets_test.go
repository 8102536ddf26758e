package settings

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ringside/ringside/connectors"
)

// InstanceSecrets is what connectors are handed as Deps.Secrets.
var _ connectors.Secrets = InstanceSecrets{}

// envOf is a lookup over a fixed environment.
func envOf(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// failingStore fails every call the way an unreachable keyring does.
type failingStore struct{ cause error }

func (s failingStore) Get(key string) (string, error) {
	return "", &secretError{op: "reading", key: key, keyring: s.cause}
}
func (s failingStore) Set(key, _ string) error {
	return &secretError{op: "storing", key: key, keyring: s.cause}
}
func (s failingStore) Delete(key string) error {
	return &secretError{op: "deleting", key: key, keyring: s.cause}
}

func TestEnvName(t *testing.T) {
	tests := []struct{ key, want string }{
		{"office.password", "RINGSIDE_SECRET_OFFICE_PASSWORD"},
		{"old-crm.api_key", "RINGSIDE_SECRET_OLD_CRM_API_KEY"},
		{"Pbx2.Token", "RINGSIDE_SECRET_PBX2_TOKEN"},
		{"büro.pass", "RINGSIDE_SECRET_B_RO_PASS"},
	}
	for _, tt := range tests {
		if got := EnvName(tt.key); got != tt.want {
			t.Errorf("EnvName(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestEnvStore(t *testing.T) {
	s := NewEnvStore(envOf(map[string]string{"RINGSIDE_SECRET_OFFICE_PASSWORD": "hunter2", "RINGSIDE_SECRET_CRM_TOKEN": ""}))
	tests := []struct {
		key     string
		want    string
		wantErr error
	}{
		{"office.password", "hunter2", nil},
		{"crm.token", "", nil},
		{"office.username", "", ErrSecretNotFound},
	}
	for _, tt := range tests {
		got, err := s.Get(tt.key)
		if got != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("Get(%q) = %q, %v; want %q, %v", tt.key, got, err, tt.want, tt.wantErr)
		}
	}
	for name, err := range map[string]error{
		"Set":    s.Set("office.password", "s3cret-value"),
		"Delete": s.Delete("office.password"),
	} {
		if err == nil || !strings.Contains(err.Error(), "read-only") || !strings.Contains(err.Error(), "RINGSIDE_SECRET_OFFICE_PASSWORD") {
			t.Errorf("%s = %v, want an error saying RINGSIDE_SECRET_OFFICE_PASSWORD is read-only", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret-value") {
			t.Errorf("%s error %q holds the value", name, err)
		}
	}
}

func TestSecretErrorMessages(t *testing.T) {
	cause := errors.New(`exec: "dbus-launch": executable file not found in $PATH`)
	tests := []struct {
		name            string
		err             error
		want            string
		notFound, unavl bool
	}{
		{
			name:     "missing",
			err:      func() error { _, err := NewMemoryStore().Get("office.password"); return err }(),
			want:     `secret "office.password" not found: store it in the OS keyring with "ringside secret set office.password" (service "ringside", account "office.password") or set RINGSIDE_SECRET_OFFICE_PASSWORD`,
			notFound: true,
		},
		{
			name:  "keyring unavailable",
			err:   failingStore{cause}.Set("office.password", "hunter2"),
			want:  `storing secret "office.password": OS keyring unavailable: exec: "dbus-launch": executable file not found in $PATH; set RINGSIDE_SECRET_OFFICE_PASSWORD to give it without the keyring`,
			unavl: true,
		},
		{
			name: "keyring unavailable and no variable",
			err: func() error {
				_, err := NewChain(failingStore{cause}, NewEnvStore(envOf(nil))).Get("office.password")
				return err
			}(),
			want:     `secret "office.password" not found: RINGSIDE_SECRET_OFFICE_PASSWORD is not set and the OS keyring is unavailable (exec: "dbus-launch": executable file not found in $PATH); set RINGSIDE_SECRET_OFFICE_PASSWORD, or make the keyring available and run "ringside secret set office.password"`,
			notFound: true,
			unavl:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("error\n got %q\nwant %q", got, tt.want)
			}
			if got := errors.Is(tt.err, ErrSecretNotFound); got != tt.notFound {
				t.Errorf("errors.Is(ErrSecretNotFound) = %v, want %v", got, tt.notFound)
			}
			if got := errors.Is(tt.err, ErrKeyringUnavailable); got != tt.unavl {
				t.Errorf("errors.Is(ErrKeyringUnavailable) = %v, want %v", got, tt.unavl)
			}
			if strings.Contains(tt.err.Error(), "hunter2") {
				t.Errorf("error %q holds the value", tt.err)
			}
		})
	}
}

func TestChain(t *testing.T) {
	first := NewMemoryStore()
	env := NewEnvStore(envOf(map[string]string{
		"RINGSIDE_SECRET_OFFICE_PASSWORD": "from-env",
		"RINGSIDE_SECRET_CRM_API_KEY":     "env-key",
	}))
	if err := first.Set("office.password", "from-keyring"); err != nil {
		t.Fatal(err)
	}
	down := failingStore{errors.New("no session bus")}

	tests := []struct {
		name    string
		chain   SecretStore
		key     string
		want    string
		wantErr error
	}{
		{"first hit wins", NewChain(first, env), "office.password", "from-keyring", nil},
		{"falls through a miss", NewChain(first, env), "crm.api_key", "env-key", nil},
		{"falls through an unavailable keyring", NewChain(down, env), "crm.api_key", "env-key", nil},
		{"missing everywhere", NewChain(first, env), "crm.password", "", ErrSecretNotFound},
		{"unavailable and missing", NewChain(down, env), "crm.password", "", ErrKeyringUnavailable},
		{"empty chain", NewChain(), "crm.password", "", ErrSecretNotFound},
		{"bad key", NewChain(first, env), "password", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.chain.Get(tt.key)
			if tt.name == "bad key" {
				if err == nil || !strings.Contains(err.Error(), "<instance>.<name>") {
					t.Errorf("Get(%q) error = %v, want one asking for <instance>.<name>", tt.key, err)
				}
				return
			}
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("Get(%q) = %q, %v; want %q, %v", tt.key, got, err, tt.want, tt.wantErr)
			}
		})
	}

	// Set and Delete go to the first store only.
	c := NewChain(first, env)
	if err := c.Set("crm.api_key", "new"); err != nil {
		t.Fatal(err)
	}
	if got, _ := first.Get("crm.api_key"); got != "new" {
		t.Errorf("first store has %q after Set, want %q", got, "new")
	}
	if err := c.Delete("crm.api_key"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Get("crm.api_key"); got != "env-key" {
		t.Errorf("Get after Delete = %q, want the env value %q", got, "env-key")
	}
	if err := NewChain(env, first).Set("x.y", "v"); err == nil {
		t.Error("Set through a chain starting with the env store succeeded")
	}
}

func TestMemoryStore(t *testing.T) {
	var s MemoryStore // the zero value works
	if err := s.Delete("a.b"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			key := "inst.k" + string(rune('a'+i))
			if err := s.Set(key, key); err != nil {
				t.Error(err)
			}
			if got, err := s.Get(key); got != key || err != nil {
				t.Errorf("Get(%q) = %q, %v", key, got, err)
			}
		})
	}
	wg.Wait()
	if err := s.Set("inst.ka", "v2"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get("inst.ka"); got != "v2" {
		t.Errorf("Get after overwrite = %q, want v2", got)
	}
	if err := s.Delete("inst.ka"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("inst.ka"); !errors.Is(err, ErrSecretNotFound) {
		t.Errorf("Get after Delete: %v, want ErrSecretNotFound", err)
	}
	if err := s.Set(".x", "v"); err == nil {
		t.Error(`Set(".x") succeeded`)
	}
}

func TestInstanceSecrets(t *testing.T) {
	store := NewMemoryStore()
	if err := store.Set("office.password", "pw"); err != nil {
		t.Fatal(err)
	}
	s := InstanceSecrets{Store: store, Instance: "office"}
	if got, err := s.Secret("password"); got != "pw" || err != nil {
		t.Errorf(`Secret("password") = %q, %v; want "pw", nil`, got, err)
	}
	_, err := s.Secret("api_key")
	if !errors.Is(err, ErrSecretNotFound) || !strings.Contains(err.Error(), "RINGSIDE_SECRET_OFFICE_API_KEY") {
		t.Errorf(`Secret("api_key") error = %v, want not found naming RINGSIDE_SECRET_OFFICE_API_KEY`, err)
	}
	if _, err := (InstanceSecrets{Instance: "office"}).Secret("password"); err == nil {
		t.Error("Secret without a store succeeded")
	}
}
