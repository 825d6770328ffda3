"""Bad and odd input through `kokoro-litert say`, on the real weights and the default bundle folder.

A bad input must end with exit status 2, ONE stderr line that names the problem and the remedy,
and nothing new in the output folder: no WAV, no temporary `.part` file. Odd but valid input must
speak (and warn where something was skipped). Broken bundle folders are cheap copies of the real
one: symlinks to its .tflite files, with the manifest copied, edited or left out.
"""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest
from cli_run import read_wav, run_cli, say_args, stderr_lines

pytestmark = [pytest.mark.real_weights, pytest.mark.slow]

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
    """manifest.json lists a 256 x 1024 bucket (and its signatures); the .tflite files have none."""
    _copy_bundle(src, dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    manifest["buckets"].append({"tokens": 256, "frames": 1024})
    manifest["vocoder_frames"].append(1024)
    for stage, old, new in (("predictor", "tokens_128", "tokens_256"),
                            ("prosody", "tokens_128_frames_512", "tokens_256_frames_1024"),
                            ("vocoder", "frames_512", "frames_1024")):
        manifest["signatures"][stage][new] = {**manifest["signatures"][stage][old], "name": new}
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def _manifest_renames_a_signature(src, dst):
    _copy_bundle(src, dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    spec = manifest["signatures"]["vocoder"].pop("frames_128")
    manifest["signatures"]["vocoder"]["frames_129"] = {**spec, "name": "frames_129"}
    manifest["vocoder_frames"] = [129 if f == 128 else f for f in manifest["vocoder_frames"]]
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
    "empty text": ([""], None, "Pass text with English words"),
    "whitespace only": (["  \n\t  "], None, "Pass text with English words"),
    "emoji only": (["😀🎉"], None, "Pass text with English words"),
    "unknown voice": (["Hello there.", "--voice", "af_nobody"], None, "kokoro-litert voices"),
    "speed too high": (["Hello there.", "--speed", "2.5"], None, "--speed between 0.5 and 2.0"),
    "speed too low": (["Hello there.", "--speed", "0.1"], None, "--speed between 0.5 and 2.0"),
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
def test_bad_input_is_one_line_with_a_remedy_and_no_output(case, bundle_dir, cache_dir, tmp_path):
    args, make_bundles, remedy = CASES[case]
    bundles = make_bundles(bundle_dir, tmp_path / "bundles") if make_bundles else bundle_dir
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = run_cli(say_args(cache_dir, *args, "-o", out_dir / "speech.wav", "--timestamps",
                              out_dir / "words.json", bundles=bundles), cache_dir, timeout=600)
    lines = stderr_lines(result)
    print(f"{case}: {lines}")
    assert result.returncode == 2
    assert len(lines) == 1 and lines[0].startswith("error: ") and remedy in lines[0]
    assert _listing(out_dir) == []


@pytest.mark.parametrize("target", ["parent is a file", "parent missing", "is a folder"])
def test_unwritable_output_is_one_line_and_leaves_nothing(target, bundle_dir, cache_dir, tmp_path):
    # Tests may run as root, where a read-only folder is still writable: these paths cannot be written by anyone.
    (tmp_path / "notes.txt").write_text("a regular file\n")
    (tmp_path / "speech.wav").mkdir()
    out = {"parent is a file": tmp_path / "notes.txt" / "speech.wav",
           "parent missing": tmp_path / "missing" / "speech.wav",
           "is a folder": tmp_path / "speech.wav"}[target]
    before = _listing(tmp_path)
    result = run_cli(say_args(cache_dir, "Hello there.", "-o", out, bundles=bundle_dir), cache_dir, timeout=600)
    lines = stderr_lines(result)
    print(f"{target}: {lines}")
    assert result.returncode == 2
    assert len(lines) == 1 and lines[0].startswith("error: ") and "writable folder" in lines[0]
    assert _listing(tmp_path) == before and _listing(tmp_path / "speech.wav") == []


def test_emoji_among_words_speaks_the_words_and_warns(bundle_dir, cache_dir, tmp_path):
    from asr_judge import normalize, transcribe

    out = tmp_path / "speech.wav"
    result = run_cli(say_args(cache_dir, "hello 😀 world", "-o", out, bundles=bundle_dir), cache_dir, timeout=600)
    lines = stderr_lines(result)
    print(lines)
    assert result.returncode == 0, lines
    warnings = [line for line in lines if line.startswith("warning: ")]
    assert len(warnings) == 1 and "GRINNING FACE" in warnings[0]
    audio = read_wav(out)
    heard = transcribe(audio, 24000)
    print(f"heard: {heard!r}")
    assert normalize(heard) == "hello world"
    assert _listing(tmp_path) == ["speech.wav"]
    from kokoro_litert.runtime.cache import _process_umask

    assert out.stat().st_mode & 0o777 == 0o666 & ~_process_umask()  # as `open` would make it, not mkstemp's 0600


def test_a_2000_character_token_speaks(bundle_dir, cache_dir, tmp_path):
    """One 2,000-letter token: read by espeak-ng in pieces, split at phoneme boundaries into
    bucket-sized chunks (up to 126 phonemes each), spoken to the end without a crash. The
    costliest case here: about 1 minute on an idle 2-core box, 2 minutes under load."""
    token = "ab" * 1000
    out = tmp_path / "speech.wav"
    result = run_cli(say_args(cache_dir, f"Here it comes: {token}. Done.", "-o", out, "--stream",
                              bundles=bundle_dir), cache_dir)
    lines = stderr_lines(result)
    print("\n".join(lines[:3] + ["..."] + lines[-3:]))
    assert result.returncode == 0, lines[-5:]
    assert [line for line in lines if line.startswith("warning: ")] == [
        "warning: a 2000-character word was read by espeak-ng in 64-character pieces"]
    chunks = [line for line in lines if re.match(r"chunk \d+: ", line)]
    seconds = read_wav(out).size / 24000
    # ~2,500 phonemes at Kokoro's ~13 phonemes per second: over a minute of speech, nothing dropped.
    assert len(chunks) > 2500 // 126 and seconds > 60
    assert _listing(tmp_path) == ["speech.wav"]
