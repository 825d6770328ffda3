"""Trace the LiteRT pipeline on this host, and replay another host's stage inputs, in one process.

    python tests/aarch64/stages.py --bundles DIR --precision int8 --phonemes-file P.txt --out OUT.npz \
        [--until vocoder|prosody|predictor] [--replay X86.npz [--replay-stages predictor,prosody,vocoder]]
        [--threads N] [--voice af_heart] [--seed 0] [--speed 1.0]

Runs on x86 with the repo's venv and on arm64 under qemu (`tests/aarch64/python.sh stages.py ...`),
torch-free: the runtime package and numpy only. For each line of the phonemes file:

- `{i}/free/...`: this host's own synthesis (`runtime.pipeline.synthesize` with its `trace`):
  raw and rounded durations, the audio, and every stage's outputs; `--until predictor` stops the
  same code after the durations (the predictor is cheap under emulation, the vocoder is not);
- `{i}/in/{stage}/{name}`: each stage's inputs (the other host replays them);
- with `--replay`: `{i}/replay/{stage}/{name}`: this host's stage outputs on the *other* host's
  recorded inputs (`StageRunner.run` at the same signature), so a stage's ARM-vs-x86 error is
  measured on identical inputs, not compounded through the earlier stages.

`meta` (JSON) holds each sentence's signatures, machine, CPU fingerprint and seconds per step:
model creation and first calls are slow under emulation and worth knowing, never asserted.
One process for all sentences: models are created once.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

STAGES = ("predictor", "prosody", "vocoder")


class _Stop(Exception):
    """Raised by the stage runner wrapper to end a free run after `--until`."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=Path, required=True)
    parser.add_argument("--precision", default=None)
    parser.add_argument("--phonemes-file", type=Path, required=True, help="one Kokoro phoneme string per line")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--until", choices=STAGES, default="vocoder", help="the last stage of the free run")
    parser.add_argument("--replay", type=Path, help="a trace from the other host whose stage inputs to replay")
    parser.add_argument("--replay-stages", default=",".join(STAGES), help="which of its stages to replay")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--voice", default="af_heart")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed", type=float, default=1.0)
    args = parser.parse_args(argv)

    from kokoro_litert.runtime.litert import LiteRTBackend
    from kokoro_litert.runtime.pipeline import synthesize
    from kokoro_litert.runtime.runner import cpu_fingerprint
    from kokoro_litert.runtime.vocab import phoneme_ids
    from kokoro_litert.runtime.voices import load_voice, style_for

    lines = [line for line in args.phonemes_file.read_text(encoding="utf-8").split("\n") if line.strip()]
    t0 = time.perf_counter()
    backend = LiteRTBackend(args.bundles, threads=args.threads, precision=args.precision)
    last = STAGES.index(args.until)

    def run_until(stage, signature, **inputs):  # the pipeline's Runner seam, cut after --until
        if STAGES.index(stage) > last:
            raise _Stop
        return backend.runner.run(stage, signature, **inputs)
    pack = load_voice(args.voice, backend.bundle.voices)
    other = np.load(args.replay) if args.replay else None
    arrays: dict[str, np.ndarray] = {}
    meta = {"machine": platform.machine(), "fingerprint": cpu_fingerprint(), "precision": backend.precision,
            "python": sys.version.split()[0], "numpy": np.__version__, "sentences": [],
            "setup_s": round(time.perf_counter() - t0, 2)}
    for i, phonemes in enumerate(lines):
        row: dict = {"phonemes": phonemes, "signatures": {}, "seconds": {}}
        trace: dict = {}
        start = time.perf_counter()
        try:
            # What LiteRTBackend.synthesize does, through the cut runner.
            out = synthesize(run_until, backend.ladder, backend.source, phoneme_ids(phonemes, backend.vocab),
                             style_for(pack, len(phonemes)), args.speed, args.seed, trace=trace)
            arrays[f"{i}/free/audio"] = np.asarray(out.audio, np.float32)
            arrays[f"{i}/free/har_source"] = np.asarray(trace["har_source"], np.float32)
        except _Stop:
            pass
        row["seconds"]["free"] = round(time.perf_counter() - start, 2)
        signature, feed, result = trace["predictor"]
        arrays[f"{i}/free/durations"] = np.asarray(trace["durations"])
        raw = np.asarray(result["durations"], np.float32)[0, : len(trace["durations"])]
        arrays[f"{i}/free/durations_raw"] = raw / np.float32(args.speed)  # what is rounded (Synthesis.durations_raw)
        for stage in [s for s in STAGES if s in trace]:
            signature, feed, result = trace[stage]
            row["signatures"][stage] = signature
            for name, value in feed.items():
                arrays[f"{i}/in/{stage}/{name}"] = np.asarray(value)
            for name, value in result.items():
                arrays[f"{i}/free/{stage}/{name}"] = np.asarray(value)
        if other is not None:
            theirs = json.loads(str(other["meta"]))["sentences"][i]
            if theirs["phonemes"] != phonemes:
                raise SystemExit(f"sentence {i} differs from the replayed trace's")
            for stage, signature in theirs["signatures"].items():
                if stage not in args.replay_stages.split(","):
                    continue
                prefix = f"{i}/in/{stage}/"
                feed = {k[len(prefix):]: other[k] for k in other.files if k.startswith(prefix)}
                start = time.perf_counter()
                result = backend.runner.run(stage, signature, **feed)
                row["seconds"][f"replay/{stage}"] = round(time.perf_counter() - start, 2)
                for name, value in result.items():
                    arrays[f"{i}/replay/{stage}/{name}"] = np.asarray(value)
            row["replayed"] = theirs["signatures"]
        meta["sentences"].append(row)
        print(f"{i}: {len(phonemes)} phonemes, {int(trace['durations'].sum())} frames, {row['signatures']}, "
              f"{row['seconds']}", file=sys.stderr, flush=True)
    meta["total_s"] = round(time.perf_counter() - t0, 2)
    np.savez(args.out, meta=np.array(json.dumps(meta)), **arrays)


if __name__ == "__main__":
    main()
