#!/usr/bin/env bash
# Builds dist/concord_VERSION_amd64.deb from the Linux GUI binary in
# dist/Concord.tar.xz (make package-linux): the binary on PATH
# (/usr/bin/concord), a desktop entry, the icon in the hicolor theme, and
# the shared libraries it links declared as Depends (dpkg-shlibdeps).
#   tools/package/deb.sh VERSION DIST
set -euo pipefail
version=$1 dist=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/debian/concord
tar -C "$work" -xJf "$dist/Concord.tar.xz"
bin=$(find "$work" -path '*/bin/concord' -type f | head -1)
[ -n "$bin" ] || { echo "no bin/concord in $dist/Concord.tar.xz" >&2; exit 1; }

install -D -m 0755 "$bin" "$root/usr/bin/concord"
install -D -m 0644 assets/icon.png "$root/usr/share/icons/hicolor/512x512/apps/concord.png"
for s in 256 128 64 48 32; do
  mkdir -p "$root/usr/share/icons/hicolor/${s}x${s}/apps"
  convert assets/icon.png -resize "${s}x${s}" "$root/usr/share/icons/hicolor/${s}x${s}/apps/concord.png"
done
install -D -m 0644 /dev/stdin "$root/usr/share/applications/org.concord.chat.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Concord
GenericName=Team chat
Comment=Peer-to-peer team chat with no server
Exec=concord
Icon=concord
Terminal=false
Categories=Network;Chat;InstantMessaging;
StartupWMClass=Concord
DESKTOP
install -D -m 0644 /dev/stdin "$root/usr/share/doc/concord/copyright" <<COPYRIGHT
Concord $version: peer-to-peer team chat.
Data: ~/.concord (never removed by the package). Documentation: README.md of the source.
COPYRIGHT

# The shared libraries the binary links (libc, libGL, X11, ...), as package
# names with versions, the way Debian's own packages declare them.
mkdir -p "$work/debian"
printf 'Source: concord\n\nPackage: concord\nArchitecture: amd64\n' > "$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O debian/concord/usr/bin/concord | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "dpkg-shlibdeps found no dependencies" >&2; exit 1; }
# GLFW (Fyne's window) loads these with dlopen, which dpkg-shlibdeps cannot
# see: cursor shapes, monitors, input and video modes.
depends="$depends, libxcursor1, libxrandr2, libxinerama1, libxi6, libxxf86vm1"

size=$(du -sk "$root/usr" | cut -f1)
mkdir -p "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CONTROL
Package: concord
Version: $version
Architecture: amd64
Maintainer: Concord <concord@example.invalid>
Installed-Size: $size
Depends: $depends
Section: net
Priority: optional
Homepage: https://example.invalid/concord
Description: peer-to-peer team chat with no server
 Every member's app is a libp2p host and a Raft node: the team's machines
 replicate one chat log, so every member sees the same history in the same
 order, and a message typed without quorum waits in a durable outbox.
 Run "concord" for the window, "concord help" for the command line.
CONTROL
out="$dist/concord_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
dpkg-deb --info "$out" | sed -n 's/^ *\(Depends\|Version\|Installed-Size\):/  &/p'
ls -l "$out"
