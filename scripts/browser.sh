#!/usr/bin/env bash
# The browser of the browser test (tests/annotation/test_browser_annotator.py): Debian's chromium.
#
#   bash scripts/browser.sh
#
# The test drives the system `chromium` with Playwright (the Python package, a dev dependency).
# Playwright's own `playwright install` is never used: it downloads a browser build from the
# internet, while `chromium` comes from the distribution's package archive, which a CI machine
# reaches anyway. Debian's build plays H.264/AAC, the clips' codecs.
#
# Does nothing when `chromium` is already on PATH. Otherwise installs it with apt-get (as root, or
# through passwordless sudo); about 20 s with a nearby mirror (113 MB of packages, 480 MB on disk).
# On any other system, install Chromium yourself and put `chromium` on PATH.
set -euo pipefail

say() { printf 'browser: %s\n' "$*" >&2; }

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "chromium is not on PATH and there is no apt-get here: install Chromium and put \`chromium\` on PATH"
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  say "chromium is not installed and installing it needs root: run \`sudo apt-get install -y chromium\`"
  exit 1
fi

log="$(mktemp -t browser-apt.XXXXXX.log)"
say "installing Debian's chromium with apt-get (log: $log)"
started=$SECONDS
if ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1 \
  || ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >>"$log" 2>&1; then
  say "apt-get could not install chromium: $(grep -E '^(E|Err):' "$log" | tail -n 1 || true) (full log: $log)"
  exit 1
fi
if ! command -v chromium >/dev/null 2>&1; then
  say "apt-get installed chromium but \`chromium\` is still not on PATH (log: $log)"
  exit 1
fi
say "installed $(chromium --version 2>/dev/null | head -n 1) in $((SECONDS - started)) s"
rm -f "$log"
