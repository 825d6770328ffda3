"""The PyTorch reference: upstream `KModel` on the fetched weights, seeded and inspectable.

`TorchReference.synthesize` follows `KModel.forward_with_tokens` step by step (a test holds it
bit-identical to upstream) and adds two controls the parity tests need: durations can be imposed
(to compare decoders on the same alignment), and the hn-NSF excitation noise can be zeroed
(the kokoro-onnx export has none).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from unittest import mock

import numpy as np

from kokoro_litert.buckets import MAX_PHONEMES
from kokoro_litert.runtime.backend import Synthesis
from kokoro_litert.runtime.vocab import phoneme_ids  # noqa: F401  (re-exported for callers)
from kokoro_litert.runtime.voices import style_for

from .checkpoint import load_model


@contextlib.contextmanager
def seeded_excitation(seed: int | None):
    """Make upstream's SineGen draw the project's excitation numbers for `seed` (dsp/noise.py, what
    `runtime.pipeline.synthesize(seed=seed)` draws), or no noise at all for None, so PyTorch and
    LiteRT can be compared on the same excitation.

    torch.rand gives the 9 initial harmonic phases; torch.randn_like on SineGen's [1, samples, 9]
    sines gives the additive noise, drawn at whatever length the utterance has. SourceModuleHnNSF's
    own randn_like ([1, samples, 1]) feeds a branch Generator.forward discards: zeros."""
    import torch

    from kokoro_litert.dsp import N_HARMONICS, excitation_noise, excitation_rand_ini

    def rand(*size, **kw):
        if seed is None:
            return torch.zeros(*size, dtype=kw.get("dtype"), device=kw.get("device"))
        return torch.from_numpy(excitation_rand_ini(seed, N_HARMONICS).reshape(1, N_HARMONICS))

    def randn_like(x, **kw):
        if seed is None or x.shape[-1] != N_HARMONICS:
            return torch.zeros_like(x)
        return torch.from_numpy(excitation_noise(seed, x.shape[1], N_HARMONICS)[1][None])

    with mock.patch("torch.rand", rand), mock.patch("torch.randn_like", randn_like):
        yield


def zero_excitation_noise():
    """No excitation noise at all (the kokoro-onnx export has none): `seeded_excitation(None)`."""
    return seeded_excitation(None)


class TorchReference:
    """Upstream KModel as a synthesis backend (see `runtime.api.Backend`)."""

    max_phonemes = MAX_PHONEMES

    def __init__(self, weights_dir: Path, disable_complex: bool = False):
        self.model = load_model(Path(weights_dir), disable_complex=disable_complex)
        self.vocab = self.model.vocab

    def synthesize(self, phonemes: str, voice_pack: np.ndarray, speed: float = 1.0, seed: int = 0,
                   excitation: str = "random", durations: np.ndarray | None = None) -> Synthesis:
        import torch

        ids = phoneme_ids(phonemes, self.vocab)
        style = torch.from_numpy(style_for(voice_pack, len(phonemes)))
        input_ids = torch.LongTensor([[0, *ids, 0]])
        noise = zero_excitation_noise() if excitation == "zero" else contextlib.nullcontext()
        torch.manual_seed(seed)
        with torch.no_grad(), noise:
            return self._forward(input_ids, style, speed, durations)

    def _forward(self, input_ids, ref_s, speed: float, durations):
        # Mirrors kokoro 0.9.4 KModel.forward_with_tokens (batch 1, no padding).
        import torch

        m = self.model
        n = input_ids.shape[1]
        input_lengths = torch.full((1,), n, dtype=torch.long)
        text_mask = torch.zeros((1, n), dtype=torch.bool)
        bert_dur = m.bert(input_ids, attention_mask=(~text_mask).int())
        d_en = m.bert_encoder(bert_dur).transpose(-1, -2)
        s = ref_s[:, 128:]
        d = m.predictor.text_encoder(d_en, s, input_lengths, text_mask)
        x, _ = m.predictor.lstm(d)
        duration = torch.sigmoid(m.predictor.duration_proj(x)).sum(axis=-1) / speed
        pred_dur = torch.round(duration).clamp(min=1).long().squeeze(0)
        if durations is not None:
            pred_dur = torch.as_tensor(np.asarray(durations), dtype=torch.long)
        indices = torch.repeat_interleave(torch.arange(n), pred_dur)
        aln = torch.zeros((n, indices.shape[0]))
        aln[indices, torch.arange(indices.shape[0])] = 1
        aln = aln.unsqueeze(0)
        en = d.transpose(-1, -2) @ aln
        f0, noise = m.predictor.F0Ntrain(en, s)
        t_en = m.text_encoder(input_ids, input_lengths, text_mask)
        audio = m.decoder(t_en @ aln, f0, noise, ref_s[:, :128]).squeeze()
        return Synthesis(audio=audio.numpy().astype(np.float32), durations=pred_dur.numpy(),
                         durations_raw=duration.squeeze(0).numpy())
