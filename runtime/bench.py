"""`kokoro-litert bench`: speed, first audio, memory and start-up, side by side with the peers, in one run.

Every measurement runs in a fresh Python process, so its peak RSS and its start-up are its own.
Figures from a shared machine are noisy: compare ratios measured in one run, not seconds from
different runs. What it measures:

- front-end: words/s, lexicon load time and memory;
- load: per stage, model creation and the first call of its smallest signature, and the RSS after
  every signature's first call (memory per stage and per bucket);
- cold: a fresh-process `say` of a 10-word sentence (litert) vs kokoro-onnx's own cold run of the
  same sentence (its model load, its espeak front-end, one `create`), median of a few runs;
- warm, per backend and text: after a warm-up that runs every signature once (the memory worst
  case), real-time factor, time to the first chunk, peak RSS; seconds per stage;
- per full signature: warm seconds per call (litert).

`--report DIR` also writes report.json (every figure and the machine), PNG plots and summary.md
(plots need matplotlib: `pip install 'kokoro-litert[report]'`).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
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
COLD_SENTENCE = "The quick brown fox jumps over the lazy dog near the river."  # 12 words


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


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# --- measurements, each run in a child process ----------------------------------------------------


def run_case(backend_name: str, words: int, bundles: str | None, cache_dir: str | None, threads: int | None) -> dict:
    """One warm synthesis of a `words`-word text: warm-up first (every signature runs once)."""
    from .api import Kokoro

    t_load = time.perf_counter()
    backend, voices = load_backend(backend_name, bundles, cache_dir, threads)
    tts = Kokoro(backend, voices)
    tts.voice("af_heart")
    list(tts.stream("Warm up.", voice="af_heart"))  # lexicon, models, kernels
    per_signature = None
    if hasattr(backend, "warm_up"):
        backend.warm_up()  # every signature once: the first call of each plans its arena
        per_signature = backend.warm_up(repeat=True)  # warm: seconds per call at each full signature
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
              "synth_s": round(total, 3), "rtf": round(total / audio_s, 4), "first_audio_s": round(first, 3),
              "load_s": round(load_s, 2), "peak_rss_mb": round(_peak_rss_mb(), 1)}
    if per_signature:
        result["signature_s"] = per_signature
    stage_times = getattr(backend, "stage_times", None)
    if stage_times:
        result["stages_s"] = {k: round(v, 3) for k, v in stage_times.items()}
    return result


def run_load(bundles: str, threads: int | None, precision: str | None) -> dict:
    """Per stage: model creation + first call of its smallest signature; RSS after every first call."""
    from .litert import LiteRTBackend, random_inputs

    base = _rss_mb()
    backend = LiteRTBackend(bundles, threads=threads, precision=precision)
    manifest = backend.bundle.manifest
    out = {"precision": backend.precision, "base_rss_mb": round(base, 1), "stages": {}, "signatures": {}}
    import numpy as np

    from .runner import _environment

    t0 = time.perf_counter()
    from ai_edge_litert.compiled_model import CompiledModel  # noqa: F401  LiteRT's native library

    _environment()  # LiteRT's once-per-process set-up, timed apart from any stage
    out["environment_s"] = round(time.perf_counter() - t0, 4)

    rng = np.random.default_rng(0)
    for stage in ("predictor", "prosody", "vocoder"):
        names = list(manifest.signatures[stage])
        t0 = time.perf_counter()
        backend.runner.model(stage)
        created = time.perf_counter() - t0
        for k, name in enumerate(names):
            inputs = random_inputs(manifest.signatures[stage][name], rng)
            t1 = time.perf_counter()
            backend.runner.run(stage, name, **inputs)
            first = time.perf_counter() - t1
            if k == 0:
                out["stages"][stage] = {"create_s": round(created, 4), "first_call_s": round(first, 4),
                                        "signature": name}
            out["signatures"][f"{stage}/{name}"] = {"first_call_s": round(first, 4), "rss_mb": round(_rss_mb(), 1)}
    out["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    out["vocoder_models_created"] = backend.runner.creations["vocoder"]  # 1: one model for the life of the runner
    return out


def load_backend(name: str, bundles: str | None, cache_dir: str | None, threads: int | None):
    """(backend, voices) for a bench backend name: litert, litert-<precision>, onnx, torch."""
    from .cache import cache_root

    cache = cache_root(cache_dir)
    if name == "torch":
        import torch

        from kokoro_litert.convert.reference import TorchReference

        if threads:
            torch.set_num_threads(threads)
        return TorchReference(cache / "weights"), cache / "voices"
    if name == "litert" or name.startswith("litert-"):
        from .litert import LiteRTBackend

        precision = name.split("-", 1)[1] if "-" in name else None
        backend = LiteRTBackend(bundles or default_bundles(cache), threads=threads, precision=precision)
        return backend, backend.bundle.voices
    if name == "onnx":
        vocab = json.loads((cache / "weights" / "config.json").read_text())["vocab"]
        return OnnxPeer(cache / "downloads" / "kokoro-v1.0.int8.onnx", vocab, threads), cache / "voices"
    raise ValueError(f"unknown backend {name!r}: use litert, litert-<precision>, onnx or torch")


def default_bundles(cache: Path) -> Path:
    from kokoro_litert.convert.export import cached_bundles

    return cached_bundles(cache / "weights", cache)


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

        from .backend import Synthesis
        from .vocab import phoneme_ids
        from .voices import style_for

        ids = phoneme_ids(phonemes, self.vocab)
        tokens = np.array([[0, *ids, 0]], dtype=np.int64)
        audio = self.session.run(None, {"tokens": tokens, "style": style_for(voice_pack, len(phonemes)),
                                        "speed": np.array([speed], np.float32)})[0].ravel()
        frames = np.full(tokens.shape[1], max(1, round(audio.size / 600 / tokens.shape[1])), dtype=np.int64)
        return Synthesis(audio=audio, durations=frames, durations_raw=frames.astype(np.float32))


# --- the run -----------------------------------------------------------------------------------------


def _child(code: str) -> dict:
    """Run `code` (which prints one JSON line last) in a fresh interpreter; return its JSON."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["failed"])[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cold_litert(bundles: str, threads: int | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "kokoro_litert.runtime.cli", "say", "--bundles", str(bundles), COLD_SENTENCE,
               "-o", str(Path(tmp) / "cold.wav")] + (["--threads", str(threads)] if threads else [])
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return time.perf_counter() - start


def _cold_onnx(cache: Path, threads: int | None) -> float:
    """kokoro-onnx's own cold path: import, model load, espeak front-end, one create()."""
    import numpy as np

    from .voices import read_voice_file

    with tempfile.TemporaryDirectory() as tmp:
        voices = Path(tmp) / "voices.npz"
        with open(voices, "wb") as f:  # kokoro-onnx reads an .npz of name -> [510, 1, 256]
            np.savez(f, af_heart=read_voice_file(cache / "voices" / "af_heart.bin").reshape(510, 1, 256))
        code = (f"import kokoro_onnx, wave, numpy as np; k = kokoro_onnx.Kokoro("
                f"{str(cache / 'downloads' / 'kokoro-v1.0.int8.onnx')!r}, {str(voices)!r}); "
                f"s, sr = k.create({COLD_SENTENCE!r}, voice='af_heart', lang='en-us'); "
                f"w = wave.open({str(Path(tmp) / 'cold.wav')!r}, 'wb'); w.setnchannels(1); w.setsampwidth(2); "
                "w.setframerate(sr); w.writeframes((np.clip(s, -1, 1) * 32767).astype('<i2').tobytes()); w.close()")
        env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)
        return time.perf_counter() - start


def machine() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for pkg in ("kokoro-litert", "ai-edge-litert", "numpy", "onnxruntime", "kokoro-onnx", "torch"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return {"cpu": cpu, "machine": platform.machine(), "cores": os.cpu_count(), "python": sys.version.split()[0],
            "platform": platform.platform(), "versions": versions}


def bench(backends: list[str], cases: list[str], bundles: str | None, cache_dir: str | None, threads: int | None,
          json_path: str | None = None, report_dir: str | None = None, cold_runs: int = 3, log=print) -> dict:
    from .cache import cache_root

    cache = cache_root(cache_dir)
    if any(b.startswith("litert") for b in backends) and bundles is None:
        bundles = str(default_bundles(cache))
    report: dict = {"machine": {**machine(), "threads": threads or os.cpu_count()}, "bundles": bundles,
                    "synthesis": [], "cold": {}, "load": None}
    frontend = _child("import json; from kokoro_litert.runtime.text.bench import bench_frontend; "
                      "print(json.dumps(bench_frontend()))")
    report["frontend"] = frontend
    log(f"front-end: {frontend['words_per_second']:,.0f} words/s on {frontend['words']} words, lexicon load "
        f"{frontend['load_seconds']:.2f} s, lexicon {frontend['lexicon_mb']:.0f} MiB")

    litert = [b for b in backends if b.startswith("litert")]
    if litert:
        load = _child("import json; from kokoro_litert.runtime.bench import run_load; "
                      f"print(json.dumps(run_load({bundles!r}, {threads!r}, None)))")
        report["load"] = load
        log(f"load ({load['precision']}): model creation + first call of the smallest signature; RSS after each "
            "signature's first call")
        log(f"  LiteRT library + environment (once per process) {load['environment_s']:.3f} s")
        for stage, v in load["stages"].items():
            log(f"  {stage:9} create {v['create_s']:.3f} s + first call ({v['signature']}) {v['first_call_s']:.3f} s")
        for name, v in load["signatures"].items():
            log(f"  {name:30} first call {v['first_call_s']:.3f} s  RSS {v['rss_mb']:.0f} MB")
        log(f"  peak RSS {load['peak_rss_mb']:.0f} MB (Python + runtime alone: {load['base_rss_mb']:.0f} MB)")

    if cold_runs and (litert or "onnx" in backends):
        log(f"cold: a fresh process speaks {len(COLD_SENTENCE.split())} words ({cold_runs} runs, median wall)")
        if litert:
            runs = [_cold_litert(bundles, threads) for _ in range(cold_runs)]
            report["cold"]["litert say"] = {"runs_s": [round(r, 3) for r in runs], "median_s": round(statistics.median(runs), 3)}
        if "onnx" in backends:
            runs = [_cold_onnx(cache, threads) for _ in range(cold_runs)]
            report["cold"]["kokoro-onnx"] = {"runs_s": [round(r, 3) for r in runs], "median_s": round(statistics.median(runs), 3)}
        for name, v in report["cold"].items():
            log(f"  {name:12} {v['median_s']:.2f} s  (runs {', '.join(f'{r:.2f}' for r in v['runs_s'])})")

    log(f"{'backend':12} {'case':10} {'words':>6} {'audio s':>8} {'RTF':>7} {'first s':>8} {'RSS MB':>7}")
    for backend in backends:
        for case in cases:
            code = ("import json; from kokoro_litert.runtime.bench import run_case; "
                    f"print(json.dumps(run_case({backend!r}, {CASES[case]}, {bundles!r}, {cache_dir!r}, {threads!r})))")
            try:
                row = _child(code)
            except RuntimeError as e:
                log(f"{backend:12} {case:10} failed: {e}")
                continue
            row["case"] = case
            report["synthesis"].append(row)
            log(f"{backend:12} {case:10} {row['words']:>6} {row['audio_s']:>8.1f} {row['rtf']:>7.3f} "
                f"{row['first_audio_s']:>8.2f} {row['peak_rss_mb']:>7.0f}")
    _ratios(report, log)
    for row in report["synthesis"]:
        if row.get("signature_s") and row["case"] == cases[0]:
            log(f"{row['backend']}: warm seconds per call at each signature")
            for name, seconds in row["signature_s"].items():
                log(f"  {name:30} {seconds:.4f}")
    if json_path:
        _write_json(report, Path(json_path))
    if report_dir:
        from .bench_report import write_report

        write_report(report, Path(report_dir))
        log(f"report in {report_dir}: report.json, summary.md, *.png")
    return report


def _ratios(report: dict, log) -> None:
    """Synthesis time of each backend relative to kokoro-onnx on the same cases, same run."""
    rows = report["synthesis"]
    peer = {r["case"]: r for r in rows if r["backend"] == "onnx"}
    ratios = {}
    for r in rows:
        if r["backend"] != "onnx" and r["case"] in peer:
            ratios.setdefault(r["backend"], {})[r["case"]] = round(r["synth_s"] / peer[r["case"]]["synth_s"], 3)
    report["time_vs_kokoro_onnx"] = ratios
    for backend, by_case in ratios.items():
        log(f"{backend}: synthesis time / kokoro-onnx's: " + ", ".join(f"{c} {v:.2f}x" for c, v in by_case.items()))


def _write_json(report: dict, path: Path) -> None:
    from .cache import atomic_write

    with atomic_write(path, "w") as f:
        json.dump(report, f, indent=2)
