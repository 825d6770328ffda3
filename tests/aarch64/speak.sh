#!/usr/bin/env bash
# tests/aarch64/speak.sh SAY-ARGS...: `kokoro-litert say SAY-ARGS...` (exactly its arguments) on an
# arm64 Python under qemu-aarch64, e.g.
#     QEMU_CPU=cortex-a76 tests/aarch64/speak.sh --bundles DIR "Hello there." --seed 0 -o out.wav
# The first call assembles the arm64 Python (a few minutes; cached, see assemble.py).
exec "$(dirname "${BASH_SOURCE[0]}")/python.sh" -m kokoro_litert.runtime.cli say "$@"
