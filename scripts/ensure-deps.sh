#!/usr/bin/env bash
# Installs the system packages evalnet needs (Debian/Ubuntu), printing what it installs.
# libdecaf-dev gives variable-time ristretto255 arithmetic for SR25519 verification (libsodium
# keeps the secret-key operations). bubblewrap is the sandbox of the validator's local executor (`[sandbox] mode`).
# chromium (headless) loads the dashboards in the browser tests.
# Usage: scripts/ensure-deps.sh [--with-postgres] [--with-browser]
set -euo pipefail
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in libsodium-dev libdecaf-dev pkg-config libsqlite3-dev git bubblewrap; do have_pkg "$p" || need+=("$p"); done
# setpriv (drops root inside the sandbox) is in util-linux, essential on Debian; checked anyway.
command -v setpriv >/dev/null || need+=(util-linux)
for arg in "$@"; do
  case "$arg" in
    --with-postgres) have_pkg postgresql || need+=(postgresql) ;;
    --with-browser) have_pkg chromium || need+=(chromium) ;;
    *) echo "ensure-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done
if ((${#need[@]} == 0)); then
  echo "ensure-deps: all system packages present"
  exit 0
fi
echo "ensure-deps: installing ${need[*]}"
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "ensure-deps: not root and no sudo; install these yourself: ${need[*]}" >&2; exit 1
  fi
else SUDO=""; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
echo "ensure-deps: installed ${need[*]}"
