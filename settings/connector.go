package settings

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/BurntSushi/toml"
)

// ConnectorConfig is one [connectors.<name>] section. Type and enabled are
// read by settings; every other key belongs to the vendor, who reads them
// with Decode. It satisfies connectors.Section.
type ConnectorConfig struct {
	Name    string // instance name, the <name> in [connectors.<name>]
	Type    string // vendor type, e.g. "httpcrm"
	Enabled bool   // false keeps the section but does not start the connector

	values map[string]any // the vendor keys as decoded (everything but type and enabled)
	file   string         // settings file, for messages
	// src is the whole settings file the section was read from, so that
	// Decode can name lines; nil for a section built with NewConnectorConfig.
	src []byte
}

// NewConnectorConfig builds a section in code (the settings window, tests).
// values are the vendor keys, as TOML would decode them: string, int64,
// float64, bool, time.Time, []any, map[string]any, []map[string]any.
// Keys "type" and "enabled" in values are ignored.
func NewConnectorConfig(name, typ string, enabled bool, values map[string]any) ConnectorConfig {
	cc := ConnectorConfig{Name: name, Type: typ, Enabled: enabled, values: map[string]any{}}
	for k, v := range values {
		if k != "type" && k != "enabled" {
			cc.values[k] = deepCopy(v)
		}
	}
	return cc
}

// Values returns a copy of the vendor keys.
func (c ConnectorConfig) Values() map[string]any {
	m := make(map[string]any, len(c.values))
	for k, v := range c.values {
		m[k] = deepCopy(v)
	}
	return m
}

// Where names the section for messages: `/path/config.toml [connectors.office]`.
func (c ConnectorConfig) Where() string {
	if c.file == "" {
		return "[" + sectionName(c.Name) + "]"
	}
	return c.file + " [" + sectionName(c.Name) + "]"
}

// Decode fills v, a pointer to a struct with toml tags, from the vendor
// keys. It is strict: a key v has no field for, or a value of the wrong
// type, is an error naming the file, the section and the key (and the line
// when the section came from a file). Decoding into a field of type any
// leaves the keys below it undecoded, which counts as unknown: use concrete
// types. Decode may be called any number of times, from any goroutine.
func (c ConnectorConfig) Decode(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("%s: decode: want a non-nil pointer, got %T", c.Where(), v)
	}
	if c.src != nil {
		// Decode the section again from the file itself: a fresh MetaData
		// per call keeps Undecoded exact and gives errors their line.
		if found, err := c.decodeFrom(c.src, true, v); found {
			return err
		}
	}
	src, err := toml.Marshal(map[string]any{"connectors": map[string]any{c.Name: c.values}})
	if err != nil {
		return fmt.Errorf("%s: decode: %w", c.Where(), err)
	}
	_, err = c.decodeFrom(src, false, v)
	return err
}

// decodeFrom decodes this section of the TOML document src into v; found is
// false when src has no such section.
func (c ConnectorConfig) decodeFrom(src []byte, lines bool, v any) (found bool, err error) {
	var doc struct {
		Connectors map[string]toml.Primitive `toml:"connectors"`
	}
	md, err := toml.Decode(string(src), &doc)
	if err != nil {
		return true, fmt.Errorf("%s: decode: %w", c.Where(), err)
	}
	prim, ok := doc.Connectors[c.Name]
	if !ok {
		return false, nil
	}
	section := sectionName(c.Name)
	// Decode into a struct that also takes type and enabled, so that they
	// do not count as unknown, then into v.
	var own struct {
		Type    string `toml:"type"`
		Enabled bool   `toml:"enabled"`
	}
	if err := md.PrimitiveDecode(prim, &own); err != nil {
		return true, c.fileError(tomlError(c.file, section, err), lines)
	}
	if err := md.PrimitiveDecode(prim, v); err != nil {
		return true, c.fileError(tomlError(c.file, section, err), lines)
	}
	var (
		errs     []error
		reported []toml.Key
	)
	for _, k := range md.Undecoded() {
		if len(k) < 3 || k[0] != "connectors" || k[1] != c.Name || hasPrefix(k, reported) {
			continue
		}
		reported = append(reported, k)
		errs = append(errs, unknownKeyError(c.file, section, toml.Key(k[2:]).String()))
	}
	return true, errors.Join(errs...)
}

// fileError drops line and column when they point into a document that
// Decode made up rather than the user's file.
func (c ConnectorConfig) fileError(fe *FileError, lines bool) *FileError {
	if !lines {
		fe.Line, fe.Col = 0, 0
	}
	return fe
}

// deepCopy copies the containers TOML decodes to, so that a caller cannot
// change a ConnectorConfig through a map it got from Values.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = deepCopy(e)
		}
		return m
	case []map[string]any:
		s := make([]map[string]any, len(v))
		for i, e := range v {
			s[i] = deepCopy(e).(map[string]any)
		}
		return s
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = deepCopy(e)
		}
		return s
	default:
		return v // string, int64, float64, bool, time.Time: values
	}
}
