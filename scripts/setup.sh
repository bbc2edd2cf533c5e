#!/usr/bin/env bash
# Slipway's set-up for a fresh Debian/Ubuntu machine (run as root): installs what is
# missing, starts the Docker engine if it does not answer, makes the offline base and
# builder images, installs and builds the project. With --up it then runs `slipway up
# --sample`: Redis, the registry, the server and a worker, and a sample build.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*"; }

# chromium: the UI tests drive Debian's headless Chromium with playwright-core.
# openssh-client: ssh:// git sources; openssh-server: the SSH source test runs a real sshd on loopback.
PACKAGES=(docker.io docker-registry redis-server git debootstrap ca-certificates chromium openssh-client openssh-server)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages ${missing[*]}; run this script as root (sudo) to install them" >&2
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting the Docker engine"
  if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
    systemctl start docker
  else
    nohup dockerd >/var/log/slipway-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "setup: the Docker engine did not start; see /var/log/slipway-dockerd.log" >&2; exit 1; }
fi

log "base image"
bash scripts/base-image.sh
if [ -x scripts/build-builder-images.sh ]; then
  log "S2I builder images"
  bash scripts/build-builder-images.sh
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm ci` installs exactly what the lock records and never rewrites it. The lock
  # records every platform's optional binaries (msgpackr-extract, @parcel/watcher, …):
  # npm ci fetches only this platform's, so whatever the registry serves for other
  # platforms on a given day cannot make the install fail or change the lock.
  # Install scripts are decided by package.json's allowScripts (all denied: each of
  # those packages has a JavaScript fallback).
  log "npm ci (the locked versions)"
  npm ci --no-audit --no-fund
fi
log "building"
npm run build --silent

if [ "${1:-}" = "--up" ]; then
  log "slipway up --sample"
  exec node bin/slipway.js up --sample
fi
log "set-up done: run 'node bin/slipway.js up' to start Slipway, 'npm test' to test it"
