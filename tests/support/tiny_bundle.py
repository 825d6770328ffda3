"""A tiny Kokoro: random weights, the real architecture at small widths, converted by the real converter.

The fast test layer runs the runtime, the CLI, the server and the bad-input paths on this instead of
the converted Kokoro-82M (as piper tests its runtime on a stub voice). What the runtime sees is the
real contract: the same bundle folder layout (manifest.json, predictor / prosody / vocoder .tflite in
fp32, fp16 and int8, the same signature names and I/O names, voices.bin, the lexicons), the real
phoneme vocabulary, the 256-value voice rows, 24 kHz audio from 20-point iSTFT frames at 600 samples
per alignment frame. What it does not see is small: hidden sizes, layer counts, one ALBERT layer,
one generator resblock kernel, a narrow decoder (`convert.checkpoint.DECODER_WIDTHS`), and a ladder
of two buckets. The audio is noise-like (random weights): tests on it check behaviour, never speech.

It is built the way users build theirs: a weights folder in fetch's layout (kokoro-v1_0.pth in the
official component layout, config.json, weights.json), a voices folder, then
`convert.export.cached_bundles` (stages, litert-torch, quantization, manifest, lexicons). So a
cache root made here also serves `kokoro-litert convert`, `say --backend torch` and `voices`.

    python tests/support/tiny_bundle.py [DIR]     # build (or reuse) one and print its bundle folder
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from kokoro_litert.buckets import N_FREQ, STYLE_DIM, VOICE_ROWS
from kokoro_litert.buckets.ladder import Bucket, Ladder

SEED = 0

TINY_LADDER = Ladder(buckets=(Bucket(16, 64), Bucket(32, 128)), vocoder_frames=(64, 128))
"""Two (tokens, frames) buckets, so an utterance can move up a bucket, and two vocoder sizes, so the
vocoder can run at the fewest frames and grow its workspace. Up to 30 phonemes per chunk. Each
vocoder size costs ~40 s to convert whatever the widths (litert-torch's export and lowering scale
with the graph's ~2,200 nodes, not its weights), the most of a cold build."""

VOICES = ("af_heart", "am_michael", "bf_emma", "bm_george", "ef_dora", "ff_siwis", "hf_alpha", "if_sara",
          "jf_alpha", "pf_dora", "zf_xiaobei")
"""Random voices under real Kokoro names: each language prefix's default voice (a b e f h i j p z;
what `say --lang X`, the server and Wyoming pick without a voice), and a male voice for a and b."""

TINY_OVERRIDES = {
    "hidden_dim": 32,  # 512: t_en, asr, the LSTMs and the prosody blocks
    "n_layer": 1,  # 3: duration-encoder LSTMs, text-encoder convs
    "max_dur": 6,  # 50: a token's duration is a sum of max_dur sigmoids, so at most 6 frames here
    "plbert": {"hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 48,
               "max_position_embeddings": 512, "num_hidden_layers": 1, "dropout": 0.1},
    "decoder_widths": {"channels": 48, "asr_res": 8},  # 1024 and 64
}
TINY_ISTFTNET = {"resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1, 3, 5]],  # 3 kernels
                 # 512: the generator then runs at 32 and 16 channels (256, 128), and conv_post's 16 input
                 # channels still split into convert.stages.CONV_POST_INPUT_GROUPS (16) slices
                 "upsample_initial_channel": 64}  # rates, kernels, n_fft and hop stay Kokoro's
# Random weights, nudged where the runtime would otherwise see what no speech model gives:
F0_HZ = 150.0  # F0 projection bias: F0 sits near 0 Hz (unvoiced) otherwise; the sine source should run voiced
# Duration logits scaled and shifted: 2-5 frames per token, varying with the token and the voice, ~3 on
# average (Kokoro: median 2.4-2.8), which the ladder's 4 frames per token holds; unscaled, every token gets 3.
DURATION_SCALE, DURATION_SHIFT = 10.0, -0.6
MAGNITUDE_SHIFT = -1.5  # conv_post bias on the magnitude channels: audio peaks ~0.5 instead of ~2.4 (clipped)
# Snake's alphas start at exactly 1 (trained ones vary): left so, each equals an all-ones kernel the
# converter adds (stages.to_chunks), and convert/quantize.py, which traces weights by content, mixes them up.
SNAKE_ALPHAS = (0.5, 1.5)


@dataclass(frozen=True)
class TinyCache:
    """A cache root in `kokoro-litert`'s layout holding the tiny model."""

    root: Path
    """Pass it as --cache-dir / $KOKORO_LITERT_CACHE."""
    bundle: Path
    """The converted bundle folder (root/bundles/<key>); pass it as --bundles."""

    @property
    def weights(self) -> Path:
        return self.root / "weights"

    @property
    def voices(self) -> Path:
        return self.root / "voices"


def official_config() -> dict:
    """Kokoro-82M v1.0's config.json as the `kokoro-onnx` wheel (dev extra) ships it, checked by hash."""
    from kokoro_litert.convert.fetch import CONFIG_SHA256

    data = (resources.files("kokoro_onnx") / "config.json").read_bytes()
    if hashlib.sha256(data).hexdigest() != CONFIG_SHA256:
        raise RuntimeError("kokoro_onnx/config.json is not Kokoro-82M v1.0's config: install the dev extra's kokoro-onnx")
    return json.loads(data)


def tiny_config() -> dict:
    """The official config (vocabulary, style size, iSTFT geometry) with the tiny widths."""
    config = {**official_config(), **TINY_OVERRIDES}
    config["istftnet"] = {**config["istftnet"], **TINY_ISTFTNET}
    return config


def cache_key() -> str:
    """Names the folder a build goes into: CONVERTER_VERSION and a digest of what the graphs and the
    folder's format depend on, so an edit to any of it builds afresh: the tiny model's definition
    (and the code writing its weights and voices), the sources of the converter and of the bundle
    format (buckets/), and the tool versions. Not the front-end's: the lexicon files it writes into
    the folder are for other hosts (the Android demo), which no fast test reads."""
    import inspect
    from importlib.metadata import PackageNotFoundError, version

    import kokoro_litert.buckets as buckets
    import kokoro_litert.convert as convert
    from kokoro_litert.convert.export import CONVERTER_VERSION

    digest = hashlib.sha256(json.dumps([tiny_config(), TINY_LADDER.spec, VOICES, SEED, F0_HZ, DURATION_SCALE,
                                        DURATION_SHIFT, MAGNITUDE_SHIFT, SNAKE_ALPHAS]).encode())
    for package in (convert, buckets):
        for source in sorted(Path(package.__file__).parent.glob("*.py")):
            digest.update(source.name.encode() + source.read_bytes())
    for function in (tiny_config, write_weights, write_voices):
        digest.update(inspect.getsource(function).encode())
    for pkg in ("torch", "litert-torch", "ai-edge-litert", "ai-edge-quantizer", "kokoro", "misaki"):
        try:
            digest.update(f"{pkg}={version(pkg)}".encode())
        except PackageNotFoundError:
            pass
    return f"v{CONVERTER_VERSION}-{digest.hexdigest()[:12]}"


def write_weights(weights_dir: Path) -> str:
    """kokoro-v1_0.pth (official layout), config.json and weights.json of the seeded tiny model;
    returns the checkpoint's sha256."""
    import torch

    from kokoro_litert.convert.checkpoint import build_kmodel, split_components
    from kokoro_litert.runtime.cache import atomic_write, sha256_file

    config = tiny_config()
    torch.manual_seed(SEED)
    model = build_kmodel(config)
    with torch.no_grad():
        model.predictor.F0_proj.bias.fill_(F0_HZ)
        durations = model.predictor.duration_proj.linear_layer
        durations.weight.mul_(DURATION_SCALE)
        durations.bias.add_(DURATION_SHIFT)
        model.decoder.generator.conv_post.bias[:N_FREQ] += MAGNITUDE_SHIFT
        for name, parameter in model.named_parameters():
            if ".alpha1." in name or ".alpha2." in name:
                parameter.uniform_(*SNAKE_ALPHAS)
    weights_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(weights_dir / "kokoro-v1_0.pth") as f:
        torch.save(split_components(model.state_dict()), f)
    with atomic_write(weights_dir / "config.json", "w") as f:
        json.dump(config, f, ensure_ascii=False, indent=1)
    sha = sha256_file(weights_dir / "kokoro-v1_0.pth")
    with atomic_write(weights_dir / "weights.json", "w") as f:
        json.dump({"source": "tiny random-weight model (tests/support/tiny_bundle.py)", "kind": "tiny",
                   "seed": SEED, "checkpoint_sha256": sha}, f, indent=2)
    return sha


def write_voices(voices_dir: Path) -> None:
    """VOICES as NAME.bin (510 x 1 x 256 float32): a random row per voice drifting slowly with the
    length, at about the spread of real voices (std ~0.15)."""
    rng = np.random.default_rng(SEED)
    voices_dir.mkdir(parents=True, exist_ok=True)
    for name in VOICES:
        base = rng.normal(0.0, 0.15, STYLE_DIM)
        drift = np.cumsum(rng.normal(0.0, 0.004, (VOICE_ROWS, STYLE_DIM)), axis=0)
        pack = (base + drift).astype("<f4").reshape(VOICE_ROWS, 1, STYLE_DIM)
        (voices_dir / f"{name}.bin").write_bytes(pack.tobytes())


def _bundle_folder(root: Path) -> Path:
    """Where `cached_bundles` keeps the converted folder for root's weights (which must exist)."""
    from kokoro_litert.convert.export import cache_key as bundle_key
    from kokoro_litert.convert.export import checkpoint_sha256

    return root / "bundles" / bundle_key(checkpoint_sha256(root / "weights"), TINY_LADDER)


def build(root: Path, log=None) -> tuple[TinyCache, bool]:
    """The tiny model's cache root at `root`: weights, voices and bundle folder, each written unless
    already there. Returns it and whether the bundle folder had to be converted."""
    from kokoro_litert.convert.export import cached_bundles
    from kokoro_litert.convert.fetch import have_weights

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    root = Path(root)
    if not have_weights(root):
        write_weights(root / "weights")
    if sorted(p.stem for p in (root / "voices").glob("*.bin")) != sorted(VOICES):
        write_voices(root / "voices")
    converted = not (_bundle_folder(root) / "manifest.json").is_file()
    # jobs=2: the vocoder in one worker, the predictor and prosody in the other (~1.1 GB each)
    bundle = cached_bundles(root / "weights", root, TINY_LADDER, jobs=2, log=log)
    return TinyCache(root, bundle), converted


def is_built(parent: Path) -> bool:
    """Whether `cached_build(parent)` would find its bundle folder complete (no conversion)."""
    from kokoro_litert.convert.fetch import have_weights

    root = Path(parent) / cache_key()
    return have_weights(root) and (_bundle_folder(root) / "manifest.json").is_file()


def cached_build(parent: Path, log=None) -> tuple[TinyCache, bool, float]:
    """`build` under parent/<cache_key()>, reused when complete: (cache, converted now?, seconds).

    Older keys' folders under `parent` are left alone (~35 MB each); delete `parent` to reclaim them.
    """
    start = time.perf_counter()
    tiny, converted = build(Path(parent) / cache_key(), log)
    return tiny, converted, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parent = Path(argv[0]) if argv else Path(__file__).resolve().parents[2] / ".pytest_cache" / "d" / "tiny-bundle"
    tiny, converted, seconds = cached_build(parent)
    print(f"tiny bundle {'converted' if converted else 'reused'} in {seconds:.0f} s", file=sys.stderr)
    print(tiny.bundle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
