// Package guilog keeps Fyne's package initialisation from writing to the
// terminal of every ringside command.
//
// Fyne's lang package parses the user's locale when it is initialised and
// logs three lines of "Fyne error" to the standard logger when the locale
// is C or POSIX (C.UTF-8 is Debian's default) — before main runs, so a
// `ringside history --json` would print them too. Go initialises packages
// in import-path order where dependencies allow (Go 1.21 and later); this
// package, which imports only the standard library, sorts before
// golang.org/x/text/language, which Fyne's lang needs, so its init runs
// first and mutes the standard logger for a C locale. main calls Restore
// as its first statement.
package guilog

import (
	"io"
	"log"
	"os"
	"strings"
)

func init() {
	if cLocale(os.Getenv) {
		log.SetOutput(io.Discard)
	}
}

// cLocale reports whether the locale Fyne reads (the first of LC_ALL,
// LC_MESSAGES and LANG that is set) is C or POSIX, which it cannot parse.
func cLocale(getenv func(string) string) bool {
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v := getenv(name)
		if v == "" {
			continue
		}
		if i := strings.IndexAny(v, ".@"); i >= 0 {
			v = v[:i]
		}
		return v == "C" || v == "POSIX"
	}
	return false
}

// Restore sends the standard logger to stderr again.
func Restore() { log.SetOutput(os.Stderr) }
