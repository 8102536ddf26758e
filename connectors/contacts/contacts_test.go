package contacts

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/connectortest"
)

// where names the test's settings section.
const where = "test.toml [connectors.x]"

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// deps has no secrets, and its clock is nil unless one is given.
func deps(t testing.TB, dir string, clock clockwork.Clock, logs *connectortest.LogBuffer) connectors.Deps {
	t.Helper()
	d := connectortest.Deps(t, "phonebook", "RO")
	d.Clock, d.ConfigDir = clock, dir
	if logs != nil {
		d.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{ReplaceAttr: dropTime}))
	}
	return d
}

// newTestBook makes a "contacts" connector over files (copied from
// testdata when they exist there, else written from the given content).
func newTestBook(t *testing.T, d connectors.Deps, files ...string) *Book {
	t.Helper()
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = fmt.Sprintf("%q", f)
	}
	return connectortest.New[*Book](t, Type(), connectortest.Section(where, "files = ["+strings.Join(quoted, ", ")+"]"), d)
}

func copyTestdata(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, n), string(b))
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func lookup(t *testing.T, b *Book, raw string) connectors.Contact {
	t.Helper()
	c, err := b.Lookup(context.Background(), connectortest.Phones(t, "RO").Parse(raw))
	if err != nil {
		t.Fatalf("Lookup(%s): %v", raw, err)
	}
	return c
}

func TestSample(t *testing.T) {
	var cfg config
	if err := connectortest.Section(where, string(Type().Sample)).Decode(&cfg); err != nil {
		t.Fatalf("sample does not decode: %v", err)
	}
	if got, want := strings.Join(cfg.Files, ","), "contacts.csv,people.vcf"; got != want {
		t.Errorf("sample files = %s, want %s", got, want)
	}

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "contacts.csv"), "name,phone\nIon,0721000001\n")
	copyTestdata(t, dir, "people.vcf")
	c, err := Type().New(connectortest.Section(where, string(Type().Sample)), deps(t, dir, nil, nil))
	if err != nil {
		t.Fatalf("New(sample): %v", err)
	}
	if _, ok := c.(connectors.Lookuper); !ok {
		t.Error("not a Lookuper")
	}
	if _, ok := c.(connectors.Tester); !ok {
		t.Error("not a Tester")
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "nophone.csv"), "name,company\nIon,Acme\n")
	writeFile(t, filepath.Join(dir, "empty.csv"), "")
	writeFile(t, filepath.Join(dir, "junk.vcf"), "hello\nworld\n")
	tests := []struct {
		name string
		toml string
		want []string // substrings of the error
	}{
		{"no files", ``, []string{"test.toml [connectors.x]", "files", "at least one"}},
		{"empty list", `files = []`, []string{"test.toml [connectors.x]", "files"}},
		{"empty name", `files = [""]`, []string{"test.toml [connectors.x]", "files", "empty"}},
		{"unknown key", `files = ["a.csv"]` + "\nfile = 1", []string{"test.toml [connectors.x]", "file"}},
		{"wrong type", `files = "a.csv"`, []string{"test.toml [connectors.x]", "files"}},
		{"missing file", `files = ["missing.csv"]`, []string{"test.toml [connectors.x]", "files", "missing.csv", "no such file"}},
		{"no phone column", `files = ["nophone.csv"]`, []string{"nophone.csv", "no phone column"}},
		{"empty file", `files = ["empty.csv"]`, []string{"empty.csv", "header row"}},
		{"not a vcard", `files = ["junk.vcf"]`, []string{"junk.vcf", "no vCard"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Type().New(connectortest.Section(where, tt.toml), deps(t, dir, nil, nil))
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLookupFormats(t *testing.T) {
	dir := t.TempDir()
	copyTestdata(t, dir, "outlook.csv", "google.csv", "people.tsv", "people.vcf")
	b := newTestBook(t, deps(t, dir, nil, nil), "outlook.csv", "google.csv", "people.tsv", "people.vcf")

	ion := connectors.Contact{ID: "c-1", Name: "Ion Popescu", Company: "Acme SRL", Manager: "Maria", URL: "https://crm.example/c/1",
		Source: "phonebook", Extra: map[string]string{"email": "ion@acme.example"}}
	radu := connectors.Contact{Name: "Radu Georgescu", Company: "Georgescu & Fiii", Source: "phonebook", Extra: map[string]string{"email": "radu@example.com"}}
	andrei := connectors.Contact{ID: "urn:uuid:5f0c1c1e-0000-4000-8000-000000000077", Name: "Andrei Marin", Company: "Marin, Marin & Co",
		URL: "https://crm.example/contacts/77", Source: "phonebook", Extra: map[string]string{"email": "andrei@marin.example"}}
	tests := []struct {
		number string
		want   connectors.Contact
	}{
		{"+40721000001", ion},     // Outlook: BOM, ';', "Mobile"
		{"0040 21 300 0001", ion}, // "Business Phone", another spelling
		{"0722000002", connectors.Contact{Name: "Ana Ionescu", Source: "phonebook"}},
		{"+40723000003", radu}, // Google: "Phone 1 - Value" with " ::: "
		{"+40723000004", radu}, // the second number of the cell
		{"+40213000003", radu}, // "Phone 2 - Value"
		{"+40724000005", connectors.Contact{Name: "Elena Dumitru", Source: "phonebook"}},                     // given + family name
		{"+40725000006", connectors.Contact{Name: "Mihai Stan", Company: "Stan Trans", Source: "phonebook"}}, // tabs, first_name, telefon
		{"+40726000007", andrei}, // vCard 3.0
		{"+40213000007", andrei}, // its second TEL
		{"+40727000008", connectors.Contact{Name: "Dr. Ioana Vasile", Source: "phonebook"}},                  // vCard 4.0 tel: URI, N only
		{"+40728000009", connectors.Contact{Name: "Tudor Șerban", Company: "Apă Rece", Source: "phonebook"}}, // vCard 2.1
		{"+40799999999", connectors.Contact{}},                                                               // unknown
		{"", connectors.Contact{}},
	}
	for _, tt := range tests {
		got := lookup(t, b, tt.number)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Lookup(%s) = %+v, want %+v", tt.number, got, tt.want)
		}
	}
	if got, want := b.Len(), 8; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	if got, want := b.Summary(), "8 contacts from 4 files (1 without a phone number left out)"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	if err := b.Test(context.Background()); err != nil {
		t.Errorf("Test() = %v, want nil", err)
	}

	// A Phone without E164 is parsed again; the returned Extra is a copy.
	got, _ := b.Lookup(context.Background(), connectors.Phone{Raw: "0721 000 001"})
	if got.Name != "Ion Popescu" {
		t.Errorf("Lookup(raw only) = %+v, want Ion Popescu", got)
	}
	got.Extra["email"] = "changed"
	if again := lookup(t, b, "0721000001"); again.Extra["email"] != "ion@acme.example" {
		t.Errorf("Lookup result shares its Extra map with the book")
	}
}

func TestFirstWins(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.csv"), "name,phone\nFirst Row,0721000001\nSecond Row,+40 721 000 001\n")
	writeFile(t, filepath.Join(dir, "b.vcf"), "BEGIN:VCARD\nVERSION:3.0\nFN:Other File\nTEL:0721000001\nTEL:0721000002\nEND:VCARD\n")
	b := newTestBook(t, deps(t, dir, nil, nil), "a.csv", "b.vcf")
	if got := lookup(t, b, "0721000001").Name; got != "First Row" {
		t.Errorf("shared number: got %q, want First Row", got)
	}
	if got := lookup(t, b, "0721000002").Name; got != "Other File" {
		t.Errorf("second file's own number: got %q, want Other File", got)
	}
}

func TestSkippedRows(t *testing.T) {
	dir := t.TempDir()
	copyTestdata(t, dir, "bad.csv")
	logs := &connectortest.LogBuffer{}
	b := newTestBook(t, deps(t, dir, nil, logs), "bad.csv")
	for _, n := range []string{"0729000010", "0729000013", "0729000016"} {
		if !lookup(t, b, n).Known() {
			t.Errorf("%s not found", n)
		}
	}
	if got, want := b.Len(), 3; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	err := b.Test(context.Background())
	want := `3 contacts from 1 file; 4 rows skipped in bad.csv: line 3: bare " in non-quoted-field; line 4: 4 fields, the header has 2; line 6: bare " in non-quoted-field`
	if err == nil || err.Error() != want {
		t.Errorf("Test() = %v\nwant %s", err, want)
	}
	if !strings.Contains(logs.String(), "skipped=4") {
		t.Errorf("skipped rows not logged: %s", logs)
	}
	assertNoNumbers(t, logs.String())
}

// assertNoNumbers fails if a log holds any of the numbers (their last
// nine digits, however spelled).
func assertNoNumbers(t *testing.T, log string, numbers ...string) {
	t.Helper()
	for _, n := range numbers {
		d := connectortest.Phones(t, "RO").Parse(n).Key()
		if strings.Contains(log, d[len(d)-9:]) {
			t.Fatalf("log holds %s: %s", n, log)
		}
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.csv")
	writeFile(t, path, "name,phone\nOld Name,0721000001\n")
	clock := clockwork.NewFakeClock()
	logs := &connectortest.LogBuffer{}
	b := newTestBook(t, deps(t, dir, clock, logs), "c.csv")
	touch := func(content string) {
		t.Helper()
		writeFile(t, path, content)
		// A new modification time, whatever the file system's resolution.
		mt := time.Now().Add(time.Duration(rand.IntN(1000)+1) * time.Hour)
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}

	touch("name,phone\nNew Name,0721000001\nAdded,0721000002\n")
	if got := lookup(t, b, "0721000001").Name; got != "Old Name" {
		t.Errorf("before a second passed: got %q, want Old Name", got)
	}
	clock.Advance(time.Second)
	if got := lookup(t, b, "0721000001").Name; got != "New Name" {
		t.Errorf("after a second: got %q, want New Name", got)
	}
	if got := lookup(t, b, "0721000002").Name; got != "Added" {
		t.Errorf("added row: got %q, want Added", got)
	}

	// A broken file keeps the previous contacts and is logged once.
	touch("name,company\nNo,Phones\n")
	for range 3 {
		clock.Advance(time.Second)
		if got := lookup(t, b, "0721000002").Name; got != "Added" {
			t.Errorf("after a broken reload: got %q, want Added", got)
		}
	}
	if n := strings.Count(logs.String(), "cannot reload"); n != 1 {
		t.Errorf("reload failure logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "file=c.csv") {
		t.Errorf("reload failure does not name the file: %s", logs)
	}
	err := b.Test(context.Background())
	if err == nil || !strings.Contains(err.Error(), "c.csv cannot be read, using its previous version: no phone column") {
		t.Errorf("Test() after a broken reload = %v", err)
	}

	// A deleted file too.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if got := lookup(t, b, "0721000002").Name; got != "Added" {
		t.Errorf("after the file went away: got %q, want Added", got)
	}
	if err := b.Test(context.Background()); err == nil || !strings.Contains(err.Error(), "c.csv") {
		t.Errorf("Test() after the file went away = %v", err)
	}

	// Fixed again: reloaded.
	touch("name,phone\nBack,0721000003\n")
	clock.Advance(time.Second)
	if got := lookup(t, b, "0721000003").Name; got != "Back" {
		t.Errorf("after the fix: got %q, want Back", got)
	}
	if lookup(t, b, "0721000002").Known() {
		t.Error("a removed row is still found")
	}
	if err := b.Test(context.Background()); err != nil {
		t.Errorf("Test() after the fix = %v", err)
	}
	assertNoNumbers(t, logs.String(), "0721000001", "0721000002", "0721000003")
}

func TestConcurrentLookups(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.csv")
	writeFile(t, path, "name,phone\nA,0721000001\n")
	clock := clockwork.NewFakeClock()
	b := newTestBook(t, deps(t, dir, clock, nil), "c.csv")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if _, err := b.Lookup(context.Background(), connectors.Phone{E164: "+40721000001"}); err != nil {
					t.Error(err)
				}
				_ = b.Len()
			}
		})
	}
	for i := range 20 {
		writeFile(t, path, fmt.Sprintf("name,phone\nA%d,0721000001\n%s", i, strings.Repeat("\n", i)))
		clock.Advance(time.Second)
	}
	wg.Wait()
}

func TestNewBook(t *testing.T) {
	dir := t.TempDir()
	copyTestdata(t, dir, "outlook.csv")
	b, err := NewBook([]string{filepath.Join(dir, "outlook.csv")}, connectortest.Phones(t, "RO"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, b, "0721000001"); got.Name != "Ion Popescu" || got.Source != "contacts" {
		t.Errorf("Lookup = %+v, want Ion Popescu from contacts", got)
	}
	if _, err := NewBook([]string{filepath.Join(dir, "nope.csv")}, connectortest.Phones(t, "RO"), nil); err == nil || !strings.Contains(err.Error(), "nope.csv") {
		t.Errorf("NewBook(missing) = %v, want an error naming the file", err)
	}
	if _, err := NewBook(nil, nil, nil); err == nil {
		t.Error("NewBook without a phone parser succeeded")
	}
}

func TestHeaders(t *testing.T) {
	tests := []struct {
		header string
		phone  bool
	}{
		{"Phone", true}, {"Mobile Phone", true}, {"Phone 1 - Value", true}, {"phone 1 - type", false},
		{"Phone 2 - Label", false}, {"telefon", true}, {"Tel", true}, {"cell", true}, {"Hotel", false},
		{"Organization Title", false}, {"E-mail 1 - Value", false}, {"phones", true},
	}
	for _, tt := range tests {
		if got := isPhoneHeader(normalizeHeader(tt.header)); got != tt.phone {
			t.Errorf("isPhoneHeader(%q) = %v, want %v", tt.header, got, tt.phone)
		}
	}
	for _, tt := range []struct {
		line string
		want rune
	}{{"a,b,c", ','}, {"a;b;c", ';'}, {"a\tb\tc", '\t'}, {`"a;b",c`, ','}, {"a", ','}} {
		if got := detectDelimiter([]byte(tt.line)); got != tt.want {
			t.Errorf("detectDelimiter(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func checkParsed(t *testing.T, p parsed) {
	if len(p.warnings) > maxWarnings || len(p.warnings) > p.skipped {
		t.Fatalf("%d warnings for %d skipped", len(p.warnings), p.skipped)
	}
	for _, e := range p.contacts {
		if len(e.keys) == 0 {
			t.Fatalf("contact without keys: %+v", e)
		}
		for _, k := range e.keys {
			if k == "" || k == "+" {
				t.Fatalf("empty key in %+v", e)
			}
		}
	}
}

func FuzzParseCSV(f *testing.F) {
	for _, n := range []string{"google.csv", "outlook.csv", "people.tsv", "bad.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	pp := connectortest.Phones(f, "RO")
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseCSV(data, pp)
		if err != nil {
			return
		}
		checkParsed(t, p)
	})
}

func FuzzParseVCard(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "people.vcf"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	pp := connectortest.Phones(f, "RO")
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseVCard(data, pp)
		if err != nil {
			return
		}
		checkParsed(t, p)
	})
}

// writeBig writes n contacts and returns their numbers.
func writeBig(tb testing.TB, path string, n int) []connectors.Phone {
	tb.Helper()
	pp := connectortest.Phones(tb, "RO")
	var sb strings.Builder
	sb.WriteString("Name,Company,Phone,Mobile\n")
	nums := make([]connectors.Phone, 0, n)
	for i := range n {
		fixed, mobile := fmt.Sprintf("021%07d", i), fmt.Sprintf("07%08d", i)
		fmt.Fprintf(&sb, "Person %d,Company %d,%s,%s\n", i, i%97, fixed, mobile)
		nums = append(nums, pp.Parse(mobile))
	}
	writeFile(tb, path, sb.String())
	return nums
}

func BenchmarkLookup(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.csv")
	nums := writeBig(b, path, 10_000)
	book, err := NewBook([]string{path}, connectortest.Phones(b, "RO"), nil)
	if err != nil {
		b.Fatal(err)
	}
	if book.Len() != 10_000 {
		b.Fatalf("Len() = %d", book.Len())
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c, _ := book.Lookup(ctx, nums[i%len(nums)])
		if !c.Known() {
			b.Fatal("not found")
		}
		i++
	}
}

func BenchmarkLoad(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.csv")
	writeBig(b, path, 10_000)
	pp := connectortest.Phones(b, "RO")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewBook([]string{path}, pp, nil); err != nil {
			b.Fatal(err)
		}
	}
}
