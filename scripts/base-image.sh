#!/usr/bin/env bash
# Makes Slipway's Debian base image offline: debootstrap (minbase) + docker import.
# No registry can be pulled from these machines, so every builder image and every
# test Dockerfile starts FROM this image. Cached by tag: runs once per machine.
set -euo pipefail

TAG="${SLIPWAY_BASE_IMAGE:-slipway/debian:bookworm}"
SUITE="${SLIPWAY_BASE_SUITE:-bookworm}"
MIRROR="${SLIPWAY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "base image $TAG already present"
  exit 0
fi

work=$(mktemp -d /var/tmp/slipway-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "making base image $TAG from $SUITE ($MIRROR) with debootstrap --variant=minbase"
debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  echo "debootstrap failed; see the lines above" >&2
  exit 1
}
# Keep apt usable inside builds, drop caches that only add size.
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
tar -C "$work/rootfs" -c . | docker import \
  --change 'CMD ["/bin/bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  - "$TAG" >/dev/null
echo "base image $TAG made"
