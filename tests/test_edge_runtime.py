"""The edge runtime on a bundle folder: it speaks alone, it is safe to share, its cache heals.

On the tiny bundle (tests/support/tiny_bundle.py), except where the words must be heard:
- One `Kokoro` shared by threads gives every thread the serial result, bit for bit.
- The runner: vocoder workspaces, donated inputs, only the running stage's weights mapped in.
- The XNNPACK weight cache: a corrupted cache file is detected (CRC32 sidecar, read again only
  after the file was written to) and rebuilt, and a bundle folder where no cache can be written
  still speaks (the fallback location, or no cache).
- Broken folders and unknown options are one line with a remedy.
- Logs never reach stdout: `convert` prints the folder and nothing else.
On the real bundle (`real_weights`): a venv with `pip install .` only (no torch), a bundle folder
copied elsewhere, an empty HOME: `say --bundles` speaks words Whisper hears and `voices --bundles`
lists all 54, and torch cannot even be imported there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from support.cli_run import read_wav, run_cli, say_args, stderr_lines

pytestmark = pytest.mark.slow

SENTENCE = "A bundle folder is all this device needs to speak."


@pytest.fixture(scope="module")
def tts(tiny):
    from kokoro_litert.runtime.api import Kokoro

    return Kokoro.from_bundles(tiny.bundle, threads=2)


def test_concurrent_create_on_one_instance_matches_serial(tts):
    """Four threads, one Kokoro: each result equals the serial one (it used to interleave stages)."""
    serial, _ = tts.create(SENTENCE, seed=3)
    results, errors = [None] * 4, []

    def speak(k):
        try:
            results[k] = tts.create(SENTENCE, seed=3)[0]
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=speak, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for audio in results:
        np.testing.assert_array_equal(audio, serial)


def test_voice_cache_is_bounded(tts):
    import itertools

    from kokoro_litert.runtime.api import VOICE_CACHE_SIZE

    blends = [f"{a}:0.5,{b}:0.5" for a, b in itertools.combinations(tts.voice_names(), 2)][:VOICE_CACHE_SIZE + 16]
    assert len(blends) > VOICE_CACHE_SIZE
    for blend in blends:
        tts.voice(blend)
    assert len(tts._voice_cache) == VOICE_CACHE_SIZE


def test_vocoder_model_is_recreated_only_to_grow_a_large_workspace(tts, monkeypatch):
    """runner.REGROW_FRAMES: one vocoder model until a size above any it ran must grow a workspace
    of REGROW_FRAMES frames or more; a re-created model gives the same output as before (XNNPACK is
    deterministic for a given thread count). REGROW_FRAMES is patched to either side of the
    bundle's smallest vocoder size, so any ladder with two sizes or more shows both cases."""
    from kokoro_litert.runtime import runner as runner_module
    from kokoro_litert.runtime.litert import random_inputs
    from kokoro_litert.runtime.runner import StageRunner

    backend = tts.backend
    manifest = backend.bundle.manifest
    small, large = min(manifest.vocoder_frames), max(manifest.vocoder_frames)
    assert small < large
    inputs = {f: random_inputs(manifest.signature("vocoder", f"frames_{f}"), np.random.default_rng(f))
              for f in (small, large)}

    def runner_with(regrow_frames: int) -> StageRunner:
        monkeypatch.setattr(runner_module, "REGROW_FRAMES", regrow_frames)
        return StageRunner(backend.bundle.folder, manifest, backend.bundle.files(backend.precision), 2,
                           backend.runner.weight_cache)

    def run(runner, frames):
        return runner.run("vocoder", f"frames_{frames}", **inputs[frames])

    runner = runner_with(small + 1)
    first = run(runner, small)
    run(runner, large)  # grows a workspace below REGROW_FRAMES: the model stays
    assert runner.creations["vocoder"] == 1
    run(runner, small)  # smaller than the workspace: no growth
    assert runner.creations["vocoder"] == 1
    runner.close()

    runner = runner_with(small)
    run(runner, small)
    assert runner.creations["vocoder"] == 1
    run(runner, large)  # grows a REGROW_FRAMES workspace: the model is re-created first
    assert runner.creations["vocoder"] == 2
    again = run(runner, small)
    assert runner.creations["vocoder"] == 2
    for key in first:
        np.testing.assert_array_equal(again[key], first[key])
    runner.close()


def test_a_donated_input_receives_the_outputs_and_changes_nothing(tts):
    """pipeline.Donated: the vocoder's outputs are written into the donated har's memory once it
    has been copied in, and are the same, bit for bit, as into fresh arrays; a traced synthesis
    (which keeps its inputs, so donates nothing) gives the same audio as an untraced one."""
    from kokoro_litert.runtime.litert import random_inputs
    from kokoro_litert.runtime.pipeline import Donated

    backend = tts.backend
    smallest = f"frames_{min(backend.bundle.manifest.vocoder_frames)}"
    inputs = random_inputs(backend.bundle.manifest.signature("vocoder", smallest), np.random.default_rng(5))
    fresh = backend.runner.run("vocoder", smallest, **inputs)
    donated = Donated.zeros(inputs["har"].shape, np.float32)
    donated[...] = inputs["har"]
    reused = backend.runner.run("vocoder", smallest, **{**inputs, "har": donated})
    assert all(np.shares_memory(reused[name], donated.pool) for name in reused)
    for name in fresh:
        np.testing.assert_array_equal(reused[name], fresh[name])
    pack = tts.voice("af_heart")
    phonemes = "ðə tɹˈeɪn wʌz lˈeɪt."
    np.testing.assert_array_equal(backend.synthesize(phonemes, pack, seed=2, trace={}).audio,
                                  backend.synthesize(phonemes, pack, seed=2).audio)


def _resident_kb(path: Path) -> int:
    """This process's resident KB of its mappings of `path` (/proc/self/smaps)."""
    inode, total, current = os.stat(path).st_ino, 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5 and not fields[0].endswith(":"):
                current = fields[4] == str(inode)
            elif current and fields[0] == "Rss:":
                total += int(fields[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc")
def test_only_the_running_stage_keeps_its_weights_mapped_in(tts):
    """runner.release_mapped_pages: before a stage runs, the other stages' graph and weight-cache
    pages leave the process (they stay in the page cache) and come back when needed: the same
    outputs, bit for bit, as a runner that keeps everything resident. "Resident" here: at least
    half of the weight-cache file (the packed weights a run reads)."""
    from kokoro_litert.runtime.litert import random_inputs
    from kokoro_litert.runtime.runner import StageRunner

    backend = tts.backend
    manifest = backend.bundle.manifest
    files = backend.bundle.files(backend.precision)
    rng = np.random.default_rng(7)
    bucket = manifest.buckets[0]
    vocoder = [f"frames_{f}" for f in manifest.vocoder_frames[:2]]
    calls = [("predictor", bucket.predictor_signature), ("prosody", bucket.prosody_signature),
             ("vocoder", vocoder[0]), ("vocoder", vocoder[1]), ("predictor", bucket.predictor_signature)]
    inputs = {c: random_inputs(manifest.signature(*c), rng) for c in calls}
    outputs = {}
    for release in (False, True):
        runner = StageRunner(backend.bundle.folder, manifest, files, 2, backend.runner.weight_cache,
                             release_idle_weights=release)
        outputs[release] = [runner.run(*c, **inputs[c]) for c in calls[:4]]
        if release:
            predictor_cache = runner.stage_files("predictor")[-1]
            assert predictor_cache.suffix == ".xnnpack"
            assert _resident_kb(predictor_cache) == 0, "the predictor's weights stayed resident while the vocoder ran"
            vocoder_cache = runner.stage_files("vocoder")[-1]
            assert _resident_kb(vocoder_cache) > _size_kb(vocoder_cache) / 2
        outputs[release].append(runner.run(*calls[4], **inputs[calls[4]]))
        if release:
            assert _resident_kb(predictor_cache) > _size_kb(predictor_cache) / 2
        runner.close()
    for kept, released in zip(outputs[False], outputs[True]):
        for name in kept:
            np.testing.assert_array_equal(released[name], kept[name])


def _size_kb(path: Path) -> float:
    return path.stat().st_size / 1024


def _copy(bundle_dir: Path, dst: Path) -> Path:
    """A plain copy of the bundle folder (its graphs, voices, lexicons, manifest; no weight cache)."""
    shutil.copytree(bundle_dir, dst, ignore=shutil.ignore_patterns(".xnnpack", "conversion*"))
    return dst


@pytest.mark.real_weights
def test_a_copied_bundle_folder_speaks_in_a_venv_without_torch(bundle_dir, tmp_path):
    repo = Path(__file__).resolve().parents[1]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(repo)], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr[-2000:]
    device = _copy(bundle_dir, tmp_path / "device" / "kokoro")
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    assert subprocess.run([str(venv / "bin" / "python"), "-c", "import torch"], env=env,
                          capture_output=True).returncode != 0, "torch is importable in the device venv"
    out = tmp_path / "hello.wav"
    result = subprocess.run([str(venv / "bin" / "kokoro-litert"), "say", "--bundles", str(device), SENTENCE, "-o",
                             str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()][-1].startswith(f"{read_wav(out).size / 24000:.2f} s of audio")
    from support.asr_judge import normalize, transcribe

    assert normalize(transcribe(read_wav(out), 24000)) == normalize(SENTENCE)
    voices = subprocess.run([str(venv / "bin" / "kokoro-litert"), "voices", "--bundles", str(device)], env=env,
                            capture_output=True, text=True)
    names = [line.split()[0] for line in voices.stdout.splitlines() if line.strip()]  # a name first on each line
    assert voices.returncode == 0 and len(names) == 54 and "af_heart" in names
    # nothing outside the folder and the (empty) home was needed; the weight cache went beside the graphs
    assert (device / ".xnnpack").is_dir() and not (home / ".cache" / "kokoro-litert" / "weights").exists()
    check = ("import sys, kokoro_litert.runtime.cli as c; c.main(['say', '--bundles', sys.argv[1], 'Hi.', '-o', "
             "sys.argv[2]]); sys.exit(1 if any(m.startswith(('torch', 'kokoro_litert.convert')) for m in sys.modules) else 0)")
    assert subprocess.run([str(venv / "bin" / "python"), "-c", check, str(device), str(tmp_path / "hi.wav")],
                          env=env, capture_output=True).returncode == 0, "say imported torch or the converter"


def test_a_corrupt_weight_cache_is_rebuilt(tiny, tmp_path):
    cache_dir = tiny.root
    bundles = _copy(tiny.bundle, tmp_path / "bundles")
    first = tmp_path / "first.wav"
    assert run_cli(say_args(cache_dir, SENTENCE, "-o", first, bundles=bundles), cache_dir).returncode == 0
    caches = sorted((bundles / ".xnnpack").glob("*.xnnpack"))
    assert len(caches) == 3 and all(c.with_suffix(".crc32").is_file() for c in caches)
    vocoder = next(c for c in caches if c.name.startswith("vocoder"))
    with open(vocoder, "r+b") as f:  # flip bytes inside the packed weights: XNNPACK would not notice
        f.seek(vocoder.stat().st_size // 2)
        f.write(b"\xff" * 64)
    again = tmp_path / "again.wav"
    result = run_cli(say_args(cache_dir, SENTENCE, "-o", again, bundles=bundles), cache_dir)
    assert result.returncode == 0, stderr_lines(result)
    np.testing.assert_array_equal(read_wav(again), read_wav(first))


def test_weight_cache_is_read_again_only_after_a_write(tmp_path, monkeypatch):
    """A cache file whose inode, mtime and ctime are as recorded when its CRC last matched is not read
    at start-up; any write moves its ctime (even with the mtime put back), and then the CRC decides."""
    from types import SimpleNamespace

    from kokoro_litert.runtime import runner

    cache = runner.WeightCache(tmp_path, SimpleNamespace(sha256={"graph.tflite": "0" * 64}))
    path, tmp = cache.open("graph.tflite")
    Path(path).write_bytes(np.random.default_rng(0).integers(0, 255, 1 << 16, dtype=np.uint8).tobytes())
    cache.publish("graph.tflite", tmp)
    final = cache.path("graph.tflite")
    sidecar = final.with_suffix(".crc32")
    crc, size = sidecar.read_text().split()[:2]

    with monkeypatch.context() as m:  # unchanged since checked: opened without reading it
        m.setattr(runner, "_crc32", lambda path: pytest.fail(f"{path} was read again"))
        assert cache.open("graph.tflite") == (str(final), None)

    sidecar.write_text(f"{crc} {size}\n")  # the JVM runner's sidecar: checked once, then stamped
    assert cache.open("graph.tflite") == (str(final), None)
    assert len(sidecar.read_text().split()) == 5

    before = final.stat()
    with open(final, "r+b") as f:
        f.seek(1000)
        f.write(b"\xff" * 8)
    os.utime(final, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert final.stat().st_mtime_ns == before.st_mtime_ns
    path, tmp = cache.open("graph.tflite")
    assert tmp is not None and not final.exists()  # found corrupt, to be rebuilt
    assert cache.problems == [f"the weight cache {final.name} was corrupt and is rebuilt"]


def test_no_writable_cache_location_still_speaks(tiny, tmp_path):
    """The bundle folder refuses the cache (its .xnnpack is a file here: the same as read-only, which
    root ignores) and so does the fallback location: it speaks without a weight cache."""
    bundle_dir, cache_dir = tiny.bundle, tiny.root
    bundles = _copy(bundle_dir, tmp_path / "bundles")
    (bundles / ".xnnpack").write_text("not a folder\n")
    blocked = tmp_path / "cache-is-a-file"
    blocked.write_text("not a folder\n")
    first = tmp_path / "first.wav"
    assert run_cli(say_args(cache_dir, SENTENCE, "-o", first, bundles=bundle_dir), cache_dir).returncode == 0
    out = tmp_path / "speech.wav"
    env_cache = {"KOKORO_LITERT_CACHE": str(blocked)}
    result = subprocess.run([sys.executable, "-m", "kokoro_litert.runtime.cli", "say", "--bundles", str(bundles),
                             SENTENCE, "-o", str(out)], env={**os.environ, **env_cache}, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(read_wav(out), read_wav(first))


def test_truncated_graph_is_one_line_with_a_remedy(tiny, tmp_path):
    cache_dir = tiny.root
    bundles = _copy(tiny.bundle, tmp_path / "bundles")
    graph = bundles / "vocoder.int8.tflite"
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 3])
    out = tmp_path / "speech.wav"
    result = run_cli(say_args(cache_dir, SENTENCE, "-o", out, bundles=bundles), cache_dir)
    lines = stderr_lines(result)
    assert result.returncode == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: ") and "vocoder.int8.tflite" in lines[0] and "kokoro-litert convert" in lines[0]
    assert not out.exists()


def test_bundle_without_voices_is_one_line_with_a_remedy(tiny, tmp_path):
    cache_dir = tiny.root
    bundles = _copy(tiny.bundle, tmp_path / "bundles")
    (bundles / "voices.bin").unlink()
    for command in (say_args(cache_dir, SENTENCE, "-o", tmp_path / "x.wav", bundles=bundles),
                    ["voices", "--bundles", str(bundles)]):
        result = run_cli(command, cache_dir)
        lines = stderr_lines(result)
        assert result.returncode == 2 and len(lines) == 1 and "voices.bin" in lines[0], lines
    assert not (tmp_path / "x.wav").exists()


def test_voices_lists_the_folder_s_voices(tiny):
    from kokoro_litert.buckets.manifest import Manifest

    result = run_cli(["voices", "--bundles", str(tiny.bundle)], tiny.root)
    names = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]  # a name first on each line
    assert result.returncode == 0 and names == list(Manifest.load(tiny.bundle).voices), result.stderr


def test_convert_prints_the_folder_and_nothing_else(tiny):
    """On a cache that holds the converted folder for its weights and ladder (the tiny one's)."""
    from support.tiny_bundle import TINY_LADDER

    result = run_cli(["convert", "--cache-dir", str(tiny.root), "--buckets", TINY_LADDER.spec], tiny.root)
    assert result.returncode == 0 and result.stdout == f"{tiny.bundle}\n"


def test_unknown_lang_is_one_line(tiny, tmp_path):
    result = run_cli(say_args(tiny.root, "Hello.", "--lang", "x", "-o", tmp_path / "x.wav", bundles=tiny.bundle),
                     tiny.root)
    lines = stderr_lines(result)
    assert result.returncode == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: ") and "'x'" in lines[0] and "American English" in lines[0], lines
    assert not (tmp_path / "x.wav").exists()
