// Command ringside is the call-center agent's desktop companion.
//
//	ringside [--headless] [--config FILE]     run: tray and popups (headless: notifications only)
//	ringside tel:NUMBER | callto:NUMBER       dial through the running Ringside (desktop links)
//	ringside dial NUMBER                      the same for a number
//	ringside demo                             run against the built-in Accolades simulator
//	ringside history [--json] [filters]       print the call journal
//	ringside doctor                           check config, keyring, notifications, storage, connectors
//	ringside secret set|delete|check NAME     manage secrets in the OS keyring
//	ringside autostart on|off|status          start with the desktop session
//	ringside config example|path              print a commented example config, or its path
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ringside/ringside/cmd/ringside/guilog"
	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/accolades"
	"github.com/ringside/ringside/connectors/contacts"
	"github.com/ringside/ringside/connectors/httpcrm"
	"github.com/ringside/ringside/connectors/jsonl"
	"github.com/ringside/ringside/connectors/retailcrm"
	"github.com/ringside/ringside/settings"
)

// version is set by the linker (-X main.version=…).
const version = "0.1.0"

func main() {
	guilog.Restore() // after the packages' initialisation; see guilog
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "ringside:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "ringside:", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

// registry lists every vendor this binary speaks.
func registry() *connectors.Registry {
	return connectors.NewRegistry(accolades.Type(), contacts.Type(), httpcrm.Type(), jsonl.Type(), retailcrm.Type())
}

// env is what every subcommand gets.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	configPath     string
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{stdin: stdin, stdout: stdout, stderr: stderr}
	cmd := ""
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	if isDialURI(cmd) { // a desktop handing over a link: Exec=ringside %u
		return e.runApp(ctx, append(args, cmd))
	}
	switch cmd {
	case "":
		return e.runApp(ctx, args)
	case "dial":
		return e.dial(ctx, args)
	case "demo":
		return e.demo(ctx, args)
	case "register":
		return e.register(ctx, args)
	case "history":
		return e.history(ctx, args)
	case "doctor":
		return e.doctor(ctx, args)
	case "secret":
		return e.secret(args)
	case "autostart":
		return e.autostart(args)
	case "config":
		return e.config(args)
	case "version":
		fmt.Fprintln(stdout, "ringside", version)
		return nil
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError{fmt.Errorf("unknown command %q\n%s", cmd, usage)}
}

const usage = `usage:
  ringside [--headless] [--config FILE]   run Ringside: tray and caller popups (--headless: notifications only)
  ringside [--config FILE] tel:NUMBER     dial a tel: or callto: link through the running Ringside (or start one)
  ringside dial [--config FILE] NUMBER    the same for a number
  ringside demo [--headless] [--gap 8s] [--speed 10]  run against the built-in Accolades simulator: no account needed
  ringside history [--json] [--number DIGITS] [--name TEXT] [--since DATE] [--until DATE] [--missed] [--limit N]
  ringside register [--config FILE] NAME  register a connector's integration with its vendor (retailCRM's telephony module)
  ringside doctor [--config FILE]         check config, keyring, notifications, storage and connectors
  ringside secret set|delete|check NAME   keep a secret (e.g. office.password) in the OS keyring
  ringside autostart on|off|status        start Ringside when you log in
  ringside config example|path            print a commented example config, or where it lives
  ringside version
`

// flags makes a flag set with the shared --config flag.
func (e *env) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&e.configPath, "config", settings.DefaultPath(), "settings file")
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}

// logger builds the process logger from the settings.
func logger(w io.Writer, cfg *settings.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// secrets is the keyring, falling back to RINGSIDE_SECRET_* variables.
func secrets() settings.SecretStore {
	return settings.NewChain(settings.NewKeyring(), settings.NewEnvStore(os.LookupEnv))
}
