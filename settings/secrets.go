package settings

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/zalando/go-keyring"
)

// SecretStore keeps credentials. Keys look like "<instance>.<name>", e.g.
// "office.password". Implementations are safe for concurrent use. A Get or
// Set on the OS keyring may block while the desktop asks the user to unlock
// it. No error from a SecretStore contains a secret value.
type SecretStore interface {
	// Get returns the secret; an error that errors.Is ErrSecretNotFound when
	// it is absent, ErrKeyringUnavailable when the keyring could not be asked.
	Get(key string) (string, error)
	// Set stores value under key, replacing what was there.
	Set(key, value string) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(key string) error
}

// KeyringService is the service name of Ringside's entries in the OS
// keyring; the account is the key.
const KeyringService = "ringside"

// EnvPrefix starts the environment variables NewEnvStore reads.
const EnvPrefix = "RINGSIDE_SECRET_"

var (
	// ErrSecretNotFound means no store holds the key.
	ErrSecretNotFound = errors.New("secret not found")
	// ErrKeyringUnavailable means the OS keyring could not be reached or
	// used: no session bus, no Secret Service, a locked collection.
	ErrKeyringUnavailable = errors.New("OS keyring unavailable")
)

// secretError explains a secret that could not be had, naming every place
// it could come from. It never holds the value.
type secretError struct {
	op       string // "reading", "storing", "deleting"; "" for a plain miss
	key      string
	notFound bool  // no store had the key
	keyring  error // why the OS keyring could not be used; nil if it could
}

func (e *secretError) Error() string {
	env := EnvName(e.key)
	switch {
	case e.notFound && e.keyring == nil:
		return fmt.Sprintf("secret %q not found: store it in the OS keyring with \"ringside secret set %s\" (service %q, account %q) or set %s",
			e.key, e.key, KeyringService, e.key, env)
	case e.notFound:
		return fmt.Sprintf("secret %q not found: %s is not set and the OS keyring is unavailable (%v); set %s, or make the keyring available and run \"ringside secret set %s\"",
			e.key, env, e.keyring, env, e.key)
	case e.op == "deleting":
		return fmt.Sprintf("%s secret %q: %v: %v", e.op, e.key, ErrKeyringUnavailable, e.keyring)
	default:
		return fmt.Sprintf("%s secret %q: %v: %v; set %s to give it without the keyring",
			e.op, e.key, ErrKeyringUnavailable, e.keyring, env)
	}
}

func (e *secretError) Is(target error) bool {
	return (target == ErrSecretNotFound && e.notFound) || (target == ErrKeyringUnavailable && e.keyring != nil)
}

func (e *secretError) Unwrap() error { return e.keyring }

func notFound(key string) error { return &secretError{key: key, notFound: true} }

// checkKey refuses keys that are not "<instance>.<name>".
func checkKey(key string) error {
	instance, name, ok := strings.Cut(key, ".")
	if !ok || instance == "" || name == "" || strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("secret key %q: want <instance>.<name>, e.g. \"office.password\"", key)
	}
	return nil
}

// EnvName is the environment variable NewEnvStore reads for key:
// "office.password" → "RINGSIDE_SECRET_OFFICE_PASSWORD". Letters are
// upper-cased; anything but an ASCII letter or digit becomes "_".
func EnvName(key string) string {
	var b strings.Builder
	b.Grow(len(EnvPrefix) + len(key))
	b.WriteString(EnvPrefix)
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// keyringStore is the OS keyring: Secret Service on Linux and BSD, the
// login keychain on macOS, Credential Manager on Windows.
type keyringStore struct{}

// NewKeyring is the OS keyring, service KeyringService, account = key.
func NewKeyring() SecretStore { return keyringStore{} }

func (keyringStore) Get(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if err := sessionBusReachable(); err != nil {
		return "", &secretError{op: "reading", key: key, keyring: err}
	}
	v, err := keyring.Get(KeyringService, key)
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, keyring.ErrNotFound):
		return "", notFound(key)
	default:
		return "", &secretError{op: "reading", key: key, keyring: err}
	}
}

func (keyringStore) Set(key, value string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := sessionBusReachable(); err != nil {
		return &secretError{op: "storing", key: key, keyring: err}
	}
	err := keyring.Set(KeyringService, key, value)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return fmt.Errorf("storing secret %q: too large for the OS keyring: %w", key, err)
	default:
		return &secretError{op: "storing", key: key, keyring: err}
	}
}

func (keyringStore) Delete(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := sessionBusReachable(); err != nil {
		return &secretError{op: "deleting", key: key, keyring: err}
	}
	err := keyring.Delete(KeyringService, key)
	switch {
	case err == nil, errors.Is(err, keyring.ErrNotFound):
		return nil
	default:
		return &secretError{op: "deleting", key: key, keyring: err}
	}
}

// envStore reads secrets from environment variables named by EnvName.
type envStore struct {
	lookup func(string) (string, bool)
}

// NewEnvStore reads secrets from the environment through lookup (os.LookupEnv
// when nil): key "office.password" is RINGSIDE_SECRET_OFFICE_PASSWORD. A
// variable that is set counts, even if empty. It is read-only.
func NewEnvStore(lookup func(string) (string, bool)) SecretStore {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return envStore{lookup: lookup}
}

func (s envStore) Get(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if v, ok := s.lookup(EnvName(key)); ok {
		return v, nil
	}
	return "", notFound(key)
}

func (envStore) Set(key, _ string) error {
	return fmt.Errorf("storing secret %q: secrets from the environment (%s) are read-only; use the OS keyring", key, EnvName(key))
}

func (envStore) Delete(key string) error {
	return fmt.Errorf("deleting secret %q: secrets from the environment (%s) are read-only; unset the variable instead", key, EnvName(key))
}

// chain asks its stores in order.
type chain []SecretStore

// NewChain asks stores in order for Get: the first that has the key wins;
// one that fails (an unavailable keyring) is passed over. Set and Delete go
// to the first store. The usual chain is
// NewChain(NewKeyring(), NewEnvStore(os.LookupEnv)).
func NewChain(stores ...SecretStore) SecretStore { return chain(stores) }

func (c chain) Get(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	var (
		keyringErr error
		others     []error
	)
	for _, s := range c {
		v, err := s.Get(key)
		if err == nil {
			return v, nil
		}
		var se *secretError
		switch {
		case errors.As(err, &se) && se.keyring != nil:
			if keyringErr == nil {
				keyringErr = se.keyring
			}
		case errors.Is(err, ErrSecretNotFound):
		default:
			others = append(others, err)
		}
	}
	err := error(&secretError{key: key, notFound: true, keyring: keyringErr})
	if len(others) > 0 {
		err = errors.Join(append([]error{err}, others...)...)
	}
	return "", err
}

func (c chain) Set(key, value string) error {
	if len(c) == 0 {
		return fmt.Errorf("storing secret %q: no secret store", key)
	}
	return c[0].Set(key, value)
}

func (c chain) Delete(key string) error {
	if len(c) == 0 {
		return fmt.Errorf("deleting secret %q: no secret store", key)
	}
	return c[0].Delete(key)
}

// MemoryStore is a SecretStore in memory, for tests. The zero value is an
// empty store.
type MemoryStore struct {
	mu sync.Mutex
	m  map[string]string
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{m: map[string]string{}} }

// Get implements SecretStore.
func (s *MemoryStore) Get(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return "", notFound(key)
	}
	return v, nil
}

// Set implements SecretStore.
func (s *MemoryStore) Set(key, value string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[key] = value
	return nil
}

// Delete implements SecretStore.
func (s *MemoryStore) Delete(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// InstanceSecrets gives one connector instance its secrets: Secret("password")
// of instance "office" is key "office.password". It satisfies
// connectors.Secrets.
type InstanceSecrets struct {
	Store    SecretStore
	Instance string
}

// Secret returns the instance's secret called name.
func (s InstanceSecrets) Secret(name string) (string, error) {
	key := s.Instance + "." + name
	if s.Store == nil {
		return "", fmt.Errorf("secret %q: no secret store", key)
	}
	return s.Store.Get(key)
}
