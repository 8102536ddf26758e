#!/usr/bin/env bash
# screenshots.sh takes the README's pictures of the real desktop app: it runs
# `ringside demo` under Xvfb with a visible tray (gtk-sni-tray-standalone),
# waits for a caller popup, opens the tray menu, the call history and the
# settings through the tray's D-Bus menu, saves PNGs, then quits through
# the tray and checks that Ringside stopped cleanly.
#
# Run it inside the integration environment (Xvfb + session bus):
#
#   .ci/integration-env.sh .ci/screenshots.sh [BIN] [OUTDIR]
#
# BIN defaults to bin/ringside, OUTDIR to docs/screenshots. `make screenshots`
# does both. Packages: .ci/deps.sh test.
set -euo pipefail

bin=$(realpath "${1:-bin/ringside}")
out=${2:-docs/screenshots}
mkdir -p "$out"
out=$(realpath "$out")
work=$(mktemp -d "${TMPDIR:-/tmp}/ringside-shots.XXXXXX")
pids=()
cleanup() {
	local status=$?
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if ((status != 0)); then
		echo "screenshots: failed; app log:" >&2
		tail -n 40 "$work/app.log" >&2 || true
	fi
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT

log() { echo "screenshots: $*" >&2; }
die() {
	log "$*"
	exit 1
}
[[ -n ${DISPLAY:-} ]] || die "no DISPLAY: run me through .ci/integration-env.sh"
for tool in xdotool import gdbus gtk-sni-tray-standalone; do
	command -v "$tool" >/dev/null || die "$tool not found: run .ci/deps.sh test"
done

# wait_window TITLE-REGEXP [SECONDS]: prints the id of a visible window.
wait_window() {
	local id
	for _ in $(seq $((${2:-15} * 20))); do
		id=$(xdotool search --onlyvisible --name "$1" 2>/dev/null | head -n1 || true)
		if [[ -n $id ]]; then
			echo "$id"
			return 0
		fi
		sleep 0.05
	done
	die "no window named /$1/ within ${2:-15}s"
}

export LANG=${LANG:-en_US.UTF-8}
gtk-sni-tray-standalone --top --end --watcher --size 32 >"$work/tray.log" 2>&1 &
pids+=($!)
sleep 1

# Calls every 6–12 s, each ringing a few seconds; ended calls stay up a
# minute so a popup with its contact is there to be photographed.
RINGSIDE_POPUP_LINGER=60s HOME="$work" XDG_RUNTIME_DIR="$work" \
	"$bin" demo --data "$work/demo" --gap 4s --speed 4 >"$work/app.log" 2>&1 &
app=$!
pids+=("$app")
sni="org.kde.StatusNotifierItem-$app-1"

# The popup: wait for it and for the CRM lookup to fill it.
popup=$(wait_window '^Ringside call$' 40)
sleep 2.5
import -window root "$work/screen.png"
import -window "$popup" "$out/popup.png"
log "popup.png"

# menu_id LABEL: the tray menu item's id, from the menu's D-Bus layout.
menu_id() {
	local layout
	layout=$(gdbus call --session --dest "$sni" --object-path /StatusNotifierMenu \
		--method com.canonical.dbusmenu.GetLayout -- 0 -1 '["label"]')
	# The properties come in any order, whatever the filter asks for.
	grep -oP "\((\d+), \{[^}]*'label': <'\Q$1\E'>" <<<"$layout" | grep -oP '^\(\K\d+' | head -n1 || true
}
click() { # LABEL
	local id
	id=$(menu_id "$1")
	[[ -n $id ]] || die "tray menu has no item '$1'"
	gdbus call --session --dest "$sni" --object-path /StatusNotifierMenu \
		--method com.canonical.dbusmenu.Event -- "$id" clicked '<0>' 0 >/dev/null
}

# The tray menu as the tray host shows it: right-click the icon at the end
# of the bar.
read -r sw _ < <(xdotool getdisplaygeometry)
click 'Busy'
sleep 1
xdotool mousemove $((sw - 18)) 16 click 3
sleep 1
import -window root -crop 520x560+$((sw - 520))+0 "$out/tray-menu.png"
xdotool key Escape
sleep 0.3
log "tray-menu.png"

click 'Free'
sleep 20 # a few more calls for the history
click 'Call history'
history=$(wait_window '^Ringside: call history$')
sleep 1
xdotool mousemove --window "$history" 300 135 click 1 # the newest call: its details
sleep 0.5
import -window "$history" "$out/history.png"
log "history.png"
xdotool windowunmap "$history" || true

click 'Settings'
settings=$(wait_window '^Ringside: settings$')
sleep 1
xdotool mousemove --window "$settings" 197 21 click 1 # the Connectors tab
sleep 0.5
xdotool mousemove --window "$settings" 200 64 click 1 # open the first connector
sleep 0.5
import -window "$settings" "$out/settings.png"
log "settings.png"

# Quit drains the core and exits 0.
click 'Quit'
for _ in $(seq 200); do
	kill -0 "$app" 2>/dev/null || break
	sleep 0.05
done
if kill -0 "$app" 2>/dev/null; then
	die "Ringside still running 10s after Quit"
fi
wait "$app" || die "Ringside exited with status $? after Quit"
log "quit from the tray: exited cleanly; pictures in $out"
