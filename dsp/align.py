"""Durations -> hard alignment, as kokoro/model.py KModel.forward_with_tokens does it.

Upstream (one utterance, unpadded):

    duration = torch.sigmoid(duration).sum(axis=-1) / speed
    pred_dur = torch.round(duration).clamp(min=1).long().squeeze()
    indices = torch.repeat_interleave(torch.arange(T), pred_dur)
    pred_aln_trg = torch.zeros((T, indices.shape[0])); pred_aln_trg[indices, arange] = 1

Here the duration bundle has already summed the sigmoids (float32, one value per real token), and the
matrix is laid out in a fixed bucket: [T_bucket tokens, L_bucket frames], zero outside the real block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kokoro_litert.buckets import FRAME_SECONDS


class FramesExceedBucketError(ValueError):
    """The predicted frames (or the tokens) do not fit in the chosen bucket."""


@dataclass(frozen=True)
class Alignment:
    """Hard alignment of one utterance inside a (tokens, frames) bucket."""

    pred_dur: np.ndarray
    """[T_real] int64: frames per token, `round(d / speed)` clamped to >= 1 (upstream's pred_dur)."""
    matrix: np.ndarray
    """[T_bucket, L_bucket] float32 one-hot: matrix[t, f] = 1 if frame f belongs to token t; zero rows
    for padding tokens and zero columns for padding frames (upstream's pred_aln_trg, padded)."""
    n_frames: int
    """Real alignment frames, sum(pred_dur); the audio is n_frames * SAMPLES_PER_FRAME samples."""


def round_durations(duration: np.ndarray, speed: float = 1.0) -> np.ndarray:
    """Integer frames per token from the continuous durations: `round(d / speed)`, at least 1.

    duration: [T_real] sum of the duration sigmoids per token, before the speed division.
    Returns [T_real] int64. The division is done in float32 like torch (a float32 tensor divided by a
    Python float divides by float32(speed)); np.round and torch.round both round half to even.
    """
    duration = np.asarray(duration)
    if duration.ndim != 1:
        raise ValueError(f"duration must be 1-D [T_real], got shape {duration.shape}")
    if not np.all(np.isfinite(duration)):
        raise ValueError("duration contains NaN or inf: check the duration bundle's inputs")
    if not (np.isfinite(speed) and speed > 0):
        raise ValueError(f"speed must be a positive finite number, got {speed!r}")
    scaled = duration.astype(np.float32) / np.float32(speed)
    return np.maximum(np.round(scaled), 1).astype(np.int64)


def alignment_matrix(pred_dur: np.ndarray, n_tokens: int, n_frames: int) -> np.ndarray:
    """One-hot alignment [n_tokens, n_frames] float32 for integer durations, zero-padded.

    Raises FramesExceedBucketError if the tokens or the frames do not fit.
    """
    pred_dur = np.asarray(pred_dur)
    if pred_dur.ndim != 1 or not np.issubdtype(pred_dur.dtype, np.integer):
        raise ValueError(f"pred_dur must be a 1-D integer array, got {pred_dur.dtype} {pred_dur.shape}")
    if np.any(pred_dur < 0):
        raise ValueError("pred_dur must be non-negative")
    t_real = pred_dur.shape[0]
    total = int(pred_dur.sum())
    if t_real > n_tokens:
        raise FramesExceedBucketError(
            f"{t_real} tokens do not fit in a bucket of {n_tokens} tokens: "
            "use a larger token bucket or split the text into shorter chunks"
        )
    if total > n_frames:
        raise FramesExceedBucketError(
            f"the predicted durations need {total} frames ({total * FRAME_SECONDS:.2f} s) but the "
            f"bucket holds {n_frames} frames ({n_frames * FRAME_SECONDS:.2f} s): use a larger frame "
            "bucket, raise the speed, or split the text into shorter chunks"
        )
    matrix = np.zeros((n_tokens, n_frames), dtype=np.float32)
    token_of_frame = np.repeat(np.arange(t_real), pred_dur)  # upstream's `indices`, [total]
    matrix[token_of_frame, np.arange(total)] = 1.0
    return matrix


def align(duration: np.ndarray, speed: float, n_tokens: int, n_frames: int) -> Alignment:
    """Round the continuous durations and lay the alignment out in a (n_tokens, n_frames) bucket.

    duration: [T_real] float sum of the duration sigmoids per real token (boundary pads included).
    """
    pred_dur = round_durations(duration, speed)
    matrix = alignment_matrix(pred_dur, n_tokens, n_frames)
    return Alignment(pred_dur=pred_dur, matrix=matrix, n_frames=int(pred_dur.sum()))
