"""Run the three LiteRT bundles with the host DSP between them: phoneme ids + style -> 24 kHz audio.

Torch-free: ai-edge-litert, numpy and `kokoro_litert.dsp`. The pipeline (upstream
KModel.forward_with_tokens + Generator.forward, split at the host steps):

    predictor(tokens_T)      ids, style, token mask -> durations (sum of sigmoids), d, t_en
    host                     round(durations / speed), clamp >= 1 -> alignment [T, L], frame mask
    prosody(tokens_T_frames_L) -> asr, f0, n
    host                     sine source(f0; l_linear from the manifest; seeded) -> STFT -> har
    vocoder(frames_L)        -> magnitude, phase
    host                     iSTFT -> audio, n_frames * 600 samples

`synthesize_with` holds the host steps and takes any `run(stage, bucket, **inputs) -> outputs`
callable, so the same code drives the .tflite bundles (`Bundles`) and, in tests, the PyTorch stages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from kokoro_litert.buckets import N_FREQ, PAD_TOKEN, STYLE_DIM
from kokoro_litert.buckets.ladder import F0_PER_FRAME, Bucket, pick, pick_frames
from kokoro_litert.buckets.manifest import DEFAULT_PRECISION, STAGES, Manifest, ManifestError
from kokoro_litert.dsp import alignment_matrix, istft, round_durations, sine_source, stft

from .errors import KokoroError

Runner = Callable[..., dict]
"""run(stage, bucket, **inputs) -> {output name: array}; stage in STAGES."""


@dataclass
class Synthesis:
    audio: np.ndarray
    """[n_frames * 600] float32 at 24 kHz."""
    durations: np.ndarray
    """[tokens] int64 frames per token, boundary pad tokens included (upstream's pred_dur)."""
    durations_raw: np.ndarray
    """[tokens] float32 sum of the duration sigmoids, before speed and rounding."""
    bucket: Bucket
    """The bucket prosody ran at."""
    vocoder_bucket: Bucket
    """The bucket the vocoder ran at: the fewest frames that hold the utterance (`pick_frames`)."""


@dataclass(frozen=True)
class Excitation:
    """Pinned harmonic-source randomness (upstream's torch.rand / torch.randn_like), for tests."""

    rand_ini: np.ndarray
    """[9] initial harmonic phases in [0, 1)."""
    noise: np.ndarray
    """[n_frames * 600, 9] standard normal."""


def synthesize_with(run: Runner, ladder: Sequence[Bucket], sine_weight: np.ndarray, sine_bias: float,
                    ids: Sequence[int], style: np.ndarray, speed: float = 1.0, seed: int | None = None,
                    excitation: Excitation | None = None, durations: np.ndarray | None = None) -> Synthesis:
    """The host pipeline around three stage runners (see the module docstring).

    ids: phoneme token ids WITHOUT the boundary pads (added here, as upstream KModel.forward).
    style: the voice pack row [1, 256] or [256] for this utterance's length.
    seed: seeds the excitation (rng); `excitation` pins it exactly instead.
    durations: impose integer frames per token (boundary pads included) instead of the predicted ones.
    """
    ladder = tuple(ladder)
    tokens = np.array([PAD_TOKEN, *ids, PAD_TOKEN], dtype=np.int32)
    n_tokens = tokens.shape[0]
    style = np.asarray(style, dtype=np.float32).reshape(1, STYLE_DIM)

    first = pick(n_tokens, 0, ladder)
    input_ids = np.zeros((1, first.tokens), dtype=np.int32)
    input_ids[0, :n_tokens] = tokens
    token_mask = np.zeros((1, first.tokens), dtype=np.float32)
    token_mask[0, :n_tokens] = 1
    pred = run("predictor", first, input_ids=input_ids, style=style, token_mask=token_mask)
    raw = np.asarray(pred["durations"], dtype=np.float32)[0, :n_tokens]
    if durations is None:
        pred_dur = round_durations(raw, speed)
    else:
        pred_dur = np.asarray(durations, dtype=np.int64)
        if pred_dur.shape != (n_tokens,) or np.any(pred_dur < 1):
            raise ValueError(f"durations must be {n_tokens} positive integers (boundary pads included), "
                             f"got shape {pred_dur.shape}")
    n_frames = int(pred_dur.sum())

    bucket = pick(n_tokens, n_frames, ladder)
    alignment = alignment_matrix(pred_dur, bucket.tokens, bucket.frames)[None]  # [1, T, L]
    frame_mask = np.zeros((1, bucket.frames), dtype=np.float32)
    frame_mask[0, :n_frames] = 1
    d = _pad_axis(pred["d"], 1, bucket.tokens)  # [1, T, 640]; padded tokens have no frames
    t_en = _pad_axis(pred["t_en"], 2, bucket.tokens)  # [1, 512, T]
    pros = run("prosody", bucket, d=d, t_en=t_en, alignment=alignment, style=style, frame_mask=frame_mask)

    # Harmonic source on the real F0 only, STFT'd at the real length (upstream's har has exactly
    # 120 n + 1 frames; the vocoder sees zeros past them, as its conv padding would give).
    f0 = np.asarray(pros["f0"], dtype=np.float32)[0, : 2 * n_frames]
    if excitation is not None:
        har_source = sine_source(f0, sine_weight, sine_bias, rand_ini=excitation.rand_ini, noise=excitation.noise)
    else:
        har_source = sine_source(f0, sine_weight, sine_bias, rng=np.random.default_rng(seed))
    magnitude, phase = stft(har_source)  # [11, 120 n + 1] each
    n_stft = magnitude.shape[1]
    # The vocoder may run at fewer frames than prosody did: prosody's outputs are zero past the
    # real length, so cutting them to the vocoder's bucket drops padding only.
    voc_bucket = pick_frames(n_frames, ladder)
    frames = voc_bucket.frames
    har = np.zeros((1, 2 * N_FREQ, voc_bucket.stft_frames), dtype=np.float32)
    har[0, :N_FREQ, :n_stft] = magnitude
    har[0, N_FREQ:, :n_stft] = phase
    f0_len = F0_PER_FRAME * frames
    voc = run("vocoder", voc_bucket, asr=np.asarray(pros["asr"])[:, :, :frames], f0=np.asarray(pros["f0"])[:, :f0_len],
              n=np.asarray(pros["n"])[:, :f0_len], style=style, har=har, frame_mask=frame_mask[:, :frames])
    audio = istft(np.asarray(voc["magnitude"])[0, :, :n_stft], np.asarray(voc["phase"])[0, :, :n_stft])
    return Synthesis(audio=audio, durations=pred_dur, durations_raw=raw, bucket=bucket, vocoder_bucket=voc_bucket)


def _pad_axis(x: np.ndarray, axis: int, size: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    pad = [(0, 0)] * x.ndim
    pad[axis] = (0, size - x.shape[axis])
    return np.pad(x, pad) if pad[axis][1] else x


BUNDLE_REMEDY = "Convert the bundles again with `kokoro-litert convert`, or pass --bundles a complete bundle folder."


def load_checked_manifest(folder: str | os.PathLike) -> Manifest:
    """The manifest of a bundle folder, checked against the .tflite files it names.

    Load-time validation, so a broken folder fails in one line before any synthesis instead of in
    the middle of it: the manifest must parse; every stage file it names (float32 and any variant)
    must exist, be a .tflite, and hold for each bucket the signature the manifest lists, with the
    same input and output names. Each file's signature list is read without applying a delegate
    (the file is memory-mapped; ~10 ms per file). Raises `KokoroError(problem, remedy)`.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    folder = Path(folder)
    try:
        manifest = Manifest.load(folder)
        stage_files = [(stage, manifest.files[stage]) for stage in STAGES]
        for files in manifest.variants.values():  # e.g. {"int8": {"vocoder": "vocoder.int8.tflite"}}
            stage_files += [(stage, files[stage]) for stage in STAGES if stage in files]
    except (ValueError, KeyError, TypeError, AttributeError) as e:  # ManifestError is a ValueError
        raise KokoroError(f"The bundle manifest in {folder} is unusable ({_one_line(e)}).", BUNDLE_REMEDY) from e
    for stage, name in stage_files:
        path = folder / name
        if not path.is_file():
            raise KokoroError(f"{path} is missing: manifest.json names it for the {stage} stage.", BUNDLE_REMEDY)
        try:
            found = Interpreter(model_path=str(path), experimental_op_resolver_type=
                                OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES).get_signature_list()
        except (ValueError, RuntimeError) as e:
            raise KokoroError(f"{path} is not a readable .tflite ({_one_line(e)}).", BUNDLE_REMEDY) from e
        for spec in manifest.buckets:
            sig = spec.signature(stage)
            if sig.name not in found:
                raise KokoroError(f"{path.name} has no signature {sig.name!r} for bucket {spec.bucket.name}, which "
                                  f"manifest.json lists (the file has {', '.join(sorted(found)) or 'none'}).",
                                  BUNDLE_REMEDY)
            names = (set(found[sig.name]["inputs"]), set(found[sig.name]["outputs"]))
            if names != (set(sig.inputs), set(sig.outputs)):
                raise KokoroError(f"{path.name} signature {sig.name!r} has inputs {sorted(names[0])} and outputs "
                                  f"{sorted(names[1])}; manifest.json lists {sorted(sig.inputs)} and "
                                  f"{sorted(sig.outputs)}.", BUNDLE_REMEDY)
    return manifest


def _one_line(e: BaseException) -> str:
    """An exception's message on one line, without ManifestError's own ": convert ..." advice."""
    import re

    return re.sub(r": (convert|run the converter)[^:]*$", "", " ".join(str(e).split())).rstrip(".")


class Bundles:
    """The converted bundles of one folder (manifest.json + three .tflite), run on LiteRT's CPU."""

    def __init__(self, folder: str | os.PathLike, num_threads: int = 2, precision: str = DEFAULT_PRECISION):
        """folder: a converted bundle (see convert.export); num_threads: XNNPACK threads per stage;
        precision: "fp32" or a variant in the manifest ("int8")."""
        self.folder = Path(folder)
        self.manifest = load_checked_manifest(self.folder)
        try:
            self.files = self.manifest.files_for(precision)
        except ManifestError as e:
            raise KokoroError(f"{self.folder}: {_one_line(e)}.", BUNDLE_REMEDY) from e
        self.precision = precision
        self.num_threads = num_threads
        self._interpreters: dict = {}
        self._runners: dict = {}

    @property
    def ladder(self) -> tuple[Bucket, ...]:
        return self.manifest.ladder

    def interpreter(self, stage: str):
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
        if stage not in self._interpreters:
            from ai_edge_litert.interpreter import Interpreter

            path = self.folder / self.files[stage]
            self._interpreters[stage] = Interpreter(model_path=str(path), num_threads=self.num_threads)
        return self._interpreters[stage]

    def run(self, stage: str, bucket: Bucket, **inputs) -> dict[str, np.ndarray]:
        """One signature call, inputs cast to the manifest's dtypes and checked against its shapes."""
        spec = self.manifest.spec(bucket).signature(stage)
        key = (stage, spec.name)
        if key not in self._runners:
            self._runners[key] = self.interpreter(stage).get_signature_runner(spec.name)
        if set(inputs) != set(spec.inputs):
            raise ValueError(f"{stage}/{spec.name} takes {sorted(spec.inputs)}, got {sorted(inputs)}")
        feed = {}
        for name, t in spec.inputs.items():
            value = np.asarray(inputs[name], dtype=t.dtype)
            if value.shape != t.shape:
                raise ValueError(f"{stage}/{spec.name} input {name} must be {t.shape}, got {value.shape}")
            feed[name] = value
        return self._runners[key](**feed)

    def warm_up(self) -> dict[str, dict[str, float]]:
        """Run every signature once (XNNPACK packs weights and plans memory on a signature's first
        call); return {bucket name: {stage: seconds}} of these calls, all frames real."""
        import time

        seconds: dict[str, dict[str, float]] = {}
        rng = np.random.default_rng(0)  # noise, not zeros: int8 kernels quantize each row by its range
        for bucket in self.ladder:
            for stage in STAGES:
                spec = self.manifest.spec(bucket).signature(stage)
                inputs = {k: (rng.standard_normal(t.shape) if t.dtype.startswith("float") else np.zeros(t.shape))
                          .astype(t.dtype) for k, t in spec.inputs.items()}
                for mask in {"token_mask", "frame_mask"} & set(inputs):
                    inputs[mask][:] = 1
                start = time.perf_counter()
                self.run(stage, bucket, **inputs)
                seconds.setdefault(bucket.name, {})[stage] = round(time.perf_counter() - start, 3)
        return seconds

    def synthesize(self, ids: Sequence[int], style: np.ndarray, speed: float = 1.0, seed: int | None = None,
                   excitation: Excitation | None = None, durations: np.ndarray | None = None) -> Synthesis:
        """Phoneme token ids (no boundary pads) + voice row [1, 256] -> Synthesis (audio, durations)."""
        return synthesize_with(self.run, self.ladder, np.asarray(self.manifest.sine_source_weight, np.float32),
                               self.manifest.sine_source_bias, ids, style, speed, seed, excitation, durations)
