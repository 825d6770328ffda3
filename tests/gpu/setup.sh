#!/usr/bin/env bash
# The software GPU the GPU tests run on, installed once (idempotent; .ci/setup calls it): Mesa's
# lavapipe Vulkan driver (package mesa-vulkan-drivers, with the Vulkan loader libvulkan1), which
# LiteRT's WebGPU accelerator (Dawn over Vulkan) takes as a GPU. It must be Mesa 25 or newer:
# bookworm's own 22.3 lavapipe lacks shaderUniform*ArrayDynamicIndexing and Dawn finds no adapter,
# so on Debian bookworm it comes from bookworm-backports (added here as its own sources file).
# Nothing else is configured system-wide: the runtime sets VK_ICD_FILENAMES and XDG_RUNTIME_DIR
# for itself when it creates a GPU model (runtime/runner.py).
set -euo pipefail

MIN_MESA_MAJOR=25
ICD=/usr/share/vulkan/icd.d/lvp_icd.json

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

mesa_major() {
  dpkg-query -W -f='${Status} ${Version}' mesa-vulkan-drivers 2>/dev/null \
    | awk '/install ok installed/ {split($4, v, "."); sub(/^[0-9]+:/, "", v[1]); print v[1]}' || true
}

major="$(mesa_major)"
if [ -n "$major" ] && [ "$major" -ge "$MIN_MESA_MAJOR" ] && [ -f "$ICD" ]; then
  exit 0
fi

codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
export DEBIAN_FRONTEND=noninteractive
if [ "$codename" = bookworm ]; then
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "tests/gpu/setup.sh: adding Debian bookworm-backports (for mesa-vulkan-drivers >= $MIN_MESA_MAJOR)" >&2
    as_root tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  fi
  as_root apt-get update -qq
  echo "tests/gpu/setup.sh: installing mesa-vulkan-drivers from bookworm-backports" >&2
  as_root apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
else
  as_root apt-get update -qq
  echo "tests/gpu/setup.sh: installing mesa-vulkan-drivers" >&2
  as_root apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers libvulkan1 >/dev/null
fi

major="$(mesa_major)"
if [ -z "$major" ] || [ "$major" -lt "$MIN_MESA_MAJOR" ] || [ ! -f "$ICD" ]; then
  echo "error: mesa-vulkan-drivers ${major:-(none)} installed; the GPU tests need >= $MIN_MESA_MAJOR with $ICD" >&2
  exit 2
fi
dpkg-query -W -f='mesa-vulkan-drivers ${Version}\n' mesa-vulkan-drivers
