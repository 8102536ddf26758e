package main

import (
	"bufio"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/ringside/ringside/settings"
)

var secretName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}\.[a-z][a-z0-9_]{0,31}$`)

// secret manages keyring entries. The value is read from stdin so it never
// shows up in the shell history or the process list.
func (e *env) secret(args []string) error {
	if len(args) != 2 {
		return usageError{errors.New("usage: ringside secret set|delete|check INSTANCE.NAME (the value of set is read from stdin)")}
	}
	op, name := args[0], args[1]
	if !secretName.MatchString(name) {
		return usageError{fmt.Errorf("secret name %q: want <connector instance>.<secret>, e.g. office.password", name)}
	}
	store := secrets()
	switch op {
	case "set":
		fmt.Fprintf(e.stderr, "value for %s (one line, read from stdin): ", name)
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		value := strings.TrimRight(line, "\r\n")
		if value == "" {
			if err != nil {
				return fmt.Errorf("read secret from stdin: %w", err)
			}
			return errors.New("empty secret: nothing stored")
		}
		fmt.Fprintln(e.stderr)
		if err := settings.NewKeyring().Set(name, value); err != nil {
			return fmt.Errorf("store %s in the OS keyring: %w", name, err)
		}
		fmt.Fprintf(e.stdout, "stored %s in the OS keyring (service %q)\n", name, settings.KeyringService)
	case "delete":
		if err := settings.NewKeyring().Delete(name); err != nil {
			return fmt.Errorf("delete %s from the OS keyring: %w", name, err)
		}
		fmt.Fprintf(e.stdout, "deleted %s\n", name)
	case "check":
		if _, err := store.Get(name); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s is set\n", name)
	default:
		return usageError{fmt.Errorf("unknown secret operation %q: want set, delete or check", op)}
	}
	return nil
}
