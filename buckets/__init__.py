"""Shapes and constants shared by the converter, the host runtime and the Android demo.

Every number the host pipeline needs is derived here from Kokoro-82M v1.0's config.json
(`istftnet` block) rather than re-typed in the modules that use it.
"""

from __future__ import annotations

import math

# --- Kokoro-82M v1.0 decoder geometry (config.json "istftnet") --------------------------------
SAMPLE_RATE = 24_000
UPSAMPLE_RATES = (10, 6)
ISTFT_N_FFT = 20
ISTFT_HOP = 5
ISTFT_WIN = ISTFT_N_FFT
N_FREQ = ISTFT_N_FFT // 2 + 1  # 11 frequency bins out of the vocoder

# The decoder runs at twice the alignment-frame rate until its `decode.3` block upsamples by 2.
DECODER_UPSAMPLE = 2
SAMPLES_PER_FRAME = DECODER_UPSAMPLE * math.prod(UPSAMPLE_RATES) * ISTFT_HOP  # 2 x 10 x 6 x 5 = 600
F0_UPSAMPLE = math.prod(UPSAMPLE_RATES) * ISTFT_HOP  # 300: F0 samples (2 per frame) -> audio samples
FRAME_SECONDS = SAMPLES_PER_FRAME / SAMPLE_RATE  # 0.025 s per alignment frame

# --- hn-NSF source module (kokoro/istftnet.py Generator.m_source) -------------------------------
HARMONIC_NUM = 8  # sine harmonics above F0 -> 9 sine channels
SINE_AMP = 0.1
NOISE_STD = 0.003
VOICED_THRESHOLD = 10.0  # Hz: F0 above this is voiced

# --- Model interface ------------------------------------------------------------------------------
STYLE_DIM = 256  # a voice row: [0:128] decoder (acoustic) style, [128:256] prosody style
MAX_TOKENS = 512  # PL-BERT context length (including the two boundary pad tokens)
MAX_PHONEMES = MAX_TOKENS - 2  # 510; also the number of rows in a voice pack
VOICE_ROWS = 510
PAD_TOKEN = 0

assert SAMPLES_PER_FRAME == 600
assert SAMPLES_PER_FRAME % ISTFT_HOP == 0
