"""The JVM host (android_demo/) against the Python runtime, on the same bundle folder.

- `test_jvm_tests`: builds the Kotlin library, CLI and JVM tests with Debian's kotlinc
  (android_demo/setup.sh installs it) and runs the JUnit suite against golden vectors written here,
  from the current bundles, by tests/golden/write_goldens.py: every host step (noise, durations,
  alignment, padding, sine source, STFT, iSTFT, chunking, fades, PCM), the lexicon and the
  phonemizer, then the three stages end to end through libLiteRt.so. Tolerances are stated in each
  JVM test class; the measured worst differences are printed.
- `test_speak_matches_say`: `android_demo/speak --phonemes P --seed N` vs `kokoro-litert say
  --phonemes P --seed N` on 10 held-out phoneme strings: identical lengths, waveform correlation
  >= 0.9999 with the fp32 vocoder; with the int8 one (the folder's default) >= 0.99, because its
  dynamic activation quantization turns the hosts' float32 rounding differences into quantization
  steps (see android_demo/README.md and LiteRtGoldenTest).
- `test_jvm_phonemes_equal_python`: `speak --phonemize` vs `phonemize` on the dev sentences: >= 98%
  of the words identical.
- `test_jvm_speaks_the_dev_set`: the JVM CLI speaks the dev sentences from text; Whisper tiny.en WER
  <= 3% (the dev set in one text file; $KOKORO_JVM_WER_SENTENCES trims it for a quick run).
- `test_bad_input`: missing bundle folder, unknown voice, empty text and phonemes: one line with the
  remedy on stderr, exit status 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from support.cli_run import read_wav, run_cli, say_args, stderr_lines
from support.sentences import load_sentences

pytestmark = [pytest.mark.real_weights, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "android_demo"
SPEAK = DEMO / "speak"
HELDOUT = 10  # the first 10 held-out sentences' phoneme strings (2 to ~25 words each)
CORRELATION_FP32 = 0.9999  # the acceptance bound
CORRELATION_INT8 = 0.99  # see the module docstring
WORDS_EQUAL = 0.98
WER_MAX = 0.03


def _run(cmd, timeout=1800, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "KOKORO_PYTHON": sys.executable}
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, env=env, **kw)


@pytest.fixture(scope="module")
def jvm():
    """Debian packages installed and the library + CLI jar built (first time ~1 min)."""
    setup = _run(["bash", DEMO / "setup.sh"])
    assert setup.returncode == 0, setup.stderr[-2000:]
    build = _run([DEMO / "build.sh"])
    assert build.returncode == 0, build.stderr[-3000:]
    return DEMO / "build"


@pytest.fixture(scope="module")
def goldens(bundle_dir, tmp_path_factory) -> Path:
    sys.path.insert(0, str(REPO / "tests" / "golden"))
    from write_goldens import write_goldens

    start = time.perf_counter()
    out = tmp_path_factory.mktemp("goldens")
    write_goldens(Path(bundle_dir), out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"\ngoldens: {size / 1e6:.1f} MB in {time.perf_counter() - start:.0f} s")
    return out


@pytest.fixture(scope="module")
def native():
    """libLiteRt.so, its version, and espeak-ng's library and data, as the Python runtime loads them."""
    import espeakng_loader
    from importlib.metadata import version

    import ai_edge_litert

    return {"litert": str(Path(ai_edge_litert.__file__).parent / "libLiteRt.so"), "version": version("ai-edge-litert"),
            "espeak_lib": espeakng_loader.get_library_path(), "espeak_data": espeakng_loader.get_data_path()}


@pytest.fixture(scope="module")
def lexicon(tmp_path_factory) -> Path:
    from kokoro_litert.runtime.text import export_lexicon

    folder = tmp_path_factory.mktemp("lexicon")
    for lang in "ab":
        export_lexicon(folder / f"lexicon-{lang}.tsv", lang)
    return folder


def test_jvm_tests(jvm, goldens, bundle_dir, native, lexicon, tmp_path):
    reports = tmp_path / "reports"
    props = {"kokoro.goldens": goldens, "kokoro.bundles": bundle_dir, "kokoro.lexicon": lexicon / "lexicon-a.tsv",
             "kokoro.litert.lib": native["litert"], "kokoro.litert.version": native["version"],
             "kokoro.espeak.lib": native["espeak_lib"], "kokoro.espeak.data": native["espeak_data"],
             "kokoro.reports": reports}
    result = _run([DEMO / "build.sh", "test", *(f"-D{k}={v}" for k, v in props.items())])
    print(result.stdout[-3000:])
    for report in sorted(reports.glob("*.json")):
        print(f"{report.stem}: {report.read_text().strip()}")
    assert result.returncode == 0, (result.stdout[-4000:], result.stderr[-2000:])
    assert "OK (" in result.stdout


def _speak_env(lexicon: Path, native: dict) -> dict:
    return {**os.environ, "KOKORO_PYTHON": sys.executable, "KOKORO_LEXICON_DIR": str(lexicon),
            "KOKORO_LITERT_LIB": native["litert"], "KOKORO_LITERT_VERSION": native["version"],
            "KOKORO_ESPEAK_LIB": native["espeak_lib"], "KOKORO_ESPEAK_DATA": native["espeak_data"]}


def speak(args, lexicon: Path, native: dict, timeout=1800) -> subprocess.CompletedProcess:
    return subprocess.run([str(SPEAK), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=_speak_env(lexicon, native))


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_speak_matches_say(jvm, bundle_dir, cache_dir, native, lexicon, tmp_path, precision):
    correlations, seconds = [], {"jvm": 0.0, "python": 0.0}
    for i, s in enumerate(load_sentences("heldout")[:HELDOUT]):
        seed = 100 + i
        jvm_wav, py_wav = tmp_path / f"jvm{i}.wav", tmp_path / f"py{i}.wav"
        start = time.perf_counter()
        r = speak(["--bundles", bundle_dir, "--phonemes", s.phonemes, "--seed", seed, "--precision", precision,
                   "-o", jvm_wav], lexicon, native)
        seconds["jvm"] += time.perf_counter() - start
        assert r.returncode == 0, r.stderr[-2000:]
        start = time.perf_counter()
        r = run_cli(say_args(cache_dir, "--phonemes", s.phonemes, "--seed", seed, "--precision", precision, "-o", py_wav,
                             bundles=bundle_dir), cache_dir)
        seconds["python"] += time.perf_counter() - start
        assert r.returncode == 0, stderr_lines(r)[-5:]
        a, b = read_wav(jvm_wav), read_wav(py_wav)
        assert a.size == b.size, f"{s.id}: {a.size} vs {b.size} samples"
        correlations.append(float(np.corrcoef(a, b)[0, 1]))
    print(f"\n{precision}: correlation min {min(correlations):.7f}, mean {np.mean(correlations):.7f} over "
          f"{len(correlations)} held-out strings; wall time (fresh process each) JVM {seconds['jvm']:.0f} s, "
          f"Python {seconds['python']:.0f} s")
    bound = CORRELATION_FP32 if precision == "fp32" else CORRELATION_INT8
    assert min(correlations) >= bound, correlations


def test_jvm_phonemes_equal_python(jvm, lexicon, native, tmp_path):
    from kokoro_litert.runtime.text import phonemize

    sentences = load_sentences("dev")
    text = tmp_path / "dev.txt"
    text.write_text("\n".join(s.text for s in sentences) + "\n", encoding="utf-8")
    r = speak(["--phonemize", "--text-file", text], lexicon, native)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert len(rows) == len(sentences)
    words = equal = 0
    for s, row in zip(sentences, rows):
        expected = [[w.text, w.phonemes] for w in phonemize(s.text).words if any(c.isalpha() for c in w.phonemes)]
        got = [w for w in row["words"] if any(c.isalpha() for c in w[1])]
        words += len(expected)
        equal += sum(1 for e, g in zip(expected, got) if e == g)
    print(f"\nJVM phonemes equal Python's on {equal} of {words} dev words ({equal / words:.2%})")
    assert equal >= WORDS_EQUAL * words


def test_jvm_speaks_the_dev_set(jvm, bundle_dir, lexicon, native, tmp_path):
    import asr_judge

    sentences = load_sentences("dev")
    limit = int(os.environ.get("KOKORO_JVM_WER_SENTENCES", "0") or 0)
    if limit:
        sentences = sentences[:limit]
    text = tmp_path / "dev.txt"
    text.write_text("\n".join(s.text for s in sentences) + "\n", encoding="utf-8")
    wav = tmp_path / "dev.wav"
    start = time.perf_counter()
    r = speak(["--bundles", bundle_dir, "--text-file", text, "-o", wav], lexicon, native)
    assert r.returncode == 0, r.stderr[-2000:]
    print(f"\n{r.stderr.strip().splitlines()[-1]} ({time.perf_counter() - start:.0f} s with start-up)")
    reference = " ".join(s.text for s in sentences)
    score = asr_judge.wer([reference], [asr_judge.transcribe(read_wav(wav), 24000)])
    print(f"JVM WER {score:.2%} over {len(asr_judge.normalize(reference).split())} words ({len(sentences)} sentences)")
    assert score <= WER_MAX


@pytest.mark.parametrize("case", ["missing_bundles", "unknown_voice", "empty_text", "empty_phonemes"])
def test_bad_input(jvm, bundle_dir, lexicon, native, tmp_path, case):
    out = tmp_path / "out.wav"
    args = {"missing_bundles": ["--bundles", tmp_path / "nowhere", "--phonemes", "həlˈO", "-o", out],
            "unknown_voice": ["--bundles", bundle_dir, "--voice", "af_nobody", "--phonemes", "həlˈO", "-o", out],
            "empty_text": ["--bundles", bundle_dir, "", "-o", out],
            "empty_phonemes": ["--bundles", bundle_dir, "--phonemes", " ", "-o", out]}[case]
    r = speak(args, lexicon, native)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2, (r.returncode, lines)
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    remedy = {"missing_bundles": "pass --bundles", "unknown_voice": "--list-voices", "empty_text": "Pass text",
              "empty_phonemes": "Pass Kokoro phonemes"}[case]
    assert remedy in lines[0], lines[0]
    assert not out.exists()
