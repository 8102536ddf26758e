#!/usr/bin/env bash
# shellcheck disable=SC2317 # cleanup functions run from traps
# integration-env.sh runs a command inside Ringside's integration environment:
#
#   - a headless X server (Xvfb, 1280x800x24, on a free display, no TCP);
#   - a private D-Bus session bus (dbus-run-session), started after DISPLAY is
#     exported so that bus-activated services such as dunst can reach X;
#   - an unlocked gnome-keyring Secret Service with fresh XDG_DATA_HOME and
#     XDG_RUNTIME_DIR directories (mode 0700);
#   - dunst owning org.freedesktop.Notifications;
#   - RINGSIDE_INTEGRATION=1 and a UTF-8 LANG.
#
# Usage: .ci/integration-env.sh CMD [ARG...]
#
# It exits with CMD's status. Everything it starts (Xvfb, the bus, the keyring,
# dunst) is stopped when it exits, and its temporary directory is removed.
# Service logs go to that directory and are shown only when a service fails to
# start, so CMD's output is the last thing printed.
#
# The packages come from `.ci/deps.sh test`.
set -euo pipefail

log() { echo "integration-env: $*" >&2; }
die() {
	log "$*"
	exit 1
}

if (($# == 0)); then
	echo "usage: $0 CMD [ARG...]" >&2
	exit 2
fi

for tool in Xvfb xdpyinfo dbus-run-session dbus-daemon gdbus gnome-keyring-daemon dunst; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found: run .ci/deps.sh test"
done

workdir=$(mktemp -d "${TMPDIR:-/tmp}/ringside-integration.XXXXXX")
xvfb_pid=
cleanup() {
	local status=$?
	if [[ -n $xvfb_pid ]]; then
		kill "$xvfb_pid" 2>/dev/null || true
		wait "$xvfb_pid" 2>/dev/null || true
	fi
	rm -rf "$workdir"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Xvfb picks the first free display itself and writes its number to fd 3 once
# it accepts connections; unlike probing for lock files this cannot race with
# another run. It is started in the background and stopped by cleanup.
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp \
	3>"$workdir/display" >"$workdir/xvfb.log" 2>&1 &
xvfb_pid=$!

display=
for _ in $(seq 200); do
	if [[ -s $workdir/display ]]; then
		read -r display <"$workdir/display" || true
		[[ -n $display ]] && break
	fi
	if ! kill -0 "$xvfb_pid" 2>/dev/null; then
		cat "$workdir/xvfb.log" >&2
		die "Xvfb exited before choosing a display"
	fi
	sleep 0.05
done
[[ -n $display ]] || die "Xvfb chose no display within 10s"
export DISPLAY=":$display"

ready=
for _ in $(seq 200); do
	if xdpyinfo >/dev/null 2>&1; then
		ready=1
		break
	fi
	sleep 0.05
done
[[ -n $ready ]] || {
	cat "$workdir/xvfb.log" >&2
	die "Xvfb on $DISPLAY accepts no connections after 10s"
}

# en_US.UTF-8 when the machine has it, else C.UTF-8, which Debian always has.
if grep -qix 'en_US\.utf-\?8' <<<"$(locale -a 2>/dev/null)"; then
	export LANG=en_US.UTF-8
else
	export LANG=C.UTF-8
fi
export RINGSIDE_INTEGRATION=1
export RINGSIDE_INTEGRATION_DIR="$workdir"

# Runs inside the private session bus. $@ is CMD; its exit status becomes
# dbus-run-session's, which stops the bus when CMD is done.
cat >"$workdir/session.sh" <<'EOF'
set -euo pipefail
log() { echo "integration-env: $*" >&2; }
workdir=$RINGSIDE_INTEGRATION_DIR
unset RINGSIDE_INTEGRATION_DIR

bus() { # METHOD ARG...
	local method=$1
	shift
	gdbus call --session --dest org.freedesktop.DBus \
		--object-path /org/freedesktop/DBus --method "org.freedesktop.DBus.$method" "$@"
}
has_owner() { [[ $(bus NameHasOwner "$1" 2>/dev/null) == "(true,)" ]]; }
wait_owner() { # NAME LOGFILE
	local _
	for _ in $(seq 200); do
		has_owner "$1" && return 0
		sleep 0.05
	done
	[[ -s $2 ]] && cat "$2" >&2
	log "$1 has no owner on the session bus after 10s"
	return 1
}
owner_pid() { # prints the pid owning NAME, nothing if none
	local out
	out=$(bus GetConnectionUnixProcessID "$1" 2>/dev/null) || return 0
	[[ $out =~ uint32\ ([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
	return 0
}

dunst_pid=
keyring_pid=
stop_services() {
	local status=$?
	for pid in $dunst_pid $keyring_pid; do
		kill "$pid" 2>/dev/null || true
	done
	[[ -n $dunst_pid ]] && { wait "$dunst_pid" 2>/dev/null || true; }
	exit "$status"
}
trap stop_services EXIT

mkdir -m 0700 "$workdir/data" "$workdir/runtime"
export XDG_DATA_HOME=$workdir/data XDG_RUNTIME_DIR=$workdir/runtime

# gnome-keyring forks into the background and prints the variables to export
# (VAR=value lines; none with --components=secrets on current versions).
keyring_env=$(printf pass | gnome-keyring-daemon --unlock --components=secrets 2>"$workdir/keyring.log")
while IFS= read -r line; do
	[[ $line =~ ^[A-Z_][A-Z0-9_]*= ]] && export "$line"
done <<<"$keyring_env"
wait_owner org.freedesktop.secrets "$workdir/keyring.log"
keyring_pid=$(owner_pid org.freedesktop.secrets)

# Started here rather than bus-activated so that it is ours to stop.
dunst >"$workdir/dunst.log" 2>&1 &
dunst_pid=$!
wait_owner org.freedesktop.Notifications "$workdir/dunst.log"

log "DISPLAY=$DISPLAY LANG=$LANG keyring and dunst ready; running: $*"
set +e
"$@"
status=$?
set -e
exit "$status"
EOF

# The session runs as a background job in its own process group (set -m), so
# that on INT or TERM every process in it, CMD included, can be stopped at
# once; a foreground child would delay the trap until CMD finished by itself.
session_pid=
stop_session() {
	if [[ -n $session_pid ]]; then
		kill -TERM -- "-$session_pid" 2>/dev/null || true
		wait "$session_pid" 2>/dev/null || true
	fi
	exit "$1"
}
trap 'stop_session 130' INT
trap 'stop_session 143' TERM

# dbus-daemon logs every monitor connection to stderr; keep that in a file
# so that CMD's output is the last thing printed.
cat >"$workdir/dbus-daemon" <<EOF
#!/bin/sh
exec $(command -v dbus-daemon) "\$@" 2>>"$workdir/dbus-daemon.log"
EOF
chmod +x "$workdir/dbus-daemon"

set -m
dbus-run-session --dbus-daemon="$workdir/dbus-daemon" -- bash "$workdir/session.sh" "$@" &
session_pid=$!
set +m
status=0
wait "$session_pid" || status=$?
session_pid=
exit "$status"
