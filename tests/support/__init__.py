"""Helpers the tests share, and the scripts in tests/benchmarks and tests/aarch64 use too.

Test files import from here, never from each other. `tests/` is on sys.path (conftest.py; scripts
insert it themselves), so these are `support.<module>`:

- `cli_run`: run `kokoro-litert` in a subprocess with a given cache, read the WAV it wrote.
- `sentences`: the sentence sets of tests/data (dev, heldout, numbers).
- `parity`: comparing converted stages and bundles with PyTorch (errors, excitation, op lists).
- `server`: `kokoro-litert serve` in a subprocess on free loopback ports; decoding response bodies.
- `tiny_bundle`: a tiny random-weight Kokoro converted by the real converter, for the fast layer.
"""
