"""`export_folder` (runtime/deploy.py) on the real bundle folder: a deployable subset that loads as the full one.

Two exports of the converted Kokoro-82M folder: one voice at the default precision, and three
voices of two languages (British English and Spanish) at fp32. Each must list exactly what it holds,
with checksums that verify, open through every front door, and speak the same samples as the full
folder (same graphs, same voice rows, same host code: bit-identical, no tolerance). Then what must
be refused, in one line with a remedy and with nothing half-written: a removed file, a flipped
byte, an unknown voice, a precision the source lacks, an --out that is not empty, a disk that
fills up mid-copy.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from support.cli_run import read_wav, run_cli, say_args, stderr_lines

pytestmark = pytest.mark.real_weights

ONE_VOICE = ["af_heart"]
TWO_LANGUAGES = ["bf_emma", "ef_dora", "em_alex"]  # British English and Spanish: lexicon-b only
TEXT = {"a": "The exported folder speaks like the full one.", "b": "The exported folder speaks like the full one.",
        "e": "La carpeta exportada habla como la completa."}
SEED = 3


@pytest.fixture(scope="module")
def exports(bundle_dir, tmp_path_factory):
    """{"one": (folder, manifest), "two": (folder, manifest)}: the default precision with one voice
    (into an existing empty folder), fp32 with three voices of two languages (into a new one)."""
    from kokoro_litert.runtime.deploy import export_folder, folder_bytes

    root = tmp_path_factory.mktemp("exports")
    (root / "one").mkdir()
    lines = []
    one = export_folder(bundle_dir, root / "one", voices=ONE_VOICE, log=lines.append)
    two = export_folder(bundle_dir, root / "two", precision="fp32", voices=TWO_LANGUAGES, log=lines.append)
    print("\n".join(lines))
    print(f"one voice: {folder_bytes(root / 'one') / 1e6:.1f} MB; three voices at fp32: "
          f"{folder_bytes(root / 'two') / 1e6:.1f} MB")
    return {"one": (root / "one", one), "two": (root / "two", two)}


@pytest.fixture(scope="module")
def source_tts(bundle_dir):
    """The full folder, per precision."""
    from kokoro_litert.runtime.api import Kokoro

    made = {}

    def get(precision):
        if precision not in made:
            made[precision] = Kokoro.from_bundles(bundle_dir, threads=2, precision=precision)
        return made[precision]

    return get


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A cache root of the test's own: Bundle.open's record of checked files starts empty."""
    monkeypatch.setenv("KOKORO_LITERT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_manifest_lists_exactly_what_is_there_and_the_checksums_verify(exports, bundle_dir):
    from kokoro_litert.buckets.manifest import FORMAT_VERSION, Manifest
    from kokoro_litert.runtime.cache import sha256_file

    source = Manifest.load(bundle_dir)
    for key, voices, precision, lexicons in (("one", ONE_VOICE, source.default_precision, {"a": "lexicon-a.tsv"}),
                                             ("two", TWO_LANGUAGES, "fp32", {"b": "lexicon-b.tsv"})):
        folder, written = exports[key]
        m = Manifest.load(folder)
        assert m == written and m.format_version == FORMAT_VERSION == source.format_version
        assert sorted(p.name for p in folder.iterdir()) == sorted(m.file_names | {"manifest.json"})
        assert set(m.sha256) == m.file_names
        assert m.precisions == {precision: source.precisions[precision]} and m.default_precision == precision
        assert m.voices == tuple(voices) and m.lexicons == lexicons
        for name, sha in m.sha256.items():
            assert sha256_file(folder / name) == sha, name
            if name != "voices.bin":
                assert sha == source.sha256[name], name  # copied byte for byte
        # what a host needs besides the files is the source's
        for field in ("buckets", "vocoder_frames", "signatures", "dsp", "vocab", "sine_source_weight",
                      "sine_source_bias", "checkpoint_sha256", "converter_version"):
            assert getattr(m, field) == getattr(source, field), field
        table = np.fromfile(folder / "voices.bin", "<f4").reshape(len(voices), 510, 256)
        full = np.fromfile(bundle_dir / "voices.bin", "<f4").reshape(len(source.voices), 510, 256)
        for i, name in enumerate(voices):
            np.testing.assert_array_equal(table[i], full[source.voices.index(name)])


@pytest.mark.parametrize("key,voice", [("one", "af_heart"), ("two", "bf_emma"), ("two", "ef_dora")])
def test_the_export_speaks_the_same_samples_as_the_full_folder(exports, source_tts, key, voice):
    from kokoro_litert.runtime.api import Kokoro

    folder, manifest = exports[key]
    text = TEXT[voice[0]]
    tts = Kokoro.from_bundles(folder, threads=2)
    assert tts.backend.precision == manifest.default_precision
    assert tts.voice_names() == sorted(manifest.voices)
    audio, rate = tts.create(text, voice, seed=SEED)
    expected, _ = source_tts(manifest.default_precision).create(text, voice, seed=SEED)
    assert rate == 24000 and audio.size > rate  # over a second of speech
    np.testing.assert_array_equal(audio, expected)


def test_say_and_voices_take_the_export_as_bundles(exports, bundle_dir, cache_dir, tmp_path):
    folder, _ = exports["two"]
    listed = run_cli(["voices", "--bundles", str(folder)], cache_dir)
    assert listed.returncode == 0, listed.stderr
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == TWO_LANGUAGES
    wavs = {}
    for name, bundles in (("export", folder), ("full", bundle_dir)):
        wavs[name] = tmp_path / f"{name}.wav"
        result = run_cli(say_args(cache_dir, TEXT["b"], "--voice", "bf_emma", "--precision", "fp32", "-o", wavs[name],
                                  bundles=bundles), cache_dir, timeout=600)
        assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(read_wav(wavs["export"]), read_wav(wavs["full"]))


def test_a_precision_the_export_lacks_names_the_one_it_has(exports):
    from kokoro_litert.runtime.api import Kokoro
    from kokoro_litert.runtime.errors import BundleError

    folder, manifest = exports["one"]
    other = "fp32" if manifest.default_precision != "fp32" else "int8"
    with pytest.raises(BundleError) as e:
        Kokoro.from_bundles(folder, threads=2, precision=other)
    assert "\n" not in str(e.value)
    assert f"(they have {manifest.default_precision})" in e.value.problem
    assert e.value.remedy == f"Use --precision {manifest.default_precision}."


def _copy(folder, dst):
    shutil.copytree(folder, dst, ignore=shutil.ignore_patterns(".xnnpack"))
    return dst


def _flip_byte(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))


def _refused(folder, *words):
    from kokoro_litert.runtime.bundle import Bundle
    from kokoro_litert.runtime.errors import KokoroError

    with pytest.raises(KokoroError) as e:
        Bundle.open(folder)
    message = str(e.value)
    assert "\n" not in message and "Copy the whole bundle folder again" in e.value.remedy
    for word in words:
        assert word in e.value.problem, message
    return message


@pytest.mark.parametrize("name", ["lexicon-a.tsv", "voices.bin", "vocoder"])
def test_a_removed_file_is_refused_in_one_line(exports, private_cache, tmp_path, name):
    folder = _copy(exports["one"][0], tmp_path / "device")
    if name == "vocoder":
        name = exports["one"][1].precisions[exports["one"][1].default_precision]["vocoder"]
    (folder / name).unlink()
    _refused(folder, name)


@pytest.mark.parametrize("name", ["voices.bin", "lexicon-a.tsv", "vocoder"])
def test_a_flipped_byte_is_refused_in_one_line(exports, private_cache, tmp_path, name):
    """A byte in the middle of a file: for a graph that is inside the weights, which LiteRT reads
    without complaint; only the checksum finds it."""
    folder = _copy(exports["one"][0], tmp_path / "device")
    if name == "vocoder":
        name = exports["one"][1].precisions[exports["one"][1].default_precision]["vocoder"]
    _flip_byte(folder / name, (folder / name).stat().st_size // 2)
    _refused(folder, name, "corrupt")


def test_a_byte_flipped_after_a_good_open_is_refused(exports, private_cache, tmp_path):
    """The record of checked files skips hashing only while a file is unchanged since it was checked."""
    from kokoro_litert.runtime.bundle import CHECKED_FILES, Bundle

    folder = _copy(exports["one"][0], tmp_path / "device")
    settled = time.time() - 60
    for path in folder.iterdir():
        os.utime(path, (settled, settled))
    Bundle.open(folder)
    checked = json.loads((private_cache / CHECKED_FILES).read_text())
    assert len(checked) == len(exports["one"][1].sha256)  # every file remembered as checked
    _flip_byte(folder / "voices.bin", 1000)
    _refused(folder, "voices.bin", "corrupt")


def test_a_flipped_byte_fails_say_in_one_line(exports, cache_dir, tmp_path):
    folder = _copy(exports["one"][0], tmp_path / "device")
    _flip_byte(folder / "voices.bin", 12345)
    out = tmp_path / "speech.wav"
    result = run_cli(say_args(cache_dir, "Hello.", "-o", out, bundles=folder), cache_dir, timeout=600)
    lines = stderr_lines(result)
    assert result.returncode == 2 and len(lines) == 1, lines
    assert "voices.bin is corrupt" in lines[0] and "kokoro-litert convert" in lines[0]
    assert not out.exists()


def test_a_manifest_without_a_checksum_is_refused(exports, private_cache, tmp_path):
    folder = _copy(exports["one"][0], tmp_path / "device")
    raw = json.loads((folder / "manifest.json").read_text())
    del raw["sha256"]["lexicon-a.tsv"]
    (folder / "manifest.json").write_text(json.dumps(raw))
    _refused(folder, "no checksum for lexicon-a.tsv")


def _nothing_written(parent, out):
    assert not out.exists()
    assert not [p.name for p in parent.iterdir() if p.name.startswith(f".{out.name}.")], "a temporary folder is left"


def test_an_unknown_voice_is_refused_with_the_list_command(bundle_dir, tmp_path):
    from kokoro_litert.runtime.deploy import export_folder
    from kokoro_litert.runtime.errors import UnknownVoice

    with pytest.raises(UnknownVoice) as e:
        export_folder(bundle_dir, tmp_path / "out", voices=["af_heart", "af_hart"])
    assert "'af_hart'" in e.value.problem and "Did you mean af_heart" in e.value.remedy
    assert f"kokoro-litert voices --bundles {bundle_dir}" in e.value.remedy and e.value.param == "voices"
    _nothing_written(tmp_path, tmp_path / "out")


def test_a_precision_the_source_lacks_names_those_it_has(bundle_dir, tmp_path):
    from kokoro_litert.buckets.manifest import Manifest
    from kokoro_litert.runtime.deploy import export_folder
    from kokoro_litert.runtime.errors import BundleError

    with pytest.raises(BundleError) as e:
        export_folder(bundle_dir, tmp_path / "out", precision="int3")
    assert "no 'int3' precision" in e.value.problem and "\n" not in str(e.value)
    assert all(p in e.value.remedy for p in Manifest.load(bundle_dir).precisions)
    _nothing_written(tmp_path, tmp_path / "out")


def test_a_non_empty_out_is_refused_and_left_alone(bundle_dir, tmp_path):
    from kokoro_litert.runtime.deploy import export_folder
    from kokoro_litert.runtime.errors import KokoroError

    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    with pytest.raises(KokoroError, match="already exists and is not an empty folder") as e:
        export_folder(bundle_dir, out, voices=ONE_VOICE)
    assert "--out a new or empty folder" in e.value.remedy
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "mine\n"
    (tmp_path / "a-file").write_text("")
    with pytest.raises(KokoroError, match="already exists"):
        export_folder(bundle_dir, tmp_path / "a-file", voices=ONE_VOICE)


def test_a_disk_full_mid_copy_leaves_nothing(bundle_dir, tmp_path, monkeypatch):
    """The second file runs out of space half-way: the error says so in one line, and neither the
    folder nor its temporary sibling is left behind."""
    import kokoro_litert.runtime.deploy as deploy
    from kokoro_litert.runtime.errors import KokoroError

    copies = []

    def copy_until_full(src, dst):
        copies.append(dst)
        if len(copies) < 2:
            return shutil.copyfile(src, dst)
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            fout.write(fin.read(os.path.getsize(src) // 2))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(deploy.shutil, "copyfile", copy_until_full)
    with pytest.raises(KokoroError, match="No space left on device") as e:
        deploy.export_folder(bundle_dir, tmp_path / "out", voices=ONE_VOICE)
    assert len(copies) == 2 and "\n" not in str(e.value)
    _nothing_written(tmp_path, tmp_path / "out")


def test_an_interrupted_export_leaves_nothing(bundle_dir, tmp_path):
    from kokoro_litert.runtime.deploy import export_folder

    def interrupt_after_the_first_file(line):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_folder(bundle_dir, tmp_path / "out", voices=ONE_VOICE, log=interrupt_after_the_first_file)
    _nothing_written(tmp_path, tmp_path / "out")


def test_export_imports_neither_torch_nor_the_converter():
    code = ("import sys, kokoro_litert.runtime.deploy; "
            "sys.exit(1 if 'torch' in sys.modules or 'kokoro_litert.convert' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
