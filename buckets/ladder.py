"""The bucket ladder: the fixed (tokens, frames) shapes the LiteRT bundles are converted at.

Every bundle signature runs at one fixed shape (litert-torch has no usable dynamic shapes), so an
utterance is padded up to the smallest bucket that holds it. A bucket pairs a token length T (the
predictor's input, boundary pad tokens included) with a frame length L (prosody and vocoder; one
frame = SAMPLES_PER_FRAME samples = 25 ms).

Pairing: L = 4 T. Measured with the reference predictor on the 63 dev + heldout sentences up to
300 phonemes (tests/data), voices af_heart / am_michael, speed 1: frames per token median 2.4 / 2.8,
90th percentile 2.9 / 3.4, up to 4.8 / 5.1 on 12-token utterances (short phrases are slow). A
full 32-token bucket needed at most 101 frames, 64 tokens at most 202, 128 tokens about 353: x4
leaves room for speed down to ~0.75 on a full bucket; an utterance whose frames overflow its
token bucket's L moves up to the next bucket (the predictor's outputs are zero-padded to its T).
"""

from __future__ import annotations

from dataclasses import dataclass

from kokoro_litert.buckets import FRAME_SECONDS, ISTFT_HOP, SAMPLES_PER_FRAME

STFT_FRAMES_PER_FRAME = SAMPLES_PER_FRAME // ISTFT_HOP  # 600 / 5 = 120 iSTFT frames per alignment frame
F0_PER_FRAME = 2  # the prosody predictor emits F0 and N at twice the frame rate (decoder.F0_conv halves it)
assert STFT_FRAMES_PER_FRAME * ISTFT_HOP == SAMPLES_PER_FRAME


class NoBucketError(ValueError):
    """The utterance does not fit in the largest bucket of the ladder."""


@dataclass(frozen=True, order=True)
class Bucket:
    """One fixed shape of the three bundles."""

    tokens: int
    """T: token slots (phonemes + the 2 boundary pad tokens), the predictor's and prosody's input length."""
    frames: int
    """L: alignment frames, the prosody's and the vocoder's length; audio holds L * SAMPLES_PER_FRAME samples."""

    @property
    def predictor_signature(self) -> str:
        return f"tokens_{self.tokens}"

    @property
    def prosody_signature(self) -> str:
        return f"tokens_{self.tokens}_frames_{self.frames}"

    @property
    def vocoder_signature(self) -> str:
        return f"frames_{self.frames}"

    @property
    def f0_length(self) -> int:
        return F0_PER_FRAME * self.frames  # F0 / N samples: 2 L

    @property
    def stft_frames(self) -> int:
        return STFT_FRAMES_PER_FRAME * self.frames + 1  # har / magnitude / phase frames: 120 L + 1

    @property
    def samples(self) -> int:
        return SAMPLES_PER_FRAME * self.frames

    @property
    def seconds(self) -> float:
        return self.frames * FRAME_SECONDS

    @property
    def name(self) -> str:
        return f"t{self.tokens}_l{self.frames}"


LADDER: tuple[Bucket, ...] = (Bucket(32, 128), Bucket(64, 256), Bucket(128, 512))
"""Default ladder, smallest first: up to 30 / 62 / 126 phonemes, 3.2 / 6.4 / 12.8 s of audio."""


def pick(n_tokens: int, n_frames: int = 0, ladder: tuple[Bucket, ...] = LADDER) -> Bucket:
    """The smallest bucket with at least n_tokens token slots and n_frames frames.

    Call it with n_frames=0 to choose the predictor's bucket, then again with the predicted
    frame count for prosody (which may pick a larger bucket); `pick_frames` for the vocoder.
    """
    if n_tokens < 1 or n_frames < 0:
        raise ValueError(f"need n_tokens >= 1 and n_frames >= 0, got {n_tokens}, {n_frames}")
    for bucket in sorted(ladder):
        if bucket.tokens >= n_tokens and bucket.frames >= n_frames:
            return bucket
    largest = max(ladder)
    raise NoBucketError(
        f"{n_tokens} tokens / {n_frames} frames ({n_frames * FRAME_SECONDS:.2f} s) do not fit in the largest "
        f"bucket ({largest.tokens} tokens, {largest.frames} frames = {largest.seconds:.1f} s): split the text "
        "into shorter sentences, raise the speed, or convert the bundles with a larger ladder."
    )


def pick_frames(n_frames: int, ladder: tuple[Bucket, ...] = LADDER) -> Bucket:
    """The bucket with the fewest frames >= n_frames, whatever its tokens: the vocoder's.

    The vocoder's cost grows with frames and its signature depends on them alone, so a long
    sentence spoken fast (many tokens, few frames) need not pay for the frames of its token bucket.
    """
    fitting = [b for b in ladder if b.frames >= n_frames]
    if not fitting:
        return pick(1, n_frames, ladder)  # raises NoBucketError with the advice
    return min(fitting, key=lambda b: (b.frames, b.tokens))


def parse_ladder(spec: str) -> tuple[Bucket, ...]:
    """'32x128,64x256' -> buckets (for command lines and tests)."""
    buckets = []
    for part in spec.split(","):
        tokens, sep, frames = part.strip().partition("x")
        if not sep or not tokens.isdigit() or not frames.isdigit():
            raise ValueError(f"bucket {part!r} is not TOKENSxFRAMES, e.g. 32x128")
        buckets.append(Bucket(int(tokens), int(frames)))
    return tuple(sorted(set(buckets)))
