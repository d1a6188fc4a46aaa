#!/usr/bin/env bash
# offline-sync's one entry point.
#   ./build.sh          build dist/ (the worker, its loader and the page client)
#   ./build.sh demo     build, then serve the demo app and its API on http://127.0.0.1:${PORT:-8080}
#   ./build.sh test     build, then run every test: native, in-worker (wasm) and end-to-end
#   ./build.sh bench    build, then compare offline-sync with workbox-background-sync (not a test)
# Each installs what it needs (wasm target, wasm-bindgen-cli, npm packages, Chromium, Firefox ESR,
# WebKitGTK, PostgreSQL) and skips what is already there.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
WASM_TARGET=wasm32-unknown-unknown
# Everything the worker loads, gzipped, at most (140 KB).
SIZE_BUDGET=140000
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

say() { printf '\n==> %s\n' "$*"; }

# --- what the build needs -------------------------------------------------------------------
wasm_bindgen_version() {
  # The CLI must match the crate in Cargo.lock exactly.
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock
}

ensure_rust_wasm() {
  if ! rustup target list --installed | grep -qx "$WASM_TARGET"; then
    say "adding the $WASM_TARGET target"
    rustup target add "$WASM_TARGET"
  fi
  local want have
  want=$(wasm_bindgen_version)
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  if [ "$have" != "$want" ]; then
    say "installing wasm-bindgen-cli $want (found: ${have:-none}); this compiles for a few minutes"
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

# npm install in $1, only when package.json changed since the last install there.
ensure_npm() {
  local dir=$1 stamp="$1/node_modules/.offline-sync-stamp"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(sha256sum "$dir/package.json" | cut -d' ' -f1)" ]; then
    return
  fi
  say "installing npm packages in $dir"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
  sha256sum "$dir/package.json" | cut -d' ' -f1 > "$stamp"
}

APT_UPDATED=
apt_install() {
  [ -n "$APT_UPDATED" ] || { apt-get update -qq; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" > /dev/null
}

ensure_chromium() {
  if ! command -v chromium > /dev/null || ! command -v chromedriver > /dev/null; then
    say "installing Debian's chromium and chromium-driver"
    apt_install chromium chromium-driver
  fi
}

# --- build ----------------------------------------------------------------------------------
build() {
  ensure_rust_wasm
  ensure_npm shim
  say "building the worker (release, wasm)"
  # Panic locations name their source files: with the builder's own paths mapped away, the module
  # is the same wherever it is built (and a little smaller).
  local cargo_home=${CARGO_HOME:-$HOME/.cargo} sysroot commit
  sysroot=$(rustc --print sysroot)
  commit=$(rustc -vV | sed -n 's/^commit-hash: //p')
  RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=$cargo_home/registry/src/= --remap-path-prefix=$sysroot/lib/rustlib/src/rust/=/rustc/$commit/" \
    cargo build -p offline-sync --release --target "$WASM_TARGET"
  local out=target/wasm-out
  rm -rf "$out" && mkdir -p "$out" dist
  wasm-bindgen --target no-modules --no-typescript --out-dir "$out" \
    "target/$WASM_TARGET/release/offline_sync.wasm"
  if grep -qaF -e "$cargo_home/" -e "$sysroot/" "$out/offline_sync_bg.wasm"; then
    echo "build: the wasm still names paths of this machine (see --remap-path-prefix above)" >&2
    exit 1
  fi
  # --low-memory-unused lets wasm-opt fold constant offsets into loads and stores: wasm-ld leaves
  # the lowest kilobyte of memory unused (Rust puts the stack there, growing down from above it,
  # and the data after it), which the check below holds it to. --converge repeats the passes while
  # the module still shrinks.
  local data_at
  data_at=$(shim/node_modules/.bin/wasm-dis "$out/offline_sync_bg.wasm" | grep -m1 -oE '^ \(data \S+ \(i32.const [0-9]+' | grep -oE '[0-9]+$')
  if [ "${data_at:-0}" -lt 1024 ]; then
    echo "build: the module's data starts at ${data_at:-?}, inside the low kilobyte that --low-memory-unused assumes unused" >&2
    exit 1
  fi
  shim/node_modules/.bin/wasm-opt -Oz --low-memory-unused --converge --strip-producers --strip-target-features --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$out/offline_sync_bg.wasm" -o "$out/offline_sync.opt.wasm"
  # The glue and the loader, minified (names and all), with the module spliced in as a string.
  {
    printf '(function () {\n'
    cat "$out/offline_sync.js" shim/loader.js
    printf '})();\n'
  } > "$out/engine.js"
  shim/node_modules/.bin/esbuild "$out/engine.js" --minify --charset=utf8 --log-level=warning \
    --outfile="$out/engine.min.js"
  node shim/inline-bytes.mjs "$out/offline_sync.opt.wasm" "$out/engine.min.js" > dist/offline-sync.js
  # The standalone worker counts towards the budget too: minified the same way.
  shim/node_modules/.bin/esbuild shim/sw.js --minify --charset=utf8 --log-level=warning \
    --banner:js="// offline-sync's standalone worker: register it as /sw.js?prefix=/api/&maxRetentionTime=60 (its options)" --outfile=dist/sw.js
  cp shim/client.js shim/client.d.ts dist/
  ensure_npm demo-site
  cp shim/dexie.js shim/dexie.d.ts shim/react.js shim/react.d.ts shim/vue.js shim/vue.d.ts dist/
  mkdir -p dist/vendor
  cp demo-site/node_modules/dexie/dist/dexie.mjs demo-site/node_modules/dexie/dist/dexie.mjs.map dist/vendor/
  local raw gz
  raw=$(stat -c %s "$out/offline_sync.opt.wasm")
  gz=$(cat dist/sw.js dist/offline-sync.js | gzip -9 | wc -c)
  say "dist/ built: wasm $raw bytes after wasm-opt; everything the worker loads (sw.js + offline-sync.js) is $gz bytes gzipped, of a budget of $SIZE_BUDGET"
  if [ "$gz" -gt "$SIZE_BUDGET" ]; then
    echo "build: the worker is over its size budget ($gz > $SIZE_BUDGET bytes gzipped)" >&2
    exit 1
  fi
  pack_npm
}

build_server() {
  cargo build -p demo-server -p offline-sync-contract
}

# Debian's PostgreSQL, for the store tests (they start a throwaway cluster of their own).
ensure_postgres() {
  if compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null || command -v initdb > /dev/null; then
    return
  fi
  say "installing Debian's postgresql (the tests make throwaway clusters of their own)"
  apt_install postgresql
}

# An Xvfb display for WebKit's MiniBrowser, which has no headless mode; stopped when the script
# ends. Sets WEBKIT_DISPLAY.
start_xvfb() {
  local n=90
  while [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
  Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
  XVFB_PID=$!
  trap 'kill "$XVFB_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    [ -e "/tmp/.X11-unix/X$n" ] && break
    sleep 0.1
  done
  if [ ! -e "/tmp/.X11-unix/X$n" ]; then
    echo "build: Xvfb :$n did not start" >&2
    exit 1
  fi
  WEBKIT_DISPLAY=":$n"
}

# The contract kit against the reference server, run as a backend author would run it.
contract_check() {
  local log=target/contract-server.log url="" rc=0
  target/debug/demo-server --port 0 >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*' "$log" || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  if [ -z "$url" ]; then
    kill "$pid" 2>/dev/null || true
    echo "build: demo-server did not start for the contract kit:" >&2
    cat "$log" >&2
    exit 1
  fi
  target/debug/offline-sync-contract "$url/api/tasks" || rc=$?
  target/debug/offline-sync-contract "$url/api/projects" --body '{"name":"contract"}' || rc=$?
  kill "$pid" 2>/dev/null || true
  [ "$rc" -eq 0 ] || exit "$rc"
}

# The npm package `offline-sync` (shim/package.json): the page modules from shim/, the built worker
# from dist/, staged in target/package/ and packed into target/offline-sync-<version>.tgz.
pack_npm() {
  local pkg=target/package
  rm -rf "$pkg" && mkdir -p "$pkg"
  cp shim/package.json shim/README.md "$pkg/"
  cp dist/sw.js dist/offline-sync.js "$pkg/"
  cp shim/client.js shim/client.d.ts shim/dexie.js shim/dexie.d.ts shim/react.js shim/react.d.ts \
    shim/vue.js shim/vue.d.ts "$pkg/"
  rm -f target/offline-sync-*.tgz
  local tgz
  tgz=$(cd "$pkg" && npm pack --pack-destination .. --loglevel=error)
  say "packed target/$tgz (npm install it, or see demo-site/vite-example)"
}

demo() {
  build
  build_server
  local port=${PORT:-8080}
  mkdir -p target/demo
  say "serving the demo on http://127.0.0.1:$port (Ctrl-C stops it)"
  exec target/debug/demo-server --port "$port" --db target/demo/tasks.sqlite \
    --static dist --static demo-site/public
}

test_all() {
  build
  build_server
  ensure_chromium
  say "Firefox ESR and geckodriver, WebKitGTK and Xvfb (for the tests without Background Sync)"
  source tests/webdriver/ensure.sh
  ensure_npm tests/e2e
  ensure_postgres
  say "native tests (the PostgreSQL ones on throwaway clusters on 127.0.0.1)"
  cargo test --workspace
  say "the contract kit against the demo server (SQLite)"
  contract_check
  say "tests inside a service worker (headless Chromium)"
  (cd tests/wasm && CHROMEDRIVER=$(command -v chromedriver) cargo test --target "$WASM_TARGET")
  say "tests inside a service worker (headless Firefox ESR)"
  (cd tests/wasm && GECKODRIVER=$(command -v geckodriver) cargo test --target "$WASM_TARGET")
  say "tests inside a service worker (WebKitGTK's MiniBrowser under Xvfb, driven as Safari)"
  start_xvfb
  (cd tests/wasm && DISPLAY=$WEBKIT_DISPLAY SAFARIDRIVER=$(command -v WebKitWebDriver) cargo test --target "$WASM_TARGET")
  ensure_npm tests/shim
  say "page-side adapter and bindings (vitest, in Node: Dexie over fake-indexeddb, React, Vue)"
  (cd tests/shim && node_modules/.bin/vitest run)
  say "end-to-end tests (headless Chromium)"
  node --test --test-concurrency=1 --test-timeout=300000 tests/e2e/
  ensure_npm tests/webdriver
  say "end-to-end tests (headless Firefox ESR, no Background Sync)"
  BROWSER=firefox node --test --test-concurrency=1 --test-timeout=300000 tests/webdriver/
  say "end-to-end tests (WebKitGTK's MiniBrowser under Xvfb: Safari's engine, no Background Sync)"
  BROWSER=webkit node --test --test-concurrency=1 --test-timeout=300000 tests/webdriver/
}

case "${1:-build}" in
  build) build ;;
  demo) demo ;;
  test) test_all ;;
  bench) build && ensure_chromium && node tests/bench/run.mjs ;;
  *) echo "usage: ./build.sh [build|demo|test|bench]" >&2; exit 2 ;;
esac
