"""Bad and odd input through `kokoro-litert say`, on the tiny bundle (tests/support/tiny_bundle.py).

A bad input must end with exit status 2, ONE stderr line that names the problem and the remedy,
and nothing new in the output folder: no WAV, no temporary `.part` file. Odd but valid input must
speak (and warn where something was skipped). Broken bundle folders are cheap copies of a good
one: symlinks to its .tflite files, with the manifest copied, edited or left out. Whether the
words of odd input are heard is judged by ASR on the real weights (`real_weights`).
"""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest
from support.cli_run import read_wav, run_cli, say_args, stderr_lines

pytestmark = pytest.mark.slow

CONVERT_AGAIN = "kokoro-litert convert"


def _copy_bundle(src, dst, skip=()):
    """A bundle folder whose .tflite files are symlinks to `src`'s; manifest.json copied."""
    dst.mkdir()
    for f in src.iterdir():
        if f.name in skip or f.is_dir():
            continue
        if f.suffix == ".tflite":
            os.symlink(f, dst / f.name)
        else:
            shutil.copy(f, dst / f.name)
    return dst


def _empty_bundles(src, dst):
    dst.mkdir()
    return dst


def _missing_vocoder(src, dst):
    return _copy_bundle(src, dst, skip={"vocoder.int8.tflite"})


def _manifest_lists_a_bucket_the_files_lack(src, dst):
    """manifest.json lists a bucket twice the largest (and its signatures); the .tflite files have none."""
    _copy_bundle(src, dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    largest = max(manifest["buckets"], key=lambda b: (b["tokens"], b["frames"]))
    tokens, frames = largest["tokens"], largest["frames"]
    manifest["buckets"].append({"tokens": 2 * tokens, "frames": 2 * frames})
    manifest["vocoder_frames"].append(2 * frames)
    for stage, old, new in (("predictor", f"tokens_{tokens}", f"tokens_{2 * tokens}"),
                            ("prosody", f"tokens_{tokens}_frames_{frames}", f"tokens_{2 * tokens}_frames_{2 * frames}"),
                            ("vocoder", f"frames_{frames}", f"frames_{2 * frames}")):
        manifest["signatures"][stage][new] = {**manifest["signatures"][stage][old], "name": new}
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def _manifest_renames_a_signature(src, dst):
    """The largest vocoder signature, frames_F, renamed frames_F+1 in manifest.json."""
    _copy_bundle(src, dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    frames = max(manifest["vocoder_frames"])
    spec = manifest["signatures"]["vocoder"].pop(f"frames_{frames}")
    manifest["signatures"]["vocoder"][f"frames_{frames + 1}"] = {**spec, "name": f"frames_{frames + 1}"}
    manifest["vocoder_frames"] = [frames + 1 if f == frames else f for f in manifest["vocoder_frames"]]
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def _truncated_manifest(src, dst):
    _copy_bundle(src, dst)
    text = (dst / "manifest.json").read_text()
    (dst / "manifest.json").write_text(text[: len(text) // 2])
    return dst


def _manifest_not_an_object(src, dst):
    _copy_bundle(src, dst)
    (dst / "manifest.json").write_text("[1, 2, 3]\n")
    return dst


# id: (say arguments before the common ones, bundle folder maker or None, remedy the line must carry)
CASES = {
    "empty text": ([""], None, "Pass text with"),
    "whitespace only": (["  \n\t  "], None, "Pass text with"),
    "emoji only": (["😀🎉"], None, "Pass text with"),
    "unknown voice": (["Hello there.", "--voice", "af_nobody"], None, "kokoro-litert voices"),
    "speed too high": (["Hello there.", "--speed", "2.5"], None, "speed between 0.5 and 2.0"),
    "speed too low": (["Hello there.", "--speed", "0.1"], None, "speed between 0.5 and 2.0"),
    "bundles folder empty": (["Hello there."], _empty_bundles, CONVERT_AGAIN),
    "bundle without vocoder.int8.tflite": (["Hello there."], _missing_vocoder, CONVERT_AGAIN),
    "manifest lists a bucket the files lack": (["Hello there."], _manifest_lists_a_bucket_the_files_lack,
                                               CONVERT_AGAIN),
    "manifest names a signature the file lacks": (["Hello there."], _manifest_renames_a_signature, CONVERT_AGAIN),
    "manifest truncated": (["Hello there."], _truncated_manifest, CONVERT_AGAIN),
    "manifest not an object": (["Hello there."], _manifest_not_an_object, CONVERT_AGAIN),
}


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_with_a_remedy_and_no_output(case, tiny, tmp_path):
    args, make_bundles, remedy = CASES[case]
    bundles = make_bundles(tiny.bundle, tmp_path / "bundles") if make_bundles else tiny.bundle
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = run_cli(say_args(tiny.root, *args, "-o", out_dir / "speech.wav", "--timestamps",
                              out_dir / "words.json", bundles=bundles), tiny.root, timeout=600)
    lines = stderr_lines(result)
    print(f"{case}: {lines}")
    assert result.returncode == 2
    assert len(lines) == 1 and lines[0].startswith("error: ") and remedy in lines[0]
    assert _listing(out_dir) == []


@pytest.mark.parametrize("target", ["parent is a file", "parent missing", "is a folder"])
def test_unwritable_output_is_one_line_and_leaves_nothing(target, tiny, tmp_path):
    # Tests may run as root, where a read-only folder is still writable: these paths cannot be written by anyone.
    (tmp_path / "notes.txt").write_text("a regular file\n")
    (tmp_path / "speech.wav").mkdir()
    out = {"parent is a file": tmp_path / "notes.txt" / "speech.wav",
           "parent missing": tmp_path / "missing" / "speech.wav",
           "is a folder": tmp_path / "speech.wav"}[target]
    before = _listing(tmp_path)
    result = run_cli(say_args(tiny.root, "Hello there.", "-o", out, bundles=tiny.bundle), tiny.root, timeout=600)
    lines = stderr_lines(result)
    print(f"{target}: {lines}")
    assert result.returncode == 2
    assert len(lines) == 1 and lines[0].startswith("error: ") and "writable folder" in lines[0]
    assert _listing(tmp_path) == before and _listing(tmp_path / "speech.wav") == []


def _say_emoji_among_words(cache_dir, bundles, tmp_path):
    """`say "hello 😀 world"`: exit 0, one warning naming the emoji, only the WAV written, with the
    mode `open` would give it (not mkstemp's 0600). Returns the audio."""
    out = tmp_path / "speech.wav"
    result = run_cli(say_args(cache_dir, "hello 😀 world", "-o", out, bundles=bundles), cache_dir, timeout=600)
    lines = stderr_lines(result)
    print(lines)
    assert result.returncode == 0, lines
    warnings = [line for line in lines if line.startswith("warning: ")]
    assert len(warnings) == 1 and "GRINNING FACE" in warnings[0]
    assert _listing(tmp_path) == ["speech.wav"]
    from kokoro_litert.runtime.cache import _process_umask

    assert out.stat().st_mode & 0o777 == 0o666 & ~_process_umask()
    return read_wav(out)


def test_emoji_among_words_speaks_the_words_and_warns(tiny, tmp_path):
    assert _say_emoji_among_words(tiny.root, tiny.bundle, tmp_path).size > 0


@pytest.mark.real_weights
def test_emoji_among_words_is_heard_as_the_words(bundle_dir, cache_dir, tmp_path):
    from support.asr_judge import normalize, transcribe

    heard = transcribe(_say_emoji_among_words(cache_dir, bundle_dir, tmp_path), 24000)
    print(f"heard: {heard!r}")
    assert normalize(heard) == "hello world"


def test_a_2000_character_token_speaks(tiny, tmp_path):
    """One 2,000-letter token: read by espeak-ng in pieces, split at phoneme boundaries into
    bucket-sized chunks (up to the bundle's largest bucket, 30 phonemes in the tiny one), spoken to
    the end without a crash."""
    from kokoro_litert.buckets.manifest import Manifest

    max_phonemes = Manifest.load(tiny.bundle).ladder.max_phonemes
    token = "ab" * 1000
    out = tmp_path / "speech.wav"
    result = run_cli(say_args(tiny.root, f"Here it comes: {token}. Done.", "-o", out, "--stream",
                              bundles=tiny.bundle), tiny.root)
    lines = stderr_lines(result)
    print("\n".join(lines[:3] + ["..."] + lines[-3:]))
    assert result.returncode == 0, lines[-5:]
    assert [line for line in lines if line.startswith("warning: ")] == [
        "warning: a 2000-character word was read by espeak-ng in 64-character pieces"]
    chunks = [line for line in lines if re.match(r"chunk \d+: ", line)]
    seconds = read_wav(out).size / 24000
    # ~2,500 phonemes at ~13 phonemes per second (Kokoro's pace, and the tiny model's: ~3 frames
    # per token): over a minute of speech, nothing dropped.
    assert len(chunks) > 2500 // max_phonemes and seconds > 60
    assert _listing(tmp_path) == ["speech.wav"]
