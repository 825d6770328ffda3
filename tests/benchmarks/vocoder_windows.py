"""What vocoding an utterance in windows of fewer frames would cost the speech.

    python tests/benchmarks/vocoder_windows.py [--bundles DIR] [--window 256] [--halo 8]

The largest vocoder call sets the runtime's peak memory (RESULTS.md, "Where the peak is"), so the
question comes back: could a long chunk be vocoded as several calls of at most `--window` frames,
each with `--halo` frames of its neighbours' context, and the middles joined? Every AdaIN in the
vocoder normalizes over the whole utterance, so each window's statistics differ from the
utterance's. This measures by how much, on the dev and held-out sentences whose frames exceed the
window (voice af_heart, excitation seed 2, default precision): MCD-DTW against the PyTorch
reference for the whole call and for the windows, the seed-to-seed floor beside them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # yardstick
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: support

from folder_size import _cached_bundles  # noqa: E402
from yardstick import dtw_path, litert_speak, mel_cepstra, mel_cepstral_distortion, torch_speak  # noqa: E402


def windows(n: int, window: int, halo: int) -> list[tuple[int, int, int, int]]:
    """(start, end) of each window's middle and of the frames it is run on, covering n frames."""
    count = max(1, -(-(n - 2 * halo) // (window - 2 * halo)))
    cuts = [round(i * n / count) for i in range(count + 1)]
    return [(s, e, max(0, s - halo), min(n, e + halo)) for s, e in zip(cuts[:-1], cuts[1:])]


def windowed_vocoder(run, pick_frames, window: int, halo: int):
    """A runner whose vocoder calls longer than `window` frames run as windows (see `windows`)."""
    from kokoro_litert.buckets.ladder import F0_PER_FRAME, STFT_FRAMES_PER_FRAME as PER, vocoder_signature

    def cut(x, axis: int, lo: int, hi: int, size: int) -> np.ndarray:
        x = np.take(np.asarray(x, np.float32), np.arange(lo, hi), axis=axis)
        pad = [(0, 0)] * x.ndim
        pad[axis] = (0, size - (hi - lo))
        return np.pad(x, pad)

    def windowed(stage, name, **feed):
        n = int(np.asarray(feed["frame_mask"]).sum()) if stage == "vocoder" else 0
        if n <= window:
            return run(stage, name, **feed)
        har = np.array(feed["har"])  # a donated input would be overwritten by the first window
        out = {k: np.zeros((1, har.shape[1] // 2, har.shape[2]), np.float32) for k in ("magnitude", "phase")}
        for start, end, lo, hi in windows(n, window, halo):
            size = pick_frames(hi - lo)
            f0_cut = (F0_PER_FRAME * lo, F0_PER_FRAME * hi, F0_PER_FRAME * size)
            part = run("vocoder", vocoder_signature(size), style=feed["style"],
                       asr=cut(feed["asr"], 2, lo, hi, size), f0=cut(feed["f0"], 1, *f0_cut),
                       n=cut(feed["n"], 1, *f0_cut), har=cut(har, 2, PER * lo, PER * hi + 1, PER * size + 1),
                       frame_mask=cut(np.ones((1, n), np.float32), 1, lo, hi, size))
            a, b = PER * start, PER * end + (1 if end == n else 0)
            for k in out:
                out[k][..., a:b] = part[k][..., a - PER * lo : b - PER * lo]
        return out

    return windowed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundles", type=Path)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--halo", type=int, default=8)
    args = parser.parse_args()

    from support.sentences import load_sentences

    from kokoro_litert.convert.reference import TorchReference
    from kokoro_litert.runtime.cache import cache_root
    from kokoro_litert.runtime.litert import LiteRTBackend
    from kokoro_litert.runtime.voices import load_voice

    cache = cache_root()
    bundles = args.bundles or _cached_bundles()
    whole = LiteRTBackend(str(bundles), threads=2)
    windowed = LiteRTBackend(str(bundles), threads=2)
    windowed.runner.run = windowed_vocoder(windowed.runner.run, windowed.ladder.pick_frames, args.window, args.halo)
    reference = TorchReference(cache / "weights")
    voice = load_voice("af_heart", cache / "voices")
    max_phonemes = whole.ladder.max_phonemes
    rows = []
    for s in (s for name in ("dev", "heldout") for s in load_sentences(name) if len(s.phonemes) <= max_phonemes):
        one = litert_speak(whole, s.phonemes, voice, 2)
        frames = int(one.durations.sum())
        if frames <= args.window:
            continue
        ref = mel_cepstra(torch_speak(reference, s.phonemes, voice, 2).audio)

        def mcd(audio: np.ndarray) -> float:
            c = mel_cepstra(audio)
            return mel_cepstral_distortion(c, ref, dtw_path(c, ref))

        row = (mcd(torch_speak(reference, s.phonemes, voice, 1).audio), mcd(one.audio),
               mcd(litert_speak(windowed, s.phonemes, voice, 2).audio))
        rows.append(row)
        print(f"{s.id:12} {frames:4} frames  MCD dB: floor {row[0]:.2f}  one call {row[1]:.2f}  windows {row[2]:.2f}",
              flush=True)
    if not rows:
        raise SystemExit(f"no sentence has more than {args.window} frames")
    floor, one, parts = np.mean(rows, axis=0)
    print(f"mean over {len(rows)}: floor {floor:.2f}, one call {one:.2f} ({one - floor:+.2f}), "
          f"windows of {args.window} (halo {args.halo}) {parts:.2f} ({parts - floor:+.2f})")


if __name__ == "__main__":
    main()
