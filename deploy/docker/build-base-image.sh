#!/usr/bin/env bash
# Builds the local base image debian:bookworm-slim with debootstrap when no image registry is
# reachable. Idempotent: does nothing when the image already exists (pass --force to rebuild).
# Usage: deploy/docker/build-base-image.sh [--force] [--image NAME:TAG] [--mirror URL]
set -euo pipefail

image=debian:bookworm-slim
force=0
mirror=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --force) force=1 ;;
    --image) image=${2:?--image needs NAME:TAG}; shift ;;
    --mirror) mirror=${2:?--mirror needs a URL}; shift ;;
    -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-base-image.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done

die() { echo "build-base-image.sh: $*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || die "docker CLI not found (run deploy/setup.sh --docker)"
docker info >/dev/null 2>&1 || die "cannot talk to the Docker daemon (is dockerd running? try: dockerd &)"

if [[ $force == 0 ]] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "build-base-image.sh: image $image already present"
  exit 0
fi

[[ $(id -u) == 0 ]] || die "debootstrap needs root"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap not found (run deploy/setup.sh --docker)"

# The mirror the host already uses: the first URIs: line of the deb822 sources file,
# falling back to the classic sources.list, then to deb.debian.org.
if [[ -z $mirror ]]; then
  if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [[ -z $mirror && -r /etc/apt/sources.list ]]; then
    mirror=$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  mirror=${mirror:-http://deb.debian.org/debian}
fi

rootfs=$(mktemp -d /tmp/ringway-rootfs.XXXXXX)
cleanup() { rm -rf --one-file-system "$rootfs"; }
trap cleanup EXIT

echo "build-base-image.sh: debootstrap bookworm from $mirror into $rootfs (about 30 s)"
if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
  tail -n 20 "$rootfs.log" >&2
  die "debootstrap failed (full log: $rootfs.log)"
fi
rm -f "$rootfs.log"

# Slim it down the way the official -slim images do: no apt lists, no caches, no docs.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/tmp/*
# Use the same mirror inside containers as on the host (apt-get update in Dockerfiles).
printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" >"$rootfs/etc/apt/sources.list"
if [[ -r /etc/apt/sources.list.d/debian.sources ]] && grep -q 'debian-security' /etc/apt/sources.list.d/debian.sources; then
  sec=$(awk '/^URIs:/ && /debian-security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  [[ -n $sec ]] && printf 'deb %s bookworm-security main\n' "$sec" >>"$rootfs/etc/apt/sources.list"
fi

echo "build-base-image.sh: importing as $image"
tar -C "$rootfs" -c . | docker import \
  --change 'CMD ["/bin/bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  - "$image" >/dev/null || die "docker import failed"
echo "build-base-image.sh: built $image ($(docker image inspect -f '{{.Size}}' "$image") bytes)"
