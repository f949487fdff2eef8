#!/usr/bin/env bash
# Builds the console's browser half (the wasm that hydrates the server-rendered pages) into
# "$FJORD_CONSOLE_SITE/pkg" (default "$CARGO_TARGET_DIR/site/pkg"), offline, with what this
# machine can install: the wasm32 target (rustup), wasm-bindgen-cli matching Cargo.lock
# (cargo install, cached in ~/.cache/fjord/bin), and Debian's binaryen (wasm-opt) when present.
# No cargo-leptos: it downloads tools at build time. See docs/adr/012-console-build.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fjord-target}"
site="${FJORD_CONSOLE_SITE:-$CARGO_TARGET_DIR/site}"
tools="$HOME/.cache/fjord"
say() { echo "console build: $*" >&2; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown >&2
fi

bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
bindgen="$tools/bin/wasm-bindgen"
if [[ "$("$bindgen" --version 2>/dev/null || true)" != "wasm-bindgen $bindgen_version" ]]; then
  say "installing wasm-bindgen-cli $bindgen_version into $tools (once; about 5 minutes)"
  # Not --locked: one of its locked dependencies is no longer on crates.io.
  cargo install wasm-bindgen-cli --version "$bindgen_version" --root "$tools" --force >&2
fi

if ! command -v wasm-opt >/dev/null && command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
  say "installing binaryen (wasm-opt) from Debian"
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq binaryen \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq binaryen; }; } >&2 || true
fi

say "compiling the hydrate half for wasm32 (profile wasm-release: size over speed, LTO)"
cargo build -p fjord-web-ui --lib --target wasm32-unknown-unknown \
  --no-default-features --features hydrate --profile wasm-release --locked >&2

raw="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/fjord_web_ui.wasm"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bindgen_into() { "$bindgen" --target web --no-typescript --out-name fjord_console --out-dir "$work/pkg" "$1"; }
# wasm-opt runs on cargo's output, before wasm-bindgen: Debian's binaryen 108 mangles the
# externref table wasm-bindgen adds, and hydration then fails (ADR 012). Should wasm-bindgen
# not understand the optimised module, the unoptimised one ships (bigger, same behaviour).
if command -v wasm-opt >/dev/null \
  && wasm-opt -Oz --strip-debug --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-reference-types --enable-sign-ext --enable-mutable-globals \
    "$raw" -o "$work/optimised.wasm" \
  && bindgen_into "$work/optimised.wasm" 2>"$work/bindgen.err"; then
  say "optimised with $(wasm-opt --version)"
else
  [[ -s "$work/bindgen.err" ]] && say "wasm-bindgen refused the optimised module: $(head -c 300 "$work/bindgen.err")"
  say "shipping the unoptimised module"
  rm -rf "$work/pkg"
  bindgen_into "$raw"
fi

mkdir -p "$site/pkg"
cp "$work/pkg/fjord_console.js" "$work/pkg/fjord_console_bg.wasm" "$site/pkg/"
# Pre-compressed copies: the console serves them to browsers that accept gzip.
gzip -9 -k -f "$site/pkg/fjord_console.js" "$site/pkg/fjord_console_bg.wasm"
say "wrote $site/pkg: wasm $(du -k "$site/pkg/fjord_console_bg.wasm" | cut -f1) KiB, gzipped $(du -k "$site/pkg/fjord_console_bg.wasm.gz" | cut -f1) KiB"
echo "$site"
