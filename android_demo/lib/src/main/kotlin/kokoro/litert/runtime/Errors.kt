package kokoro.litert.runtime

/** The one exception type users see (twin of `runtime/errors.py`): `message` is one line, the problem then the remedy. */
class KokoroError(val problem: String, val remedy: String = "") :
    Exception(if (remedy.isNotEmpty()) "$problem $remedy".trim() else problem)
