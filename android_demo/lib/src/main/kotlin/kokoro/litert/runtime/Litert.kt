package kokoro.litert.runtime

import kokoro.litert.buckets.NoBucketError

/**
 * The LiteRT bundles as a synthesis backend for `Kokoro` (twin of `runtime/litert.py`):
 * phonemes + voice pack -> audio through a bundle folder's three stages, on any `StageRunner`.
 * `stageSeconds` accumulates wall time per stage and "host" for the DSP between them.
 *
 * accelerator: the runner's ("cpu", or "gpu": the vocoder on LiteRT's GPU accelerator); with "gpu"
 * and a folder carrying a GPU vocoder, the pipeline runs the vocoder at that variant's sizes only
 * (`ladderFor`), whether or not a GPU could be created, as the Python runtime does.
 */
class LiteRTBackend(val bundle: Bundle, val runner: StageRunner, accelerator: String = "cpu") : Backend {
    val vocab = bundle.manifest.vocab
    val ladder = ladderFor(bundle.manifest, accelerator.also { checkAccelerator(it) })
    val source = SineMerge(bundle.manifest.sineSourceWeight, bundle.manifest.sineSourceBias)
    override val maxPhonemes = ladder.maxPhonemes
    val stageSeconds = LinkedHashMap<String, Double>()

    private val timed = object : StageRunner {
        override fun run(stage: String, signature: String, inputs: Map<String, Tensor>): Map<String, Tensor> {
            val t0 = System.nanoTime()
            try {
                return runner.run(stage, signature, inputs)
            } finally {
                stageSeconds[stage] = (stageSeconds[stage] ?: 0.0) + (System.nanoTime() - t0) / 1e9
            }
        }
    }

    override fun synthesize(phonemes: String, voicePack: FloatArray, speed: Double, seed: Long): Synthesis =
        synthesize(phonemes, voicePack, speed, seed, null)

    fun synthesize(phonemes: String, voicePack: FloatArray, speed: Double, seed: Long,
                   trace: MutableMap<String, Any>?): Synthesis {
        val ids = Vocab.phonemeIds(phonemes, vocab)
        val t0 = System.nanoTime()
        val before = stageSeconds.values.sum()
        try {
            return Pipeline.synthesize(timed, ladder, source, ids, Voices.styleFor(voicePack, Vocab.length(phonemes)),
                                       speed, seed, trace = trace)
        } catch (e: NoBucketError) {
            throw ChunkTooLong(e.message ?: "chunk too long")
        } finally {
            stageSeconds["host"] = (stageSeconds["host"] ?: 0.0) + (System.nanoTime() - t0) / 1e9 - (stageSeconds.values.sum() - before)
        }
    }
}
