#!/usr/bin/env bash
# What tests/aarch64/speak.sh needs from Debian, installed once (idempotent; .ci/setup calls it):
# qemu-user-static (qemu-aarch64-static runs arm64 programs; binfmt_misc is not mounted here, so
# speak.sh calls it explicitly) and the arm64 architecture in dpkg, so `apt-get download` finds
# bookworm's arm64 .debs (Raspberry Pi OS 64-bit is Debian bookworm arm64). Nothing arm64 is
# installed into this system: speak.sh only downloads and unpacks .debs into its own folder.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

updated=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  as_root dpkg --add-architecture arm64
  as_root apt-get update -qq
  updated=1
fi
# An arm64 package index is present once `apt-get update` has run with the architecture added.
if [ "$updated" = 0 ] && ! ls /var/lib/apt/lists/*binary-arm64_Packages* >/dev/null 2>&1; then
  as_root apt-get update -qq
  updated=1
fi
if ! command -v qemu-aarch64-static >/dev/null 2>&1; then
  [ "$updated" = 1 ] || as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
fi
qemu-aarch64-static --version | head -1
