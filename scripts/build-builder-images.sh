#!/usr/bin/env bash
# Builds Slipway's S2I builder images (builder-images/*) and tags them where the
# set-up registers them: slipway/s2i-nodejs, slipway/s2i-python, slipway/s2i-static.
# Nothing can be pulled on these machines, so each builds FROM the local Debian base
# (BASE_IMAGE overrides it); images already built from the same files are skipped
# unless --force.
#
#   scripts/build-builder-images.sh [--force] [nodejs|python|static ...]
set -euo pipefail

cd "$(dirname "$0")/.."
BASE_IMAGE="${BASE_IMAGE:-${SLIPWAY_BASE_IMAGE:-slipway/debian:bookworm}}"
force=no
names=()
for arg in "$@"; do
  case "$arg" in
    --force) force=yes ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    -*) echo "unknown option $arg (use --force)" >&2; exit 2 ;;
    *) names+=("$arg") ;;
  esac
done
if [ ${#names[@]} -eq 0 ]; then
  names=(nodejs python static)
fi

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  if [ "$BASE_IMAGE" = "slipway/debian:bookworm" ]; then
    bash scripts/base-image.sh
  else
    echo "base image $BASE_IMAGE is not on this engine; pull or build it first" >&2
    exit 1
  fi
fi

# Every file's mode, name and content under a builder image's directory, as one sha256.
source_digest() {
  (
    cd "$1"
    find . -type f -printf '%m %p\n' | LC_ALL=C sort >"$work/files"
    while read -r _ f; do sha256sum "$f"; done <"$work/files" | cat "$work/files" - | sha256sum | cut -c1-64
  )
}
work=$(mktemp -d /tmp/slipway-builder-images.XXXXXX)
trap 'rm -rf "$work"' EXIT

for name in "${names[@]}"; do
  dir="builder-images/$name"
  tag="slipway/s2i-$name:latest"
  if [ ! -f "$dir/Dockerfile" ]; then
    echo "no builder image called $name (expected $dir/Dockerfile)" >&2
    exit 1
  fi
  # The image records a digest of its directory: one built from other files is rebuilt.
  source=$(source_digest "$dir")
  have=$(docker image inspect -f '{{index .Config.Labels "io.slipway.builder-source"}}' "$tag" 2>/dev/null || true)
  if [ "$force" = no ] && [ "$have" = "$source" ]; then
    echo "builder image $tag already present (use --force to rebuild)"
    continue
  fi
  echo "building $tag from $BASE_IMAGE ..."
  log=$(mktemp /tmp/slipway-builder-image.XXXXXX)
  # The classic builder, explicitly: it builds FROM local images as they are, and
  # BuildKit needs the buildx plugin, which Debian's docker.io does not ship.
  if ! DOCKER_BUILDKIT=0 docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" --label "io.slipway.builder-source=$source" -t "$tag" "$dir" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    rm -f "$log"
    echo "building $tag failed; see the lines above" >&2
    exit 1
  fi
  rm -f "$log"
  # A builder that records its language version in /etc/slipway/builder-version (read
  # from what it installed) gets it as a label: the ImageStream's version tag.
  version=$(docker run --rm --network none --entrypoint /bin/cat "$tag" /etc/slipway/builder-version 2>/dev/null || true)
  if [[ "$version" =~ ^[0-9][0-9A-Za-z._-]{0,40}$ ]]; then
    if ! echo "FROM $tag" | DOCKER_BUILDKIT=0 docker build -q --label "org.opencontainers.image.version=$version" -t "$tag" - >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$log"
      echo "labelling $tag with its version failed; see the lines above" >&2
      exit 1
    fi
    rm -f "$log"
    echo "builder image $tag built (version $version)"
  else
    echo "builder image $tag built"
  fi
done
