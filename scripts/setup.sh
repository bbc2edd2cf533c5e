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
  # Not `npm ci`: the npm registry these machines reach lacks some other platforms'
  # optional binaries at the locked versions (e.g. @msgpackr-extract/*-darwin-arm64@3.0.7),
  # so npm leaves them out of the lock and `npm ci` then refuses the lock as out of sync.
  # `npm install` with the lock installs exactly the locked versions, and install scripts
  # are decided by package.json's allowScripts either way; the check below fails if it
  # had to change the lock.
  log "npm install (locked versions)"
  cp package-lock.json "${TMPDIR:-/tmp}/slipway-lock.$$"
  npm install --no-audit --no-fund
  if ! cmp -s package-lock.json "${TMPDIR:-/tmp}/slipway-lock.$$"; then
    echo "setup: package-lock.json does not match package.json; run npm install and commit the lock" >&2
    rm -f "${TMPDIR:-/tmp}/slipway-lock.$$"
    exit 1
  fi
  rm -f "${TMPDIR:-/tmp}/slipway-lock.$$"
fi
log "building"
npm run build --silent

if [ "${1:-}" = "--up" ]; then
  log "slipway up --sample"
  exec node bin/slipway.js up --sample
fi
log "set-up done: run 'node bin/slipway.js up' to start Slipway, 'npm test' to test it"
