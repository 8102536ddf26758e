#!/usr/bin/env bash
# deps.sh installs the Debian packages Ringside needs, and only the missing ones.
#
#   .ci/deps.sh build   cgo build of Fyne's GLFW driver
#   .ci/deps.sh test    headless X, notification daemon, Secret Service, tel: handler
#   .ci/deps.sh all     both (default)
#
# It is idempotent: packages already installed are left alone, `apt-get update`
# runs once and only when something is missing, and a second run installs
# nothing. It runs apt as root, through sudo when not root, and stops with a
# clear message when neither is possible.
set -euo pipefail

# The base image has gcc, pkg-config, libgl1-mesa-dev and the core X11
# headers; GLFW also needs Xcursor, Xrandr, Xinerama, Xi and Xxf86vm
# (see shared/RECIPES.md). This explicit list replaces the xorg-dev
# metapackage, which would pull in dozens of unused headers.
build_pkgs=(
	gcc pkg-config
	libgl1-mesa-dev libx11-dev libxext-dev libxrender-dev libxfixes-dev
	libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev
)

# Integration environment (.ci/integration-env.sh), `make install`, and a
# visible tray host for `make screenshots` (gtk-sni-tray-standalone).
test_pkgs=(
	xvfb xauth x11-utils xdotool imagemagick
	dbus dbus-x11 dunst libnotify-bin
	gnome-keyring libsecret-tools
	xdg-utils desktop-file-utils
	haskell-gtk-sni-tray-utils
)

usage() {
	echo "usage: $0 [build|test|all]" >&2
	exit 2
}

case "${1:-all}" in
build) wanted=("${build_pkgs[@]}") ;;
test) wanted=("${test_pkgs[@]}") ;;
all) wanted=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
-h | --help) usage ;;
*) usage ;;
esac
group=${1:-all}

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps.sh: dpkg-query not found: this script installs Debian packages; on other systems install the equivalents of: ${wanted[*]}" >&2
	exit 1
fi

missing=()
for pkg in "${wanted[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	case "$status" in
	*" ok installed") ;;
	*) missing+=("$pkg") ;;
	esac
done

if ((${#missing[@]} == 0)); then
	echo "deps.sh: all ${#wanted[@]} packages for '$group' already installed; nothing to do"
	exit 0
fi

if ((EUID == 0)); then
	as_root=()
elif command -v sudo >/dev/null 2>&1; then
	as_root=(sudo)
else
	echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
	echo "deps.sh: not running as root and sudo is not installed; install them as root with:" >&2
	echo "    apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi

echo "deps.sh: installing ${#missing[@]} missing package(s) for '$group': ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq --no-install-recommends "${missing[@]}"

# apt-get exits 0 for some partial failures; check each package again.
still=()
for pkg in "${missing[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	case "$status" in
	*" ok installed") ;;
	*) still+=("$pkg") ;;
	esac
done
if ((${#still[@]} > 0)); then
	echo "deps.sh: still not installed after apt-get: ${still[*]}" >&2
	exit 1
fi
echo "deps.sh: installed: ${missing[*]}"
