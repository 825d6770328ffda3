"""`kokoro-litert bench`: speed, first audio, memory and start-up on this device, side by side with
the peers when they are installed, in one run.

Every measurement runs in a fresh Python process, so its peak RSS and its start-up are its own.
Figures from a shared machine are noisy: compare ratios measured in one run, not seconds from
different runs. Backends: litert (the bundle folder, its default precision or litert-<precision>);
the peers, each used only when installed: onnx (kokoro-onnx + onnxruntime on the int8 export `fetch`
assembles) and torch (the PyTorch reference, the convert extra). Text: built-in original sentences
in any of the nine languages (`--lang`), spoken by the language's own voice unless `--voice`.
What it measures:

- load: per stage, model creation and the first call of its smallest signature, and the RSS after
  every signature's first call (memory per stage and per bucket);
- cold: a fresh-process `say` of one sentence (litert) vs kokoro-onnx's own cold run of the
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

SENTENCES_FILE = Path(__file__).parent / "data" / "bench_sentences.tsv"
WORDS_PER_SENTENCE = 12  # about what the English sentences have; other languages' cases count sentences
CASES = {"short": 12, "paragraph": 120, "long": 600, "article": 3000}
"""Words per case (English; other languages speak as many sentences as English needs for that many
words); "article" (about 20 minutes of audio) is not in the default run: it checks that memory stays
flat with text length (`--cases paragraph,article`)."""


def sentences(lang: str) -> list[str]:
    """The built-in sentences of a language (British English uses the American ones)."""
    code = "a" if lang == "b" else lang
    rows = [line.split("\t", 1) for line in SENTENCES_FILE.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("# ")]
    return [text for c, text in rows if c == code]


def cold_sentence(lang: str) -> str:
    return "The quick brown fox jumps over the lazy dog near the river." if lang in "ab" else sentences(lang)[0]


def sample_text(words: int, lang: str = "a") -> str:
    """Original prose of about `words` English words' worth of speech (the built-in sentences, cycled)."""
    pool = sentences(lang)
    out, count, i = [], 0, 0
    while count < words:
        sentence = pool[i % len(pool)]
        out.append(sentence)
        count += len(sentence.split()) if lang in "ab" else WORDS_PER_SENTENCE
        i += 1
        if i % 5 == 0:
            out.append("\n")
    return " ".join(out)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# --- measurements, each run in a child process ----------------------------------------------------


def run_case(backend_name: str, words: int, bundles: str | None, cache_dir: str | None, threads: int | None,
             lang: str = "a", voice: str = "af_heart", torch_reference=None) -> dict:
    """One warm synthesis of a `words`-word text: warm-up first (every signature runs once).
    torch_reference: what builds the PyTorch backend (the CLI's, which may fetch the weights)."""
    from .api import Kokoro

    t_load = time.perf_counter()
    backend, voices = load_backend(backend_name, bundles, cache_dir, threads, torch_reference)
    tts = Kokoro(backend, voices)
    tts.voice(voice)
    list(tts.stream(sentences(lang)[-1], voice=voice, lang=lang))  # front-end, models, kernels
    per_signature = None
    if hasattr(backend, "warm_up"):
        backend.warm_up()  # every signature once: the first call of each plans its arena
        per_signature = backend.warm_up(repeat=True)  # warm: seconds per call at each full signature
    if getattr(backend, "stage_times", None):
        backend.stage_times.clear()
    load_s = time.perf_counter() - t_load
    text = sample_text(words, lang)
    t0 = time.perf_counter()
    first, samples, chunks = None, 0, 0
    for chunk in tts.stream(text, voice=voice, lang=lang):
        first = first if first is not None else time.perf_counter() - t0
        samples += chunk.audio.size
        chunks += 1
    total = time.perf_counter() - t0
    audio_s = samples / 24000
    result = {"backend": backend_name, "lang": lang, "voice": voice, "words": len(text.split()), "chunks": chunks,
              "audio_s": round(audio_s, 2),
              "synth_s": round(total, 3), "rtf": round(total / audio_s, 4), "first_audio_s": round(first, 3),
              "load_s": round(load_s, 2), "peak_rss_mb": round(_peak_rss_mb(), 1)}
    if per_signature:
        result["signature_s"] = per_signature
    stage_times = getattr(backend, "stage_times", None)
    if stage_times:
        result["stages_s"] = {k: round(v, 3) for k, v in stage_times.items()}
    runner = getattr(backend, "runner", None)
    if runner is not None and runner.gpu_stages:
        result["gpu"] = ("software GPU: timings say nothing of a GPU's" if runner.software_gpu
                         else runner.gpu_adapter or "no GPU: ran on the CPU")
    return result


def run_load(bundles: str, threads: int | None, precision: str | None) -> dict:
    """Per stage: model creation + first call of its smallest signature; RSS after every first call."""
    from .litert import LiteRTBackend, random_inputs

    base = _rss_mb()
    backend = LiteRTBackend(bundles, threads=threads, precision=precision)
    manifest = backend.bundle.manifest
    out = {"precision": backend.precision, "base_rss_mb": round(base, 1), "stages": {}, "signatures": {}}
    import numpy as np

    from .runner import litert_environment

    t0 = time.perf_counter()
    from ai_edge_litert.compiled_model import CompiledModel  # noqa: F401  LiteRT's native library

    litert_environment()  # LiteRT's once-per-process set-up, timed apart from any stage
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


def load_backend(name: str, bundles: str | None, cache_dir: str | None, threads: int | None, torch_reference=None):
    """(backend, voices) for a bench backend name: litert, litert-<precision>, litert[-<precision>]-gpu
    (the vocoder on the GPU accelerator), onnx, torch."""
    from .cache import cache_root

    cache = cache_root(cache_dir)
    if name == "torch":  # the PyTorch reference lives with the converter: the CLI hands in its builder
        return torch_reference(cache, threads), cache / "voices"
    if name == "litert" or name.startswith("litert-"):
        from .litert import LiteRTBackend

        parts = name.split("-")[1:]
        accelerator = "gpu" if parts[-1:] == ["gpu"] else "cpu"
        precision = parts[0] if parts[:1] not in ([], ["gpu"]) else None
        backend = LiteRTBackend(bundles, threads=threads, precision=precision, accelerator=accelerator)
        return backend, backend.bundle.voices
    if name == "onnx":
        vocab = json.loads((cache / "weights" / "config.json").read_text())["vocab"]
        return OnnxPeer(onnx_model(cache), vocab, threads), cache / "voices"
    raise ValueError(f"unknown backend {name!r}: use litert, litert-<precision>, litert-gpu, onnx or torch")


def onnx_model(cache: Path) -> Path:
    """The int8 kokoro-onnx export `kokoro-litert fetch` assembles (the peer's model file)."""
    return cache / "downloads" / "kokoro-v1.0.int8.onnx"


def peer_missing(name: str, cache: Path) -> str | None:
    """Why a peer backend cannot run here (not installed, no model), or None when it can."""
    import importlib.util

    needs = {"onnx": ("kokoro_onnx", "onnxruntime"), "torch": ("torch", "kokoro", "litert_torch")}.get(name, ())
    missing = [m for m in needs if importlib.util.find_spec(m) is None]
    if missing:
        return f"{', '.join(missing)} not installed"
    if name == "onnx" and not onnx_model(cache).is_file():
        return f"no kokoro-onnx model at {onnx_model(cache)} (`kokoro-litert fetch` puts it there)"
    if name in ("onnx", "torch") and not (cache / "weights" / "config.json").is_file():
        return "no fetched weights (`kokoro-litert fetch`)"
    return None


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


def _cold_litert(bundles: str, threads: int | None, lang: str, voice: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "kokoro_litert.runtime.cli", "say", "--bundles", str(bundles),
               cold_sentence(lang), "--lang", lang, "--voice", voice,
               "-o", str(Path(tmp) / "cold.wav")] + (["--threads", str(threads)] if threads else [])
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return time.perf_counter() - start


def _cold_onnx(cache: Path, threads: int | None, lang: str, voice: str) -> float:
    """kokoro-onnx's own cold path: import, model load, its espeak front-end, one create()."""
    import numpy as np

    from .text.languages import language
    from .voices import read_voice_file

    with tempfile.TemporaryDirectory() as tmp:
        voices = Path(tmp) / "voices.npz"
        with open(voices, "wb") as f:  # kokoro-onnx reads an .npz of name -> [510, 1, 256]
            np.savez(f, **{voice: read_voice_file(cache / "voices" / f"{voice}.bin").reshape(510, 1, 256)})
        code = (f"import kokoro_onnx, wave, numpy as np; k = kokoro_onnx.Kokoro("
                f"{str(onnx_model(cache))!r}, {str(voices)!r}); "
                f"s, sr = k.create({cold_sentence(lang)!r}, voice={voice!r}, lang={language(lang).name!r}); "
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


def bench(backends: list[str], cases: list[str], bundles: str, cache_dir: str | None, threads: int | None,
          json_path: str | None = None, report_dir: str | None = None, cold_runs: int = 3, lang: str = "a",
          voice: str | None = None, log=print) -> dict:
    """Measure `backends` on `cases` of built-in text in `lang` (spoken by `voice`, default the
    language's own); `bundles` is the folder litert backends run. Peers that cannot run here (not
    installed, no model) are left out with a line saying why."""
    from .cache import cache_root
    from .text.languages import language

    cache = cache_root(cache_dir)
    lang_info = language(lang)
    lang, voice = lang_info.code, voice or lang_info.default_voice
    runnable = []
    for name in backends:
        why = peer_missing(name, cache)
        if why:
            log(f"{name}: left out ({why})")
        else:
            runnable.append(name)
    backends = runnable
    report: dict = {"machine": {**machine(), "threads": threads or os.cpu_count()}, "bundles": bundles,
                    "lang": lang, "voice": voice, "synthesis": [], "cold": {}, "load": None}
    log(f"{lang_info.label}, voice {voice}")

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

    cold_onnx = "onnx" in backends and lang_info.g2p in ("english", "espeak")  # its front-end is espeak-ng
    if cold_runs and (litert or cold_onnx):
        log(f"cold: a fresh process speaks one sentence ({cold_runs} runs, median wall): {cold_sentence(lang)}")
        if litert:
            runs = [_cold_litert(bundles, threads, lang, voice) for _ in range(cold_runs)]
            report["cold"]["litert say"] = {"runs_s": [round(r, 3) for r in runs], "median_s": round(statistics.median(runs), 3)}
        if cold_onnx:
            runs = [_cold_onnx(cache, threads, lang, voice) for _ in range(cold_runs)]
            report["cold"]["kokoro-onnx"] = {"runs_s": [round(r, 3) for r in runs], "median_s": round(statistics.median(runs), 3)}
        for name, v in report["cold"].items():
            log(f"  {name:12} {v['median_s']:.2f} s  (runs {', '.join(f'{r:.2f}' for r in v['runs_s'])})")

    log(f"{'backend':12} {'case':10} {'words':>6} {'audio s':>8} {'RTF':>7} {'first s':>8} {'RSS MB':>7}")
    for backend in backends:
        for case in cases:
            # The torch child is the CLI's entry point into the converter's reference model.
            builder = "from kokoro_litert.runtime.cli import torch_reference; " if backend == "torch" else ""
            code = (f"import json; {builder}from kokoro_litert.runtime.bench import run_case; "
                    f"print(json.dumps(run_case({backend!r}, {CASES[case]}, {bundles!r}, {cache_dir!r}, {threads!r}, "
                    f"{lang!r}, {voice!r}{', torch_reference' if builder else ''})))")
            try:
                row = _child(code)
            except RuntimeError as e:
                log(f"{backend:12} {case:10} failed: {e}")
                continue
            row["case"] = case
            report["synthesis"].append(row)
            log(f"{backend:12} {case:10} {row['words']:>6} {row['audio_s']:>8.1f} {row['rtf']:>7.3f} "
                f"{row['first_audio_s']:>8.2f} {row['peak_rss_mb']:>7.0f}" + (f"  ({row['gpu']})" if "gpu" in row else ""))
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
