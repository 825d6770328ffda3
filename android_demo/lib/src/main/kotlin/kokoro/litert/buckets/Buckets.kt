package kokoro.litert.buckets

/**
 * Shapes and constants shared with the Python runtime (twin of `buckets/__init__.py`): every number
 * derived from Kokoro-82M v1.0's config.json `istftnet` block, never re-typed where it is used.
 * The bundle manifest's `dsp` block carries the same numbers; `Manifest.load` checks they agree.
 */
object Buckets {
    // --- Kokoro-82M v1.0 decoder geometry (config.json "istftnet") ---
    const val SAMPLE_RATE = 24_000
    val UPSAMPLE_RATES = intArrayOf(10, 6)
    const val ISTFT_N_FFT = 20
    const val ISTFT_HOP = 5
    const val ISTFT_WIN = ISTFT_N_FFT
    const val N_FREQ = ISTFT_N_FFT / 2 + 1 // 11 frequency bins out of the vocoder

    const val DECODER_UPSAMPLE = 2 // the decoder runs at twice the frame rate until decode.3
    val SAMPLES_PER_FRAME = DECODER_UPSAMPLE * UPSAMPLE_RATES.fold(1) { a, b -> a * b } * ISTFT_HOP // 2 x 10 x 6 x 5 = 600
    val F0_UPSAMPLE = UPSAMPLE_RATES.fold(1) { a, b -> a * b } * ISTFT_HOP // 300: F0 samples -> audio samples
    val FRAME_SECONDS = SAMPLES_PER_FRAME.toDouble() / SAMPLE_RATE // 0.025 s per alignment frame

    // --- hn-NSF source module (kokoro/istftnet.py Generator.m_source) ---
    const val HARMONIC_NUM = 8 // sine harmonics above F0 -> 9 sine channels
    const val SINE_AMP = 0.1f
    const val NOISE_STD = 0.003f
    const val VOICED_THRESHOLD = 10.0f // Hz: F0 above this is voiced

    // --- Model interface ---
    const val STYLE_DIM = 256 // a voice row: [0:128] decoder style, [128:256] prosody style
    const val MAX_TOKENS = 512 // PL-BERT context length (including the two boundary pad tokens)
    const val MAX_PHONEMES = MAX_TOKENS - 2 // 510; also the number of rows in a voice pack
    const val VOICE_ROWS = 510
    const val PAD_TOKEN = 0

    init {
        check(SAMPLES_PER_FRAME == 600)
        check(SAMPLES_PER_FRAME % ISTFT_HOP == 0)
    }
}
