#!/usr/bin/env bash
# make test-deb: installs dist/concord_VERSION_amd64.deb in a clean Debian 12
# container (minbase, no X, no GL: only what the .deb's Depends pull in from
# Debian's mirror), checks the binary is on PATH with its desktop entry and
# icon, starts it with no arguments (as the desktop entry does) on Xvfb and
# waits for its window, takes a screenshot, then removes the package and
# checks nothing of it is left.
#   tools/package/test-deb.sh VERSION DIST SCREENSHOT
# No image can be pulled here: the base image is made once with debootstrap
# from the mirror apt uses, and imported (concord-debtest:bookworm).
set -euo pipefail
version=$1 dist=$(cd "$2" && pwd) shot=$3
deb=concord_${version}_amd64.deb
image=concord-debtest:bookworm
[ -f "$dist/$deb" ] || { echo "no $dist/$deb: make package" >&2; exit 1; }
command -v docker >/dev/null || { echo "test-deb needs docker" >&2; exit 1; }

if ! docker image inspect "$image" >/dev/null 2>&1; then
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "== making $image with debootstrap from $mirror (~30 s, once)"
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
  tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
fi

echo "== installing $deb in a clean $image container"
docker run --rm -v "$dist:/dist:ro" -v "$(dirname "$(realpath -m "$shot")"):/out" "$image" bash -euo pipefail -c '
  export DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
  apt-get update -qq
  fail() { echo "FAIL: $*"; exit 1; }
  # The .deb first, into the bare system: what it needs must come from its Depends.
  apt-get install -y -qq --no-install-recommends "/dist/'"$deb"'" >/tmp/install.log
  echo "installed with $(grep -c "^Setting up" /tmp/install.log) packages (the .deb and its Depends)"
  [ "$(command -v concord)" = /usr/bin/concord ] || fail "concord is not on PATH"
  concord version
  test -f /usr/share/applications/org.concord.chat.desktop || fail "no desktop entry"
  grep -q "^Exec=concord$" /usr/share/applications/org.concord.chat.desktop || fail "desktop entry Exec"
  test -f /usr/share/icons/hicolor/256x256/apps/concord.png || fail "no icon"
  ldd /usr/bin/concord | grep "not found" && fail "unresolved libraries"
  # Then the test tools (a display, xdotool, xwd).
  apt-get install -y -qq --no-install-recommends xvfb xdotool x11-apps >/dev/null

  Xvfb :7 -screen 0 1280x800x24 -nolisten tcp 2>/dev/null &
  export DISPLAY=:7 LIBGL_ALWAYS_SOFTWARE=1
  for i in $(seq 100); do xdotool getmouselocation >/dev/null 2>&1 && break; sleep 0.1; done
  concord >/tmp/concord.log 2>&1 &   # as the desktop entry runs it
  pid=$!
  win=""
  for i in $(seq 600); do
    kill -0 $pid 2>/dev/null || { echo "concord exited:"; cat /tmp/concord.log; exit 1; }
    win=$(xdotool search --onlyvisible --name "^Concord$" 2>/dev/null | head -1) && [ -n "$win" ] && break
    sleep 0.1
  done
  [ -n "$win" ] || { echo "no Concord window in 60 s"; cat /tmp/concord.log; exit 1; }
  echo "window $win: $(xdotool getwindowgeometry $win | tr -s "\n " " ")"
  # Drawn once the screen changes no more between two looks a second apart.
  prev=""
  for i in $(seq 30); do
    cur=$(xwd -root -silent | md5sum)
    [ "$cur" = "$prev" ] && break
    prev=$cur; sleep 1
  done
  xwd -root -silent > /out/deb-window.xwd
  kill $pid; wait $pid || true

  apt-get remove -y -qq concord >/dev/null
  for f in /usr/bin/concord /usr/share/applications/org.concord.chat.desktop /usr/share/icons/hicolor/256x256/apps/concord.png /usr/share/doc/concord; do
    if test -e "$f"; then fail "$f is left after apt-get remove"; fi
  done
  if dpkg -s concord >/dev/null 2>&1; then fail "dpkg still lists concord"; fi
  echo "removed: no concord files left"
'
convert "$(dirname "$(realpath -m "$shot")")/deb-window.xwd" "$shot"
rm "$(dirname "$(realpath -m "$shot")")/deb-window.xwd"
echo "screenshot: $shot"
