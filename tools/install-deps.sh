#!/usr/bin/env bash
# Installs the Debian packages Concord needs, when missing (idempotent).
# make run / make test call it; so does CI through make test.
#   gcc, pkg-config, X11/OpenGL headers: the cgo Fyne GUI build
#   chrony: only in CI (CI=1) or where it is already installed: TestChrony runs a real NTP
#     server on 127.0.0.1 (never touching the system clock), but installing Debian's chrony
#     also makes it the machine's time service (it replaces systemd-timesyncd). Without it
#     TestChrony is skipped; the NTP client is still tested against the in-test responder.
#   xvfb, xdotool, x11-apps, imagemagick: the GUI smoke test (virtual display, typing, screenshot)
#   iproute2: network namespaces for the LAN discovery tests (loopback has no multicast)
#   iptables: the chaos suite's bridge partition (rules inside the members' namespaces)
# With the argument "package" (make package) also:
#   gcc-mingw-w64-x86-64: the cgo cross-compiler for the Windows .exe
#   xz-utils: the Linux .tar.xz
#   wixl: the Windows .msi (imagemagick, above, draws its icon)
#   dpkg-dev: the .deb's Depends (dpkg-shlibdeps); debootstrap: make test-deb's clean Debian image
# With "wine" (make test-windows): the packages for package, and
#   wine, wine64: running the Windows build (mingw builds its test-only ProcessPrng shim)
set -euo pipefail
pkgs=(make gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev
  libxi-dev libxxf86vm-dev xvfb xdotool x11-apps imagemagick iproute2 iptables)
if [ -n "${CI:-}" ]; then
  pkgs+=(chrony)
elif ! dpkg -s chrony >/dev/null 2>&1 && [ "${1:-}" = "" ]; then
  echo "note: chrony is not installed, so TestChrony is skipped (NTP is tested against an in-test server);" >&2
  echo "      CI=1 installs it, which also makes chrony this machine's time service" >&2
fi
case "${1:-}" in
package) pkgs+=(gcc-mingw-w64-x86-64 xz-utils wixl dpkg-dev debootstrap) ;;
wine) pkgs+=(gcc-mingw-w64-x86-64 xz-utils wixl dpkg-dev debootstrap wine wine64) ;;
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
