# Ringside. `make run` builds and starts the demo; `make test` runs everything
# CI runs. Both install the Debian packages they need first (.ci/deps.sh).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
MAKEFLAGS += --no-builtin-rules

# Go from PATH, else the tarball install.
export PATH := $(PATH):/usr/local/go/bin

BIN      := bin/ringside
FUZZTIME ?= 20s

# Where `make install` puts things (per user, no root needed).
BINDIR  ?= $(HOME)/.local/bin
DATADIR ?= $(or $(XDG_DATA_HOME),$(HOME)/.local/share)
APPDIR  := $(DATADIR)/applications
ICONDIR := $(DATADIR)/icons/hicolor/256x256/apps

# Packages that need cgo or a display (Fyne's GLFW driver), as an extended
# regexp of directories; every other package must vet on Windows and macOS
# without cgo. Absent directories are fine: the filter then matches nothing.
NONPORTABLE   := app/ui|cmd/ringside/gui
MODULE         = $(shell go list -m)
PORTABLE_PKGS  = $(shell go list -e ./... | grep -v -E '^$(MODULE)/($(NONPORTABLE))(/|$$)')

# Tracked and new (not ignored) Go files that exist in the work tree.
GOFILES = $(wildcard $(shell git ls-files --cached --others --exclude-standard -- '*.go'))

.PHONY: deps deps-build deps-test build run test vet fmt-check vet-portable \
	integration bench fuzz install uninstall clean screenshots measure-gui

deps:
	bash .ci/deps.sh all

deps-build:
	bash .ci/deps.sh build

deps-test:
	bash .ci/deps.sh test

build: deps-build
	go build -o $(BIN) ./cmd/ringside

run: build
	./$(BIN) demo

# In this order even under make -j; the integration run comes last so that
# go test's summary ends the output.
test:
	@$(MAKE) --no-print-directory -j1 deps vet fmt-check vet-portable integration

vet:
	go vet ./...

fmt-check:
	@files=$$($(if $(GOFILES),gofmt -l $(GOFILES))); \
	if [[ -n $$files ]]; then \
		echo "gofmt: these files are not formatted (run gofmt -w on them):"; \
		echo "$$files"; \
		exit 1; \
	fi

vet-portable:
	@pkgs="$(PORTABLE_PKGS)"; \
	if [[ -z $$pkgs ]]; then echo "vet-portable: no packages"; exit 0; fi; \
	for goos in windows darwin; do \
		echo "GOOS=$$goos CGO_ENABLED=0 go vet <$$(wc -w <<<"$$pkgs") packages>"; \
		GOOS=$$goos CGO_ENABLED=0 go vet $$pkgs; \
	done

integration:
	bash .ci/integration-env.sh go test -race -count=1 ./...

# Pictures of the real desktop app (demo, Xvfb, a visible tray) for the README.
screenshots: build deps-test
	bash .ci/integration-env.sh bash .ci/screenshots.sh $(BIN) docs/screenshots

# Idle RSS and ring → popup latency of the desktop app under Xvfb (~2 min).
measure-gui: deps
	RINGSIDE_GUI_MEASURE=1 bash .ci/integration-env.sh go test -count=1 -run '^TestGUIMeasure$$' -v ./cmd/ringside

bench:
	go test -run '^$$' -bench . -benchmem ./...

# Runs every fuzz target, one at a time (go test -fuzz takes one package and
# one target), each for FUZZTIME. New crashers land in testdata/fuzz.
fuzz:
	@for pkg in $$(go list ./...); do \
		targets=$$(go test -list 'Fuzz.*' "$$pkg" | grep -E '^Fuzz' || true); \
		for target in $$targets; do \
			echo "fuzz: $$pkg $$target for $(FUZZTIME)"; \
			go test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
		done; \
	done

install: build
	install -d "$(BINDIR)" "$(APPDIR)" "$(ICONDIR)"
	install -m 0755 $(BIN) "$(BINDIR)/ringside"
	install -m 0644 assets/icon.png "$(ICONDIR)/ringside.png"
	sed 's|@BIN@|$(BINDIR)/ringside|' assets/ringside.desktop.in >"$(APPDIR)/ringside.desktop"
	chmod 0644 "$(APPDIR)/ringside.desktop"
	@if command -v update-desktop-database >/dev/null; then \
		update-desktop-database "$(APPDIR)"; \
	else echo "install: update-desktop-database not found (desktop-file-utils); skipped"; fi
	@if command -v xdg-mime >/dev/null; then \
		xdg-mime default ringside.desktop x-scheme-handler/tel x-scheme-handler/callto; \
		echo "install: ringside.desktop now handles tel: and callto: links"; \
	else echo "install: xdg-mime not found (xdg-utils); tel: links not registered"; fi
	@if command -v gtk-update-icon-cache >/dev/null; then \
		gtk-update-icon-cache -q -t -f "$(DATADIR)/icons/hicolor" || true; \
	fi
	@echo "install: $(BINDIR)/ringside, $(APPDIR)/ringside.desktop, $(ICONDIR)/ringside.png"

uninstall:
	rm -f "$(BINDIR)/ringside" "$(APPDIR)/ringside.desktop" "$(ICONDIR)/ringside.png"
	@if command -v update-desktop-database >/dev/null; then update-desktop-database "$(APPDIR)"; fi

clean:
	rm -rf bin
