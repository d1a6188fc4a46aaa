#!/usr/bin/env bash
# Installs what the Firefox tests need, only when it is missing:
#   - Debian's firefox-esr (apt-get update only when something must be installed);
#   - geckodriver, through `cargo install geckodriver` (no --locked, see TOOLCHAIN.md).
# Idempotent. Can be run (`bash tests/firefox/ensure.sh`) or sourced from build.sh.
# It never lets a tool download a browser of its own.

_ff_ensure() {
  local sudo=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi

  if command -v firefox-esr >/dev/null 2>&1; then
    echo "firefox: $(firefox-esr --version 2>/dev/null | head -n1) already installed, skipping"
  else
    echo "firefox: firefox-esr missing, installing Debian's firefox-esr (apt-get update first)"
    $sudo apt-get update || return 1
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends firefox-esr || return 1
    echo "firefox: installed $(firefox-esr --version 2>/dev/null | head -n1)"
  fi

  # cargo installs into ~/.cargo/bin, which may not be on PATH yet.
  if ! command -v geckodriver >/dev/null 2>&1 && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/geckodriver" ]; then
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
  fi
  if geckodriver --version >/dev/null 2>&1; then
    echo "geckodriver: $(geckodriver --version | head -n1) already installed, skipping"
  else
    echo "geckodriver: missing, running cargo install geckodriver (compiles for a few minutes)"
    cargo install geckodriver || return 1
    echo "geckodriver: installed $(geckodriver --version | head -n1)"
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  _ff_ensure
else
  _ff_ensure
fi
