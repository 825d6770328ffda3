"""`kokoro-litert fetch`: strict import of the ONNX export, the official-checkpoint path, bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from kokoro_litert.runtime.cli import main

pytestmark = pytest.mark.real_weights


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_import_assigns_every_tensor_from_the_export(cache_dir):
    meta = json.loads((cache_dir / "weights" / "weights.json").read_text())
    if meta["kind"] != "onnx-import":
        pytest.skip("cache holds an official checkpoint")
    assert meta["tensors"] == 688
    assert meta["tensors_from_export"] + meta["tensors_by_rule"] == meta["tensors"]
    # Only the dead ALBERT pooler (2) and the identity InstanceNorm affines (70 + 70) come by rule;
    # all 81.17M parameters Kokoro's forward pass reads come from the export.
    assert meta["tensors_by_rule"] == 142
    assert meta["parameters_from_export"] == 81_172_818


def test_import_is_reproducible_and_strict(cache_dir):
    import torch

    from kokoro_litert.convert.checkpoint import build_kmodel, flatten_components
    from kokoro_litert.convert.onnx_import import ImportMismatch, state_dict_from_onnx

    onnx_path = cache_dir / "downloads" / "kokoro-v1.0.int8.onnx"
    if not onnx_path.is_file():
        pytest.skip("cache weights did not come from the registry export")
    config = json.loads((cache_dir / "weights" / "config.json").read_text())
    state, report = state_dict_from_onnx(onnx_path, build_kmodel(config))
    saved = flatten_components(torch.load(cache_dir / "weights" / "kokoro-v1_0.pth", weights_only=True))
    assert saved.keys() == state.keys()
    assert all(torch.equal(saved[k], state[k]) for k in state)

    # A model with one parameter the export lacks must be refused, not silently default-filled.
    model = build_kmodel(config)
    model.decoder.register_parameter("not_in_export", torch.nn.Parameter(torch.zeros(3)))
    with pytest.raises(ImportMismatch, match="not_in_export"):
        state_dict_from_onnx(onnx_path, model)


def _official_folder(cache_dir, tmp_path, voices):
    """The cache's weights laid out as the official Kokoro-82M folder: checkpoint, config, voices as .pt."""
    import torch

    official = tmp_path / "Kokoro-82M"
    (official / "voices").mkdir(parents=True)
    shutil.copy(cache_dir / "weights" / "kokoro-v1_0.pth", official / "kokoro-v1_0.pth")
    shutil.copy(cache_dir / "weights" / "config.json", official / "config.json")
    for name in voices:
        pack = np.fromfile(cache_dir / "voices" / f"{name}.bin", dtype="<f4").reshape(510, 1, 256)
        torch.save(torch.from_numpy(pack.copy()), official / "voices" / f"{name}.pt")
    return official


def test_official_checkpoint_path_gives_bit_identical_audio(cache_dir, reference, heart, tmp_path):
    """Imported weights saved in the official layout load back through the official path."""
    import torch

    from kokoro_litert.convert.fetch import FetchOptions, fetch
    from kokoro_litert.convert.reference import TorchReference
    from kokoro_litert.runtime.voices import load_voice

    official = _official_folder(cache_dir, tmp_path, ("af_heart", "bm_george"))
    layout = torch.load(official / "kokoro-v1_0.pth", weights_only=True)
    assert sorted(layout) == ["bert", "bert_encoder", "decoder", "predictor", "text_encoder"]
    assert all(k.startswith("module.") for part in layout.values() for k in part)

    cache2 = tmp_path / "cache2"
    result = fetch(FetchOptions(cache_dir=cache2, checkpoint=official, hub=False), log=lambda _: None)
    assert result.weights_source.startswith("official checkpoint")
    heart2 = load_voice("af_heart", cache2 / "voices")  # read from the .pt without torch
    np.testing.assert_array_equal(heart2, heart)

    phonemes = "ðɪs ɪz ðɪ əfˈɪʃəl pˈæθ."
    a = reference.synthesize(phonemes, heart, seed=3)
    b = TorchReference(cache2 / "weights").synthesize(phonemes, heart2, seed=3)
    np.testing.assert_array_equal(a.audio, b.audio)
    np.testing.assert_array_equal(a.durations, b.durations)


def test_weights_are_installed_in_a_process_of_their_own(cache_dir, tmp_path):
    """Checking and installing weights builds the KModel with torch: in a child process, so that a
    caller who converts next (the first `say`) does not hold that memory through the conversion."""
    import subprocess
    import sys

    official = _official_folder(cache_dir, tmp_path, ("af_heart",))
    code = ("import sys\n"
            "from kokoro_litert.convert.fetch import FetchOptions, fetch\n"
            "result = fetch(FetchOptions(cache_dir=sys.argv[1], checkpoint=sys.argv[2], hub=False))\n"
            "print(result.weights_source, '|', 'torch' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "cache"), str(official)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    source, torch_imported = proc.stdout.strip().splitlines()[-1].split(" | ")
    assert source.startswith("official checkpoint")
    assert torch_imported == "False"
    assert "strict load OK" in proc.stderr  # the child's progress reaches the caller's stderr
    assert (tmp_path / "cache" / "weights" / "kokoro-v1_0.pth").is_file()


@pytest.mark.parametrize("argv, message", [
    (["say", "--phonemes", "", "-o", "{tmp}/x.wav"], "phoneme string is empty"),
    (["say", "--phonemes", "   ", "-o", "{tmp}/x.wav"], "phoneme string is empty"),
    (["say", "--phonemes", "həlˈO", "--voice", "af_nobody", "-o", "{tmp}/x.wav"], "Unknown voice 'af_nobody'"),
    (["say", "--phonemes", "hello§", "-o", "{tmp}/x.wav"], "not in Kokoro's phoneme vocabulary"),
    (["say", "--phonemes", "həlˈO", "--speed", "3", "-o", "{tmp}/x.wav"], "Speed 3.0 is out of range"),
    (["fetch", "--onnx", "{tmp}/missing.onnx", "--cache-dir", "{tmp}/c"], "does not exist"),
    (["fetch", "--checkpoint", "{tmp}/nowhere", "--cache-dir", "{tmp}/c"], "not found"),
])
def test_bad_input_is_one_line_with_remedy(cache_dir, tmp_path, capsys, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not list(tmp_path.rglob("*.wav")) and not list(tmp_path.rglob("*.pth"))


def test_corrupt_files_are_refused_and_leave_nothing(cache_dir, tmp_path, capsys):
    bad_onnx = tmp_path / "kokoro-v1.0.int8.onnx"
    bad_onnx.write_bytes(b"\x08\x07not really onnx" * 1000)
    cache = tmp_path / "cache"
    assert main(["fetch", "--onnx", str(bad_onnx), "--config", str(cache_dir / "weights" / "config.json"),
                 "--cache-dir", str(cache)]) == 2
    assert "Cannot parse" in capsys.readouterr().err
    assert not (cache / "weights").exists() or _files(cache / "weights") == []

    official = tmp_path / "official"
    official.mkdir()
    truncated = (cache_dir / "weights" / "kokoro-v1_0.pth").read_bytes()[: 1 << 20]
    (official / "kokoro-v1_0.pth").write_bytes(truncated)
    shutil.copy(cache_dir / "weights" / "config.json", official / "config.json")
    assert main(["fetch", "--checkpoint", str(official), "--no-hub", "--cache-dir", str(cache)]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err
    assert not (cache / "weights").exists() or _files(cache / "weights") == []

    voices = tmp_path / "voices"
    voices.mkdir()
    (voices / "af_short.bin").write_bytes(b"\0" * 1000)
    assert main(["fetch", "--checkpoint", str(cache_dir / "weights"), "--voices", str(voices), "--no-hub",
                 "--cache-dir", str(cache)]) == 2
    assert "has 1000 bytes" in capsys.readouterr().err
    assert not list((cache / "voices").glob("*")) if (cache / "voices").exists() else True


def test_wrong_sha256_is_refused_and_leaves_nothing(tmp_path, monkeypatch):
    from kokoro_litert.convert import fetch as fetch_module
    from kokoro_litert.runtime.errors import KokoroError

    monkeypatch.setattr(fetch_module, "CONFIG_SHA256", "0" * 64)
    with pytest.raises(KokoroError, match="sha256"):
        fetch_module._registry_config(tmp_path, log=lambda _: None)
    assert _files(tmp_path) == []


def test_voices_lists_all_54(cache_dir, capsys):
    assert main(["voices", "--cache-dir", str(cache_dir)]) == 0
    names = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert len(names) == 54 and {"af_heart", "af_bella", "am_michael", "bf_emma", "bm_george"} <= set(names)
