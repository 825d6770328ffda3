"""Host DSP for the Kokoro LiteRT pipeline: numpy/scipy only, no torch, no learned weights.

The stages that run between the three LiteRT bundles, each reproducing its kokoro 0.9.4 counterpart:

- `align`: continuous durations -> integer frames per token and the padded one-hot alignment
  (KModel.forward_with_tokens).
- `sine_source`: F0 curve -> hn-NSF harmonic excitation (Generator.f0_upsamp, SineGen,
  SourceModuleHnNSF's harmonic branch; the 9->1 merge weights are passed in, randomness injected).
- `noise`: the excitation's random numbers from a seed, specified for every host (`excitation_noise`;
  `noise_rows` draws any block of its rows on its own).
- `stft` / `istft`: the iSTFTNet head's STFT and overlap-add inverse (TorchSTFT), `trim` to the real
  length.
"""

from kokoro_litert.dsp.align import Alignment, FramesExceedBucketError, align, alignment_matrix, round_durations
from kokoro_litert.dsp.noise import excitation_noise, excitation_rand_ini, noise_rows
from kokoro_litert.dsp.sine_source import N_HARMONICS, sine_gen, sine_source, upsample_f0
from kokoro_litert.dsp.stft import istft, stft, trim

__all__ = [
    "Alignment",
    "FramesExceedBucketError",
    "N_HARMONICS",
    "align",
    "excitation_noise",
    "excitation_rand_ini",
    "alignment_matrix",
    "istft",
    "noise_rows",
    "round_durations",
    "sine_gen",
    "sine_source",
    "stft",
    "trim",
    "upsample_f0",
]
