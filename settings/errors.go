package settings

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// FileError is one problem in the settings file. Load and Validate return
// one FileError per problem, joined with errors.Join; a caller that wants to
// point at a key (the settings window) can pull them out with errors.As or
// by unwrapping the join.
type FileError struct {
	File    string // the settings file; "" for a Config that was never loaded or saved
	Line    int    // 1-based; 0 when not known
	Col     int    // 1-based; 0 when not known
	Section string // "connectors.office" for a problem inside a connector section, else ""
	Key     string // dotted key relative to Section; "" when the problem is not about one key
	Msg     string // what is wrong and what is allowed, naming the key
	Err     error  // underlying error, if any
}

func (e *FileError) Error() string {
	var b strings.Builder
	if e.File == "" {
		b.WriteString("settings")
	} else {
		b.WriteString(e.File)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteByte(':')
	if e.Section != "" {
		fmt.Fprintf(&b, " [%s]", e.Section)
	}
	b.WriteByte(' ')
	b.WriteString(e.Msg)
	return b.String()
}

func (e *FileError) Unwrap() error { return e.Err }

// keyError is a problem with the value of key.
func keyError(file, section, key, format string, args ...any) *FileError {
	return &FileError{
		File:    file,
		Section: section,
		Key:     key,
		Msg:     fmt.Sprintf("key %q: ", key) + fmt.Sprintf(format, args...),
	}
}

// unknownKeyError reports a key the settings do not define.
func unknownKeyError(file, section, key string) *FileError {
	return &FileError{File: file, Section: section, Key: key, Msg: fmt.Sprintf("unknown key %q", key)}
}

// decodeErrorRE matches the position prefix BurntSushi/toml puts on type
// errors that are not a ParseError: `toml: line 3 (last key "a.b"): …`.
var decodeErrorRE = regexp.MustCompile(`(?s)^toml: (?:line (\d+) )?\(last key ("(?:[^"\\]|\\.)*")\): (.*)$`)

// tomlError turns an error from BurntSushi/toml into a FileError naming the
// file, the line and the key. prefix is the key path of the section being
// decoded ("connectors.office"), stripped from the key; "" at top level.
func tomlError(file, prefix string, err error) *FileError {
	fe := &FileError{File: file, Section: prefix, Err: err}
	var (
		key string
		msg string
	)
	if pe, ok := errors.AsType[toml.ParseError](err); ok {
		fe.Line, fe.Col = pe.Position.Line, pe.Position.Col
		key, msg = pe.LastKey, pe.Message
	} else if m := decodeErrorRE.FindStringSubmatch(err.Error()); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		key, _ = strconv.Unquote(m[2])
		msg = m[3]
	} else {
		msg = strings.TrimPrefix(err.Error(), "toml: ")
	}
	if prefix != "" {
		key = strings.TrimPrefix(key, prefix+".")
		if key == prefix {
			key = ""
		}
	}
	fe.Key = key
	if key != "" {
		fe.Msg = fmt.Sprintf("key %q: %s", key, msg)
	} else {
		fe.Msg = msg
	}
	return fe
}
