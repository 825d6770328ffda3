#!/usr/bin/env bash
# tests/aarch64/python.sh ARGS...: the arm64 Python 3.11 (Debian bookworm + aarch64 wheels + this
# repo's runtime, assembled once and cached by assemble.py) running ARGS under qemu-aarch64-static.
# QEMU_CPU picks the emulated CPU (qemu reads it itself, and assemble.py writes a matching
# /proc/cpuinfo): cortex-a72 (Raspberry Pi 4; the default here), cortex-a76 (Pi 5), cortex-a53.
# On a CPU without ARMv8.2 + crypto (the Pi 4) the README's Pi 4 install step is applied (no
# libLiteRtWebGpuAccelerator.so, see assemble.py); KOKORO_AARCH64_STOCK=1 runs the wheels as pip
# installs them instead, which on cortex-a72 dies by SIGILL as a real Pi 4 does.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
host_python="${KOKORO_AARCH64_HOST_PYTHON:-$repo/.venv/bin/python}"
[ -x "$host_python" ] || host_python=python3
command -v qemu-aarch64-static >/dev/null || { echo "aarch64: qemu-aarch64-static is missing: run bash tests/aarch64/setup.sh" >&2; exit 2; }
export QEMU_CPU="${QEMU_CPU:-cortex-a72}"
layers="$("$host_python" "$here/assemble.py" --cpu "$QEMU_CPU" ${KOKORO_AARCH64_STOCK:+--stock})"
eval "$layers"
# The host's Python settings must not leak into the guest (its own prefix is the rootfs's).
unset PYTHONHOME VIRTUAL_ENV PYTHONSTARTUP
export PYTHONPATH="$AARCH64_PROJECT:$AARCH64_SITE" PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1
ulimit -c 0  # a guest that dies (see KOKORO_AARCH64_STOCK) leaves no qemu core file behind
exec qemu-aarch64-static -L "$AARCH64_ROOTFS" "$AARCH64_ROOTFS/usr/bin/python3.11" "$@"
