"""English text front-end: normalization and G2P into Kokoro phonemes."""
