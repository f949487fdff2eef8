#!/usr/bin/env bash
# Builds the console's browser half (the wasm that hydrates the server-rendered pages) into
# "$FJORD_CONSOLE_SITE/pkg" (default "$CARGO_TARGET_DIR/site/pkg"), offline, with what this
# machine can install: the wasm32 target (rustup), wasm-bindgen-cli matching Cargo.lock
# (cargo install, cached in ~/.cache/fjord/bin).
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

say "compiling the hydrate half for wasm32"
cargo build -p fjord-web-ui --lib --target wasm32-unknown-unknown \
  --no-default-features --features hydrate --release --locked >&2

raw="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/fjord_web_ui.wasm"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# No wasm-opt pass: Debian's binaryen 108 breaks this output both ways round — after
# wasm-bindgen it mangles the externref table (hydration fails), before it wasm-bindgen can no
# longer find its function table ("failed to find `0` in function table"). ADR 012 has sizes.
input="$raw"
mkdir -p "$site/pkg"
"$bindgen" --target web --no-typescript --out-name fjord_console --out-dir "$work/pkg" "$input"
cp "$work/pkg/fjord_console.js" "$work/pkg/fjord_console_bg.wasm" "$site/pkg/"
say "wrote $site/pkg ($(du -k "$site/pkg/fjord_console_bg.wasm" | cut -f1) KiB wasm)"
echo "$site"
