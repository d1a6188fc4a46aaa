#!/usr/bin/env bash
# Installs what the WebDriver tests need, only when it is missing (apt-get update only when
# something must be installed):
#   - Firefox: Debian's firefox-esr, and geckodriver through `cargo install geckodriver` (no
#     --locked, see TOOLCHAIN.md);
#   - WebKit: Debian's webkit2gtk-driver (WebKitWebDriver and MiniBrowser) and xvfb.
# Idempotent. Can be run (`bash tests/webdriver/ensure.sh`) or sourced from build.sh.
# It never lets a tool download a browser of its own.

_wd_apt() {
  local sudo=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
  $sudo apt-get update || return 1
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "$@" || return 1
}

_wd_ensure() {
  if command -v firefox-esr >/dev/null 2>&1; then
    echo "firefox: $(firefox-esr --version 2>/dev/null | head -n1) already installed, skipping"
  else
    echo "firefox: firefox-esr missing, installing Debian's firefox-esr"
    _wd_apt firefox-esr || return 1
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
  fi

  if command -v WebKitWebDriver >/dev/null 2>&1 && command -v Xvfb >/dev/null 2>&1 \
    && [ -x /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser ]; then
    echo "webkit: WebKitWebDriver, MiniBrowser and Xvfb already installed, skipping"
  else
    echo "webkit: missing, installing Debian's webkit2gtk-driver and xvfb"
    _wd_apt webkit2gtk-driver xvfb || return 1
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  _wd_ensure
else
  _wd_ensure
fi
