"""ARM (qemu-aarch64) vs x86 on a sentence set: durations, per-stage error, spectrogram correlation.

    python tests/aarch64/bench.py [--bundles DIR] [--set dev] [--cpus cortex-a72,cortex-a76]
                                  [--precisions int8,fp32] [--audio-limit 6] [--json out.json]

Slow (hours under emulation on a 2-core box, which says nothing about speed on a Pi): the CI
check is tests/test_aarch64.py, on a few short sentences. For each qemu CPU model:

1. durations and the two small stages on every sentence of the set: this host traces each
   sentence up to prosody; the arm64 Python (tests/aarch64/python.sh) runs its own predictor
   (`stages.py --until predictor`: its rounded durations) and replays this host's predictor and
   prosody inputs (their outputs' error on identical inputs), with the default precision's
   predictor and prosody files, once per CPU. A rounded duration that differs is
   reported with both raw values, to tell a .5 tie moved by float noise from a real difference.
2. audio on the first `--audio-limit` sentences, per precision: the arm64 side synthesizes freely
   (same seed) and replays this host's vocoder inputs: spectrogram correlation ARM vs x86, and
   each side's correlation with this host's fp32 audio (the faithful reference: an int8 variant's
   own quantization noise is the yardstick for how far two int8 runs may drift apart).

Sentences: `tests/support/sentences.py` sets, their `phonemes` column (espeak-ng via kokoro-onnx) where
given, else this repo's G2P, those that fit one chunk.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
sys.path.insert(0, str(TESTS))

from support.sentences import load_sentences  # noqa: E402

sys.path.insert(0, str(HERE))
from compare import compare_durations, spectrogram_correlation, stage_errors  # noqa: E402

PYTHON = HERE / "python.sh"
STAGES = HERE / "stages.py"


def run_stages(args: list[str], guest_cpu: str | None = None, threads: int = 2) -> None:
    """stages.py here (guest_cpu None) or under qemu with that CPU model."""
    cmd = ([str(PYTHON)] if guest_cpu else [sys.executable]) + [str(STAGES), "--threads", str(threads), *args]
    env = {**os.environ, **({"QEMU_CPU": guest_cpu} if guest_cpu else {})}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in proc.stderr.splitlines():
        if line[:1].isdigit() or line.startswith("aarch64:"):
            print(f"  [{guest_cpu or 'x86'}] {line}", file=sys.stderr, flush=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=Path)
    parser.add_argument("--set", default="dev")
    parser.add_argument("--limit", type=int, default=None, help="sentences for the durations part")
    parser.add_argument("--cpus", default="cortex-a72,cortex-a76")
    parser.add_argument("--precisions", default="int8,fp32")
    parser.add_argument("--audio-limit", type=int, default=6, help="sentences for the audio part (0: none)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--work", type=Path, help="keep the traces here (default: a temporary folder)")
    args = parser.parse_args(argv)

    if args.bundles is None:
        from kokoro_litert.convert.export import cached_bundles
        from kokoro_litert.runtime.cache import cache_root

        args.bundles = cached_bundles(cache_root() / "weights", cache_root())
    from kokoro_litert.runtime.bundle import Bundle
    from kokoro_litert.runtime.text import phonemize

    max_len = Bundle.open(args.bundles).manifest.ladder.max_phonemes
    cases = [(s.id, s.phonemes or phonemize(s.text).phonemes) for s in load_sentences(args.set)]
    cases = [c for c in cases if len(c[1]) <= max_len][: args.limit]
    ids = [c[0] for c in cases]
    work = args.work or Path(tempfile.mkdtemp(prefix="kokoro-aarch64-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    all_file, audio_file = work / "phonemes.txt", work / "phonemes-audio.txt"
    all_file.write_text("\n".join(p for _, p in cases) + "\n", encoding="utf-8")
    audio_file.write_text("\n".join(p for _, p in cases[: args.audio_limit]) + "\n", encoding="utf-8")
    common = ["--bundles", str(args.bundles)]
    report: dict = {"bundles": str(args.bundles), "set": args.set, "sentences": len(cases),
                    "audio_sentences": min(args.audio_limit, len(cases)), "cpus": {}}

    print(f"x86: tracing {len(cases)} sentences to prosody, {report['audio_sentences']} in full", file=sys.stderr)
    run_stages([*common, "--phonemes-file", str(all_file), "--until", "prosody", "--out", str(work / "x86-all.npz")],
               threads=args.threads)
    precisions = args.precisions.split(",") if report["audio_sentences"] else []
    traced = sorted(set(precisions) | {"fp32"}) if precisions else []  # fp32: the reference audio
    for p in traced:
        run_stages([*common, "--precision", p, "--phonemes-file", str(audio_file), "--out", str(work / f"x86-{p}.npz")],
                   threads=args.threads)
    x86_all = np.load(work / "x86-all.npz")
    x86_audio = {p: np.load(work / f"x86-{p}.npz") for p in traced}

    for cpu in args.cpus.split(","):
        row: dict = {}
        out = work / f"{cpu}-all.npz"
        print(f"{cpu}: durations and predictor/prosody on {len(cases)} sentences", file=sys.stderr, flush=True)
        run_stages([*common, "--phonemes-file", str(all_file), "--until", "predictor", "--replay",
                    str(work / "x86-all.npz"), "--replay-stages", "predictor,prosody", "--out", str(out)],
                   guest_cpu=cpu, threads=args.threads)
        arm = np.load(out)
        row["durations"] = compare_durations(x86_all, arm, len(cases), ids)
        row["stage_errors"] = stage_errors(x86_all, arm, len(cases))
        row["fingerprint"] = json.loads(str(arm["meta"]))["fingerprint"]
        for p in precisions:
            out = work / f"{cpu}-{p}.npz"
            print(f"{cpu}: {p} audio on {report['audio_sentences']} sentences", file=sys.stderr, flush=True)
            run_stages([*common, "--precision", p, "--phonemes-file", str(audio_file), "--replay",
                        str(work / f"x86-{p}.npz"), "--replay-stages", "vocoder", "--out", str(out)],
                       guest_cpu=cpu, threads=args.threads)
            arm, x86, ref = np.load(out), x86_audio[p], x86_audio["fp32"]
            n = report["audio_sentences"]
            same = [np.array_equal(x86[f"{i}/free/durations"], arm[f"{i}/free/durations"]) for i in range(n)]
            spec = [spectrogram_correlation(x86[f"{i}/free/audio"], arm[f"{i}/free/audio"])
                    for i in range(n) if same[i]]
            arm_ref = [spectrogram_correlation(ref[f"{i}/free/audio"], arm[f"{i}/free/audio"])
                       for i in range(n) if same[i]]
            x86_ref = [spectrogram_correlation(ref[f"{i}/free/audio"], x86[f"{i}/free/audio"])
                       for i in range(n) if same[i]]
            row[p] = {"durations_identical": int(sum(same)), "sentences": n,
                      "spec_corr_arm_vs_x86": [min(spec), float(np.mean(spec))] if spec else None,
                      "spec_corr_vs_x86_fp32": {"arm": [min(arm_ref), float(np.mean(arm_ref))],
                                                "x86": [min(x86_ref), float(np.mean(x86_ref))]} if spec else None,
                      "vocoder_errors": stage_errors(x86, arm, n),
                      "seconds": [r["seconds"] for r in json.loads(str(arm["meta"]))["sentences"]]}
        report["cpus"][cpu] = row
        print(json.dumps({cpu: row}, indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
