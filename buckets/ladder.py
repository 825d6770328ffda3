"""The bucket ladder: the fixed shapes the LiteRT bundles are converted at.

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

The vocoder has its own, finer list of frame sizes (`VOCODER_FRAMES`): it runs at the fewest
frames that hold the utterance, whatever bucket prosody ran at.
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
"""Default (tokens, frames) buckets of the predictor and prosody, smallest first: up to 30 / 62 / 126
phonemes, 3.2 / 6.4 / 12.8 s of audio."""

VOCODER_FRAMES: tuple[int, ...] = (48, 64, 96, 128, 160, 192, 256, 320, 384, 512)
"""Default frame sizes of the vocoder, which costs ~90% of the time and grows linearly with frames,
so it runs at the fewest frames that hold the utterance. Measured on the dev + held-out chunks
(`python tests/benchmarks/padding.py`): frames computed / frames needed 1.49 with the prosody
buckets' 128 / 256 / 512 alone, 1.13 with these; 48 frames (1.2 s) serves a short first chunk."""


@dataclass(frozen=True)
class Ladder:
    """Every fixed shape a bundle folder is converted at."""

    buckets: tuple[Bucket, ...] = LADDER
    """(tokens, frames) pairs: predictor signatures `tokens_T`, prosody `tokens_T_frames_L`."""
    vocoder_frames: tuple[int, ...] = VOCODER_FRAMES
    """Vocoder signatures `frames_F`; the largest must be the largest bucket's frames."""

    def __post_init__(self):
        buckets, frames = tuple(sorted(set(self.buckets))), tuple(sorted(set(self.vocoder_frames)))
        if not buckets or not frames:
            raise ValueError("a ladder needs at least one bucket and one vocoder frame size")
        if frames[-1] < max(b.frames for b in buckets):
            raise ValueError(f"the largest vocoder frame size ({frames[-1]}) must hold the largest bucket's "
                             f"{max(b.frames for b in buckets)} frames")
        object.__setattr__(self, "buckets", buckets)
        object.__setattr__(self, "vocoder_frames", frames)

    @property
    def token_sizes(self) -> tuple[int, ...]:
        return tuple(sorted({b.tokens for b in self.buckets}))

    @property
    def max_phonemes(self) -> int:
        return max(self.token_sizes) - 2  # two boundary pad tokens

    def pick(self, n_tokens: int, n_frames: int = 0) -> Bucket:
        """The smallest (tokens, frames) bucket that holds n_tokens and n_frames (see `pick`)."""
        return pick(n_tokens, n_frames, self.buckets)

    def pick_frames(self, n_frames: int) -> int:
        """The fewest vocoder frames >= n_frames."""
        for frames in self.vocoder_frames:
            if frames >= n_frames:
                return frames
        return pick(1, n_frames, self.buckets).frames  # raises NoBucketError with the advice

    @property
    def spec(self) -> str:
        """'32x128,64x256;48,64,...' (parse_ladder's format; also names the bundle cache folder)."""
        return (",".join(f"{b.tokens}x{b.frames}" for b in self.buckets) + ";"
                + ",".join(str(f) for f in self.vocoder_frames))


DEFAULT_LADDER = Ladder()


def pick(n_tokens: int, n_frames: int = 0, ladder: tuple[Bucket, ...] = LADDER) -> Bucket:
    """The smallest bucket with at least n_tokens token slots and n_frames frames.

    Call it with n_frames=0 to choose the predictor's bucket, then again with the predicted
    frame count for prosody (which may pick a larger bucket).
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


def parse_ladder(spec: str) -> Ladder:
    """'32x128,64x256' (vocoder frames: the buckets' own) or '32x128,64x256;48,64,128,256' -> Ladder."""
    pairs, _, frames = spec.partition(";")
    buckets = []
    for part in pairs.split(","):
        tokens, sep, n = part.strip().partition("x")
        if not sep or not tokens.isdigit() or not n.isdigit() or int(tokens) < 3 or int(n) < 1:
            raise ValueError(f"bucket {part!r} is not TOKENSxFRAMES, e.g. 32x128")
        buckets.append(Bucket(int(tokens), int(n)))
    if frames.strip():
        parts = [f.strip() for f in frames.split(",")]
        if not all(f.isdigit() and int(f) > 0 for f in parts):
            raise ValueError(f"vocoder frames {frames!r} are not FRAMES,FRAMES,..., e.g. 64,128,256")
        vocoder = tuple(int(f) for f in parts)
    else:
        vocoder = tuple(b.frames for b in buckets)
    return Ladder(tuple(buckets), vocoder)


def vocoder_signature(frames: int) -> str:
    return f"frames_{frames}"


def stft_frames(frames: int) -> int:
    """har / magnitude / phase frames for `frames` alignment frames: 120 L + 1."""
    return STFT_FRAMES_PER_FRAME * frames + 1
