"""`kokoro-litert bench`: real-time factor, time to first audio and peak memory, per backend and text.

Each synthesis case runs in a fresh Python process so its peak RSS is its own. Figures from a
shared machine are noisy: compare ratios measured in one run, not seconds from different runs.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

SENTENCES = [
    "The morning train was late again, so Maria walked the last mile to the office.",
    "She counted forty-two steps between the bakery and the bridge.",
    "A small robot on the shelf blinked twice and went quiet.",
    "Nobody expected the storm to arrive before lunch, yet the sky turned gray by ten.",
    "Please remember to water the tomatoes and close the garden gate.",
    "The library on Elm Street keeps its rare maps in a cool, dark room.",
    "When the music stopped, the children froze in their funniest poses.",
    "He paid $12.75 for two coffees and a slice of lemon cake.",
    "Our meeting moved to 3:30 p.m. on Thursday, March 5th.",
    "Engineers measured the bridge at 1,250 meters from end to end.",
    "The old clock in the hallway still chimes every quarter hour.",
    "If you listen closely, you can hear the river behind the hill.",
    "Three students stayed late to finish the experiment and clean the lab.",
    "The recipe calls for a pinch of salt, two eggs, and a cup of milk.",
    "Across the valley, a dog barked at the passing clouds.",
]


def sample_text(words: int) -> str:
    """Original prose of about `words` words (the sentences above, cycled)."""
    out, count, i = [], 0, 0
    while count < words:
        sentence = SENTENCES[i % len(SENTENCES)]
        out.append(sentence)
        count += len(sentence.split())
        i += 1
        if i % 5 == 0:
            out.append("\n")
    return " ".join(out)


CASES = {"short": 12, "paragraph": 120, "long": 600, "article": 3000}
"""Words per case; "article" (about 20 minutes of audio) is not in the default run: it checks that
memory stays flat with text length (`--cases paragraph,article`)."""


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(backend_name: str, words: int, cache_dir: str | None, threads: int | None) -> dict:
    """One synthesis, measured in this process (called in a child process by `bench`)."""
    from .api import Kokoro
    from .cache import cache_root

    cache = cache_root(cache_dir)
    t_load = time.perf_counter()
    backend = load_backend(backend_name, cache, threads)
    tts = Kokoro(backend, cache / "voices")
    tts.voice("af_heart")
    list(tts.stream("Warm up.", voice="af_heart"))  # lexicon, interpreters and kernels, once
    buckets = None
    if hasattr(backend, "bundles"):
        backend.bundles.warm_up()  # every bucket: the first call of each packs its weights
        buckets = backend.bundles.warm_up()  # warm: seconds per stage at each full bucket
    if getattr(backend, "stage_times", None):
        backend.stage_times.clear()
    load_s = time.perf_counter() - t_load
    text = sample_text(words)
    t0 = time.perf_counter()
    first, samples, chunks = None, 0, 0
    for chunk in tts.stream(text, voice="af_heart"):
        first = first if first is not None else time.perf_counter() - t0
        samples += chunk.audio.size
        chunks += 1
    total = time.perf_counter() - t0
    audio_s = samples / 24000
    result = {"backend": backend_name, "words": len(text.split()), "chunks": chunks, "audio_s": round(audio_s, 2),
              "synth_s": round(total, 3), "rtf": round(total / audio_s, 3), "first_audio_s": round(first, 3),
              "load_s": round(load_s, 2), "peak_rss_mb": round(_peak_rss_mb(), 1)}
    if buckets:
        result["buckets_s"] = buckets
    stage_times = getattr(backend, "stage_times", None)
    if stage_times:
        result["stages_s"] = {k: round(v, 3) for k, v in stage_times.items()}
    return result


def load_backend(name: str, cache: Path, threads: int | None):
    if name == "torch":
        import torch

        from kokoro_litert.convert.reference import TorchReference

        if threads:
            torch.set_num_threads(threads)
        return TorchReference(cache / "weights")
    if name in ("litert", "litert-fp32"):
        from kokoro_litert.convert.export import cached_bundles

        from .litert import LiteRTBackend

        return LiteRTBackend(cached_bundles(cache / "weights", cache), threads=threads,
                             precision="fp32" if name == "litert-fp32" else "int8")
    if name == "onnx":
        vocab = json.loads((cache / "weights" / "config.json").read_text())["vocab"]
        return OnnxPeer(cache / "downloads" / "kokoro-v1.0.int8.onnx", vocab, threads)
    raise ValueError(f"unknown backend {name!r}")


class OnnxPeer:
    """The peer: kokoro-onnx's int8 export on onnxruntime, behind the same front-end and chunking.

    Built with kokoro-onnx's own session factory and fed as kokoro-onnx feeds it (tokens with the
    boundary pads, the style row for the phoneme count, speed), so the figures are the engine's.
    The export returns no durations: word times are spread evenly (bench does not use them).
    """

    max_phonemes = 510  # kokoro-onnx's window

    def __init__(self, model_path: Path, vocab: dict[str, int], threads: int | None):
        import onnxruntime as ort
        from kokoro_onnx.session import create_session

        if threads:  # kokoro-onnx leaves onnxruntime's default (all cores); pin only when asked
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        else:
            self.session = create_session(str(model_path))
        self.vocab = vocab

    def synthesize(self, phonemes: str, voice_pack, speed: float = 1.0, seed: int = 0):
        import numpy as np

        from .vocab import phoneme_ids
        from .voices import style_for

        ids = phoneme_ids(phonemes, self.vocab)
        tokens = np.array([[0, *ids, 0]], dtype=np.int64)
        audio = self.session.run(None, {"tokens": tokens, "style": style_for(voice_pack, len(phonemes)),
                                        "speed": np.array([speed], np.float32)})[0].ravel()
        frames = audio.size / 600
        return _PeerOutput(audio, np.full(tokens.shape[1], frames / tokens.shape[1]))


class _PeerOutput:
    def __init__(self, audio, durations):
        self.audio, self.durations = audio, durations


def bench(backends: list[str], cases: list[str], cache_dir: str | None, threads: int | None,
          json_path: str | None, log=print) -> dict:
    frontend = json.loads(subprocess.run(  # a fresh process, so its RSS figure is its own
        [sys.executable, "-c", "import json; from kokoro_litert.runtime.text.bench import bench_frontend; "
                               "print(json.dumps(bench_frontend()))"],
        capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    report: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                    "frontend": frontend, "synthesis": []}
    log(f"front-end: {frontend['words_per_second']:,.0f} words/s on {frontend['words']} words, lexicon load "
        f"{frontend['load_seconds']:.2f} s, lexicon {frontend['lexicon_mb']:.0f} MiB, "
        f"RSS +{frontend['rss_delta_mb']:.0f} MiB")
    log(f"{'backend':8} {'case':10} {'words':>6} {'audio s':>8} {'RTF':>6} {'first s':>8} {'RSS MB':>7}")
    for backend in backends:
        for case in cases:
            cmd = [sys.executable, "-c",
                   "import json,sys; from kokoro_litert.runtime.bench import run_case; "
                   f"print(json.dumps(run_case({backend!r}, {CASES[case]}, {cache_dir!r}, {threads!r})))"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                log(f"{backend:8} {case:10} failed: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row["case"] = case
            report["synthesis"].append(row)
            log(f"{backend:8} {case:10} {row['words']:>6} {row['audio_s']:>8.1f} {row['rtf']:>6.3f} "
                f"{row['first_audio_s']:>8.2f} {row['peak_rss_mb']:>7.0f}")
    for row in report["synthesis"]:
        if row.get("buckets_s") and row["case"] == cases[0]:
            log(f"{row['backend']}: seconds per call at each full bucket (predictor / prosody / vocoder)")
            for name, stages in row["buckets_s"].items():
                log(f"  {name:10} " + " / ".join(f"{stages[s]:.3f}" for s in ("predictor", "prosody", "vocoder")))
    if json_path:
        from .cache import atomic_write

        with atomic_write(json_path, "w") as f:
            json.dump(report, f, indent=2)
    return report
