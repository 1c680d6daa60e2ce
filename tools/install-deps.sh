#!/usr/bin/env bash
# Installs the Debian packages Concord needs, when missing (idempotent).
# make run / make test call it; so does CI through make test.
#   gcc, pkg-config, X11/OpenGL headers: the cgo Fyne GUI build
#   chrony: the time tests run a real NTP server on 127.0.0.1 (never touching the system clock)
#   xvfb, xdotool, x11-apps, imagemagick: the GUI smoke test (virtual display, typing, screenshot)
#   iproute2: network namespaces for the LAN discovery tests (loopback has no multicast)
#   iptables: the chaos suite's bridge partition (rules inside the members' namespaces)
# With the argument "package" (make package) also:
#   gcc-mingw-w64-x86-64: the cgo cross-compiler for the Windows .exe
#   xz-utils: the Linux .tar.xz
# With "wine" (make test-windows): the packages for package, and
#   wine, wine64: running the Windows build (mingw builds its test-only ProcessPrng shim)
set -euo pipefail
pkgs=(make gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev
  libxi-dev libxxf86vm-dev chrony xvfb xdotool x11-apps imagemagick iproute2 iptables)
case "${1:-}" in
package) pkgs+=(gcc-mingw-w64-x86-64 xz-utils) ;;
wine) pkgs+=(gcc-mingw-w64-x86-64 xz-utils wine wine64) ;;
esac
need=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing: ${need[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
