"""The upstream `KModel` built from local files only, with strict weight loading.

Upstream's constructor downloads from the hub when no file is given and, when a strict load fails,
silently retries with `strict=False`. Here the model is built with random weights (no download)
and every weight is then loaded with `strict=True`, so a missing or unexpected tensor is an error.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

from kokoro_litert.runtime.errors import KokoroError

# The official kokoro-v1_0.pth is {component: state_dict} with DataParallel's "module." prefix.
COMPONENTS = ("bert", "bert_encoder", "predictor", "text_encoder", "decoder")
REPO_ID = "hexgrad/Kokoro-82M"


def quiet_upstream_imports() -> None:
    """Keep import-time chatter of the reference stack off the user's terminal.

    transformers imports torchao (pulled in by litert-torch), which logs failed optional CUDA
    kernels; torch logs a pytree deprecation; upstream kokoro builds nn.LSTM(dropout, 1 layer) and
    uses the deprecated weight_norm API. None of it affects results.
    """
    for name in ("torchao", "torch.utils._pytree"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*dropout option adds dropout.*")
    warnings.filterwarnings("ignore", message=".*weight_norm.*is deprecated.*")


DECODER_WIDTHS = "decoder_widths"
"""Optional config key, absent from Kokoro-82M's config: {"channels": C, "asr_res": R}. Upstream's
Decoder hard-codes its widths (C = 1024 channels per block, an R = 64-channel `asr_res` over 512 =
hidden_dim input channels, 512 = upsample_initial_channel out of its last block); with this key they
follow the config, so a small model of the same architecture can be built (the tests' tiny bundle,
tests/support/tiny_bundle.py). Without it the Decoder is upstream's, as built."""


def build_kmodel(config: dict, disable_complex: bool = False):
    """Upstream KModel with untrained weights; load real ones with `load_flat_state_dict`."""
    quiet_upstream_imports()
    import torch
    from kokoro.model import KModel

    with tempfile.TemporaryDirectory() as tmp:
        empty = os.path.join(tmp, "empty.pth")
        torch.save({}, empty)  # KModel loads nothing from an empty dict, and so never downloads
        model = KModel(repo_id=REPO_ID, config=config, model=empty, disable_complex=disable_complex)
    if DECODER_WIDTHS in config:
        _resize_decoder(model.decoder, config)
    return model.eval()


def _resize_decoder(decoder, config: dict) -> None:
    """Rebuild the Decoder blocks whose widths upstream hard-codes at the widths `config` gives
    (see DECODER_WIDTHS): the same block types and attribute names, so stages.Vocoder and the
    state-dict layout are unchanged."""
    import torch.nn as nn
    from kokoro.istftnet import AdainResBlk1d
    from torch.nn.utils import weight_norm

    widths = config[DECODER_WIDTHS]
    channels, res = int(widths["channels"]), int(widths["asr_res"])
    hidden, style = config["hidden_dim"], config["style_dim"]
    out = config["istftnet"]["upsample_initial_channel"]  # the generator's input width
    joined = channels + 2 + res  # a decode block's input: x, F0, N and asr_res
    decoder.encode = AdainResBlk1d(hidden + 2, channels, style)  # input: asr, F0, N
    decoder.decode = nn.ModuleList([*(AdainResBlk1d(joined, channels, style) for _ in range(3)),
                                    AdainResBlk1d(joined, out, style, upsample=True)])
    decoder.asr_res = nn.Sequential(weight_norm(nn.Conv1d(hidden, res, kernel_size=1)))


def split_components(flat: dict) -> dict:
    """{'bert.x': t} -> {'bert': {'module.x': t}} (the official checkpoint layout)."""
    out = {c: {} for c in COMPONENTS}
    for key, value in flat.items():
        component, _, rest = key.partition(".")
        out[component]["module." + rest] = value
    return out


def flatten_components(official: dict) -> dict:
    """The inverse of `split_components`; accepts keys with or without the "module." prefix."""
    flat = {}
    for component, state in official.items():
        if component not in COMPONENTS:
            raise KokoroError(f"Unexpected component {component!r} in the checkpoint.",
                              "Pass the official Kokoro-82M v1.0 kokoro-v1_0.pth.")
        for key, value in state.items():
            flat[f"{component}.{key.removeprefix('module.')}"] = value
    return flat


def load_flat_state_dict(model, flat: dict) -> None:
    # With disable_complex=True upstream's CustomSTFT keeps its fixed DFT bases as buffers; they are
    # constants of the code, not of the checkpoint, so they are taken from the model itself.
    flat = {**{k: v for k, v in model.state_dict().items() if k.startswith("decoder.generator.stft.")}, **flat}
    missing, unexpected = set(model.state_dict()) - set(flat), set(flat) - set(model.state_dict())
    if missing or unexpected:
        raise KokoroError(
            f"Checkpoint does not match Kokoro-82M: {len(missing)} missing tensors "
            f"(e.g. {sorted(missing)[:3]}), {len(unexpected)} unexpected (e.g. {sorted(unexpected)[:3]}).",
            "Pass the official Kokoro-82M v1.0 checkpoint (kokoro-v1_0.pth).")
    model.load_state_dict(flat, strict=True)


def read_official(pth: Path) -> dict:
    import pickle
    import zipfile

    import torch

    try:
        official = torch.load(pth, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError) as e:
        raise KokoroError(f"Cannot read checkpoint {pth}: {e}.".replace("\n", " "),
                          "The file is corrupt or truncated: download kokoro-v1_0.pth again.") from e
    if not isinstance(official, dict):
        raise KokoroError(f"{pth} is not a Kokoro checkpoint.", "Pass the official kokoro-v1_0.pth.")
    return flatten_components(official)


def load_model(weights_dir: Path, disable_complex: bool = False):
    """KModel from a fetched weights folder (kokoro-v1_0.pth + config.json), strictly loaded."""
    pth, cfg = weights_dir / "kokoro-v1_0.pth", weights_dir / "config.json"
    if not pth.is_file() or not cfg.is_file():
        raise KokoroError(f"No Kokoro weights in {weights_dir}.", "Run `kokoro-litert fetch` first.")
    config = json.loads(cfg.read_text())
    model = build_kmodel(config, disable_complex=disable_complex)
    load_flat_state_dict(model, read_official(pth))
    return model
