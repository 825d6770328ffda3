"""Kokoro-82M split into three fixed-shape stages for LiteRT: Predictor(T), Prosody(T, L), Vocoder(L).

ADAPTED from kokoro 0.9.4 `KModel.forward_with_tokens` (`kokoro/model.py`), `modules.py` (TextEncoder,
DurationEncoder, ProsodyPredictor.F0Ntrain) and `istftnet.py` (AdainResBlk1d, AdaINResBlock1,
Decoder, Generator). The stages hold (copies of) upstream's own submodules; only the blocks the
converter cannot take are swapped by `convert.blocks.swap_blocks` (masked bi-LSTM, real-frame
AdaIN, the depthwise `pool` upsampler). The forwards below re-state upstream's dataflow with a
validity mask threaded through, because every bucket is padded:

    T tokens (0-padded ids, boundary pads included), L alignment frames, 2L F0 samples,
    20L and 120L + 1 generator frames; real steps form a prefix at every rate.

Host steps between the stages (numpy, `kokoro_litert.dsp`, see runtime/bundles.py):

    Predictor -> durations -> round / clamp / speed -> alignment [T, L] + frame mask
    Prosody   -> F0 -> sine source -> STFT -> har [22, 120L + 1]
    Vocoder   -> magnitude, phase -> iSTFT -> audio [600 * L_real]

How padding is kept out of the real part (upstream runs one unpadded utterance):

- attention: ALBERT gets the token mask as its attention mask (padded keys masked; absolute
  positions of the real prefix unchanged).
- recurrences: MaskedBiLSTM freezes the state on padded steps (packed-sequence semantics).
- statistics: MaskedAdaIN1d takes instance-norm mean/variance over the real frames only.
- convolutions: every conv input is exactly zero past the real length (what upstream's zero
  padding shows the last real frames), at each rate, by a multiply with the 0/1 mask (exact for
  finite values; `where` would lower to SELECT_V2, which XNNPACK does not run).
- outputs: zero past the real length (durations, F0, N, magnitude, phase), so padding is inert
  downstream and easy to assert on.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from kokoro_litert.buckets import N_FREQ, STYLE_DIM
from kokoro_litert.buckets.ladder import F0_PER_FRAME, STFT_FRAMES_PER_FRAME
from kokoro_litert.convert.blocks import MaskedAdaIN1d, MaskedBiLSTM, interleave, swap_blocks

__all__ = [
    "Predictor",
    "Prosody",
    "Vocoder",
    "build_stages",
    "fold_weight_norm",
    "length_mask",
    "HAR_CHANNELS",
]

ACOUSTIC = slice(0, STYLE_DIM // 2)  # ref_s[:, :128]: decoder style (upstream `ref_s[:, :128]`)
PROSODIC = slice(STYLE_DIM // 2, STYLE_DIM)  # ref_s[:, 128:]: predictor style (upstream `s`)
HAR_CHANNELS = 2 * N_FREQ  # 22: har = cat(magnitude, phase) of the harmonic source's STFT
# torch.rsqrt(torch.tensor(2)) as AdainResBlk1d computes it, as a Python float (exact in float32).
_RSQRT2 = float(torch.rsqrt(torch.tensor(2.0)))


def length_mask(mask: torch.Tensor, rate: int, extra: int = 0) -> torch.Tensor:
    """Validity mask at `rate` steps per frame: [B, rate * L + extra] float, 1 on the first
    `rate * n + extra` steps, else 0 (extra: 0 or 1).

    mask: [B, L] float, 1 on the n real frames (a prefix). Upstream lengths at each rate are
    exact multiples of the frame count (2 F0 samples, 20 and 120 generator steps per frame), plus
    one for the iSTFT frame count 120 L + 1. Built by repeating each frame's 0/1 (MUL, RESHAPE,
    CONCATENATION, MAXIMUM: ops XNNPACK runs, where a comparison with a position ramp is not).
    """
    batch, frames = mask.shape
    ones = torch.ones(rate, dtype=mask.dtype, device=mask.device)
    keep = (mask.unsqueeze(-1) * ones).reshape(batch, rate * frames)  # [B, rate L]
    if extra == 0:
        return keep
    if extra != 1:
        raise ValueError(f"extra must be 0 or 1, got {extra}")
    zero = keep.new_zeros(batch, 1)
    # step j < rate n + 1  <=>  step j or step j - 1 is below rate n
    return torch.maximum(torch.cat([keep, zero], dim=-1), torch.cat([zero, keep], dim=-1))


def _zero_pad(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """x [B, C, L] or [B, C, 1, L] with the steps where keep ([B, L] float 0/1, or already
    [B, 1, 1, L]) is 0 set to exactly 0."""
    if keep.dim() != x.dim():
        keep = keep.view(keep.shape[0], *(1,) * (x.dim() - 2), keep.shape[-1])
    return x * keep


def channels_last_masks(frame_mask: torch.Tensor, rates: tuple[int, ...], post_rate: int) -> tuple[dict, torch.Tensor]:
    """The vocoder's validity masks at each rate as [1, 1, 1, r L] tensors ({rate: mask}), and the
    iSTFT-frame mask [1, 1, 1, post_rate L + 1] (`length_mask` with extra=1).

    Made by convolutions with all-ones kernels (exact: each output is one 0/1 times 1, or a sum of
    two clamped to 1), so litert-torch's layout pass places them channels-last with everything they
    multiply; a mask reshaped from the [1, L] input would make it transpose the big activations
    instead.
    """
    m = frame_mask.view(1, 1, 1, -1)
    ones = lambda k: torch.ones(1, 1, 1, k, dtype=m.dtype, device=m.device)  # noqa: E731
    keep = {r: F.conv_transpose2d(m, ones(r), stride=(1, r)) for r in rates}  # [1, 1, 1, r L]
    # kernel r + 1 at stride r: step j sees frames floor(j / r) and (j - 1) / r when r divides j - 1 + 1
    post = torch.clamp(F.conv_transpose2d(m, ones(post_rate + 1), stride=(1, post_rate)), max=1.0)
    return keep, post


def _conv(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """An upstream nn.Conv1d / nn.ConvTranspose1d applied to x [B, C, L], or to x [B, C, 1, L] as
    the same convolution with a (1, k) kernel.

    Why 4-D: litert-torch's layout pass moves only 4-D tensors to channels-last (NHWC). In 3-D,
    every mask or per-channel multiply between two convs forced a TRANSPOSE pair around each conv
    (136 in the 128-frame vocoder, each a full copy of a [1, 128, 15361] tensor); in 4-D the
    whole generator runs channels-last with one TRANSPOSE at each end. Same products and sums.
    """
    if x.dim() == 3:
        return conv(x)
    weight = _folded_weight(conv)
    weight = weight.unsqueeze(2)  # [O, I, 1, k] (transposed: [I, O / groups, 1, k])
    if conv.padding_mode != "zeros":
        raise ValueError(f"{conv}: only zero padding is supported")
    kwargs = dict(stride=(1, conv.stride[0]), padding=(0, conv.padding[0]), dilation=(1, conv.dilation[0]),
                  groups=conv.groups)
    if isinstance(conv, nn.ConvTranspose1d):
        return F.conv_transpose2d(x, weight, conv.bias, output_padding=(0, conv.output_padding[0]), **kwargs)
    return F.conv2d(x, weight, conv.bias, **kwargs)


GENERATOR_CHUNK_FRAMES = 4
"""The generator's upsamplers and residual blocks run on time chunks of 4 frames (0.1 s) laid along the batch
axis: XNNPACK's dynamic-range int8 convolutions take one activation scale per batch element, so
each chunk gets its own instead of one for the whole utterance (fake-quantized in PyTorch on
held-out sentences: spectrogram correlation to fp32 0.99967 with 4-frame chunks vs 0.99804 with
one scale). The decoder's convolutions run one frame per batch element for the same reason.

Not the residual blocks after the last upsampler, at the output rate: the default keeps their
weights float16 (computed in float32, no activation scale to take) and they are where the
vocoder's workspace peaks. Whole, their full-size tensors all have one size; on chunks each conv's
input with its halo had its own (480 steps + 2 to 50), and XNNPACK's memory planner, which places
tensors largest first, left gaps between them (`python tests/benchmarks/workspace.py`)."""


def to_chunks(x: torch.Tensor, steps: int) -> torch.Tensor:
    """[1, C, 1, N] -> [K, C, 1, steps], K = ceil(N / steps): consecutive time chunks along the
    batch axis, zero-filled past N.

    The result passes through a depthwise 1x1 conv of weight 1 (exact): litert-torch's layout pass
    then keeps the chunked tensor channels-last, where the permute alone made every residual add
    of the chunked blocks run channels-first, with a full-size TRANSPOSE each side (123 in the
    64-frame vocoder instead of ~40, and 3x its arena)."""
    _, channels, _, n = x.shape
    k = -(-n // steps)
    x = F.pad(x, (0, k * steps - n))
    x = x.reshape(channels, k, steps).permute(1, 0, 2).unsqueeze(2)
    return F.conv2d(x, x.new_ones(channels, 1, 1, 1), groups=channels)


def from_chunks(xc: torch.Tensor, n: int) -> torch.Tensor:
    """The inverse of `to_chunks`: [K, C, 1, S] -> [1, C, 1, n]."""
    k, channels, _, steps = xc.shape
    return xc.squeeze(2).permute(1, 0, 2).reshape(1, channels, 1, k * steps)[..., :n]


def _folded_weight(conv: nn.Module) -> torch.Tensor:
    """A conv's weight, with its (old-API) weight norm applied if it has one."""
    return torch._weight_norm(conv.weight_v, conv.weight_g, 0) if hasattr(conv, "weight_g") else conv.weight


def _with_halo(xc: torch.Tensor, pad: int) -> torch.Tensor:
    """Chunks [K, C, 1, S] -> [K, C, 1, S + 2 pad]: each with the previous chunk's last `pad` steps
    in front and the next chunk's first `pad` steps behind (zeros at the ends)."""
    steps = xc.shape[-1]
    zero = xc.new_zeros(1, xc.shape[1], 1, pad)
    # The edge steps are cut out first, then the chunks: litert-torch lowers each index to its
    # own SLICE, and cut the other way round the first one copied 23 of the 24 whole chunks.
    left = torch.cat([zero, xc[..., steps - pad :][:-1]], dim=0)
    right = torch.cat([xc[..., :pad][1:], zero], dim=0)
    return torch.cat([left, xc, right], dim=-1)


def _conv_chunked(conv: nn.Module, xc: torch.Tensor) -> torch.Tensor:
    """A stride-1, 'same'-padded nn.Conv1d over a chunked utterance [K, C, 1, S] -> [K, O, 1, S].

    Each chunk gets the neighbouring chunks' edge steps as its halo (zeros at the ends, as the
    conv's own zero padding), then the conv runs unpadded: exactly the conv of the whole
    utterance, computed chunk by chunk.
    """
    k, d, pad = conv.kernel_size[0], conv.dilation[0], conv.padding[0]
    if conv.stride[0] != 1 or pad != d * (k - 1) // 2:
        raise ValueError(f"{conv}: only stride-1 'same' convolutions run chunked")
    steps = xc.shape[-1]
    if pad > steps:
        raise ValueError(f"{conv}: a halo of {pad} steps needs chunks of at least {pad} steps, got {steps}")
    weight = _folded_weight(conv)
    if pad:
        xc = _with_halo(xc, pad)  # [K, C, 1, S + 2 pad]
    return F.conv2d(xc, weight.unsqueeze(2), conv.bias, dilation=(1, d), groups=conv.groups)


def _upsample_chunked(conv: nn.ConvTranspose1d, x: torch.Tensor, steps: int, n: int,
                      reflect: bool = False) -> torch.Tensor:
    """A generator upsampler (nn.ConvTranspose1d, stride r) over x [1, C, 1, N], straight into the
    chunked layout of the residual blocks after it: `to_chunks(up, steps)` where up is the
    upsampled utterance [1, O, 1, r N] (reflect: with upstream's ReflectionPad1d((1, 0)) in front,
    r N + 1 steps), n its length, K = ceil(n / steps) chunks.

    Why: the upsamplers' dynamic-range int8 then takes one activation scale per chunk, as the
    residual convs do (one per utterance measured spectrogram min 0.9971). Each output chunk needs
    the input chunk under it plus one input step each side (kernel <= 2 r + padding here, checked),
    so every input chunk gets its neighbours' edge steps, the conv runs unpadded and the chunk's
    own steps are cut out of its result: on the real steps, exactly the conv of the whole
    utterance. Past the end of x the chunks hold the bias (and edge sums), as up's padded steps
    hold values too; the masks downstream zero them.
    """
    rate, kernel, pad, shift = conv.stride[0], conv.kernel_size[0], conv.padding[0], int(reflect)
    if steps % rate or conv.dilation[0] != 1 or conv.groups != 1 or conv.output_padding[0]:
        raise ValueError(f"{conv}: only a plain stride-{rate} transposed conv over chunks of whole input steps")
    step_in = steps // rate
    # Output step j (of up, before the reflection) reads input steps i with i r - pad <= j <= i r - pad + kernel - 1.
    left = (kernel - 1 - pad + shift) // rate  # input steps before the chunk's first that it needs
    right = (pad - shift - 1) // rate + 1  # and after its last
    if (left, right) != (1, 1) or step_in < 1:
        raise ValueError(f"{conv}: expected a one-step halo each side, got {left} and {right}")
    chunks = -(-n // steps)
    x = F.pad(x, (0, chunks * step_in - x.shape[-1]))
    xc = to_chunks(x, step_in)  # [K, C, 1, step_in]
    xc = _with_halo(xc, 1)  # [K, C, 1, step_in + 2]
    weight = _folded_weight(conv)
    y = F.conv_transpose2d(xc, weight.unsqueeze(2), conv.bias, stride=(1, rate))  # [K, O, 1, (step_in + 1) r + kernel]
    start = rate + pad - shift  # output 0 of the unpadded transposed conv is up step -rate - pad
    y = y[..., start : start + steps]  # [K, O, 1, steps]: up steps k steps - shift ...
    if reflect:  # up step -1 is up step 1 mirrored: chunk 0's step 0 takes its step 2
        first = torch.cat([y[:1, ..., 2:3], y[:1, ..., 1:]], dim=-1)
        y = torch.cat([first, y[1:]], dim=0)
    return y


def _conv_per_frame(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """`_conv` with every step its own batch element (per-step int8 scales; see GENERATOR_CHUNK_FRAMES)."""
    return from_chunks(_conv_chunked(conv, to_chunks(x, 1)), x.shape[-1])


def _snake_of_scaled(z: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Snake1D of x given z = alpha * x: upstream's x + 1/a * sin(a x)^2 is (z + sin(z)^2) / a;
    alpha [1, C, 1] broadcast to z's rank."""
    alpha = alpha.view(1, -1, *(1,) * (z.dim() - 2))
    return (z + torch.sin(z) ** 2) * (1 / alpha)


def _upsample_nearest2(x: torch.Tensor) -> torch.Tensor:
    """Nearest x2 along the last axis (upstream UpSample1d's F.interpolate), for any rank.

    As x interleaved with itself (`blocks.interleave`, at most 4-D for the GPU delegate): `expand`
    would lower to BROADCAST_TO, which XNNPACK does not run.
    """
    return interleave(x, x)


def fold_weight_norm(module: nn.Module) -> nn.Module:
    """Remove every (old-API) weight_norm hook under `module`, storing the folded weight.

    The folded weight is what the hook computes on every forward (`torch._weight_norm(v, g, 0)`),
    so outputs are unchanged; the converter then sees plain constant weights. Parameter names
    change (`weight_g`/`weight_v` -> `weight`): do this on the copy being converted only.
    """
    from torch.nn.utils import remove_weight_norm
    from torch.nn.utils.weight_norm import WeightNorm

    for sub in module.modules():
        # DepthwiseUpsample1d keeps weight_g / weight_v without a hook (it folds in forward).
        if any(isinstance(h, WeightNorm) for h in sub._forward_pre_hooks.values()):
            remove_weight_norm(sub)
    return module


# --- upstream blocks, re-stated with masks ----------------------------------------------------------


def adain_resblk(block: nn.Module, x: torch.Tensor, s: torch.Tensor, keep_in: torch.Tensor,
                 keep_out: torch.Tensor) -> torch.Tensor:
    """istftnet.AdainResBlk1d.forward with masks (keep_in at x's rate, keep_out after `pool`);
    x is [B, C, L], or [B, C, 1, L] for the channels-last graph (see `_conv`).

    Same ops as upstream; the upsampling `pool` (DepthwiseUpsample1d after swap_blocks) leaves its
    bias on padded frames, so its output is zeroed past 2 n before conv1.
    """
    assert isinstance(block.norm1, MaskedAdaIN1d), "call swap_blocks first"
    r = block.norm1(x, s, keep_in)  # zero on padding
    r = block.actv(r)  # LeakyReLU(0.2)(0) = 0
    if block.upsample_type != "none":
        r = _zero_pad(block.pool(r), keep_out)  # [.., 2L]
    conv = _conv_per_frame if x.dim() == 4 else _conv  # 4-D: the vocoder's decoder
    r = conv(block.conv1, block.dropout(r))
    r = block.norm2(r, s, keep_out)
    r = block.actv(r)
    r = conv(block.conv2, block.dropout(r))
    if x.dim() == 3:
        shortcut = block._shortcut(x)  # upstream: nearest x2 and/or a 1x1 conv, pointwise
    else:
        shortcut = _upsample_nearest2(x) if block.upsample_type != "none" else x
        if block.learned_sc:
            shortcut = conv(block.conv1x1, shortcut)
    return (r + shortcut) * _RSQRT2


def adain_resblock1(block: nn.Module, x: torch.Tensor, s: torch.Tensor, keep: torch.Tensor,
                    chunked: bool = False, shared_input: bool = False) -> torch.Tensor:
    """istftnet.AdaINResBlock1.forward with a mask (MaskedAdaIN1d zeroes padding, Snake(0) = 0);
    chunked: x and keep are in `to_chunks` layout ([K, C, 1, S], [K, 1, 1, S]).

    Each Snake's alpha is folded into the norm before it (`_snake_of_scaled`): one pass over the
    full tensor fewer per Snake. shared_input: x is also the input of sibling blocks (the generator
    runs three on the same x), whose first norms share its x - mean with this one's; the first
    residual then adds x back as mean + (x - mean), so that x itself is not kept alive beside
    that shared tensor until the last sibling has run (one full-size tensor fewer at the vocoder's
    output rate, where its workspace peaks)."""
    conv = _conv_chunked if chunked else _conv
    for layer, (c1, c2, n1, n2, a1, a2) in enumerate(zip(block.convs1, block.convs2, block.adain1, block.adain2,
                                                         block.alpha1, block.alpha2)):
        z, deviation, mean = n1.normalize(x, s, keep, chunked, gain=a1)
        xt = conv(c1, _snake_of_scaled(z, a1))
        z, _, _ = n2.normalize(xt, s, keep, chunked, gain=a2)
        xt = conv(c2, _snake_of_scaled(z, a2))
        x = (xt + mean) + deviation if shared_input and layer == 0 else xt + x
    return x


def _copy(module: nn.Module) -> nn.Module:
    """copy.deepcopy for upstream modules using the old weight_norm hook, in eval mode.

    The hook keeps its last computed `weight` as a non-leaf tensor, which deepcopy refuses; the
    hook recomputes it from weight_g / weight_v on every forward, so a detached copy stands in.
    """
    memo = {}
    for sub in module.modules():
        if hasattr(sub, "weight_g") and isinstance(getattr(sub, "weight", None), torch.Tensor):
            memo[id(sub.weight)] = sub.weight.detach().clone()
    return copy.deepcopy(module, memo).eval()


def _swapped_copy(module: nn.Module) -> nn.Module:
    """A deep copy of an upstream submodule with the converter-hostile blocks swapped, in eval."""
    module = _copy(module)
    swap_blocks(module)
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def _hidden_dim(kmodel: nn.Module) -> int:
    """config.json hidden_dim (512 for Kokoro-82M): the channels of t_en and asr between the stages."""
    return kmodel.bert_encoder.out_features


# --- stage 1: tokens -> durations, duration features, text features ---------------------------------


class Predictor(nn.Module):
    """Stage 1 at a fixed T: PL-BERT + duration encoder + duration head, and the text encoder.

    Upstream (KModel.forward_with_tokens): bert -> bert_encoder -> predictor.text_encoder (d) ->
    predictor.lstm -> duration_proj -> sigmoid().sum(-1); text_encoder (t_en). Differences: the
    speed division, rounding and alignment move to the host; padding is masked (see module doc).

    Inputs: input_ids [1, T] int32 (0-padded), style [1, 256] (voice row), token_mask [1, T]
    float (1 on real tokens, boundary pads included).
    Outputs: durations [1, T] (sum of the 50 sigmoids, before speed and rounding; 0 on padding),
    d [1, T, 640] (duration-encoder features, upstream's `d`), t_en [1, 512, T] (text encoder).
    """

    def __init__(self, kmodel: nn.Module):
        super().__init__()
        self.hidden_dim = _hidden_dim(kmodel)
        self.bert = _copy(kmodel.bert)
        self.bert_encoder = _copy(kmodel.bert_encoder)
        self.duration_encoder = _swapped_copy(kmodel.predictor.text_encoder)  # DurationEncoder
        self.lstm = MaskedBiLSTM.from_lstm(kmodel.predictor.lstm).eval()
        self.duration_proj = _copy(kmodel.predictor.duration_proj)
        self.text_encoder = _swapped_copy(kmodel.text_encoder)

    def forward(self, input_ids: torch.Tensor, style: torch.Tensor, token_mask: torch.Tensor) -> dict:
        s = style[:, PROSODIC]  # [1, 128]
        bert_dur = self.bert(input_ids, attention_mask=(token_mask > 0).int())  # [1, T, 768]
        d_en = self.bert_encoder(bert_dur)  # [1, T, 512] (upstream transposes to [1, 512, T])
        d = self._duration_encoder(d_en, s, token_mask)  # [1, T, 640]
        x, _ = self.lstm(d, token_mask)  # [1, T, 512], zero on padding
        duration = torch.sigmoid(self.duration_proj(x)).sum(dim=-1)  # [1, T]
        duration = duration * token_mask  # padding would give sum(sigmoid(bias))
        t_en = self._text_encoder(input_ids, token_mask)  # [1, 512, T]
        return {"durations": duration, "d": d, "t_en": t_en}

    def _duration_encoder(self, x: torch.Tensor, s: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """modules.DurationEncoder.forward in [B, T, C] layout; MaskedBiLSTM instead of packing."""
        keep = mask.unsqueeze(-1)  # [B, T, 1] float 0/1
        style = s.unsqueeze(1).expand(-1, x.shape[1], -1)  # [B, T, 128]
        x = torch.cat([x, style], dim=-1) * keep  # [B, T, 640]
        for block in self.duration_encoder.lstms:
            if isinstance(block, MaskedBiLSTM):
                x, _ = block(x, mask)  # [B, T, 512], zero on padding (upstream's x_pad)
            else:  # AdaLayerNorm: normalises over channels per step, as upstream
                x = block(x, s)
                x = torch.cat([x, style], dim=-1) * keep  # [B, T, 640]
        return x

    def _text_encoder(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """modules.TextEncoder.forward; MaskedBiLSTM instead of packing."""
        te = self.text_encoder
        x = _zero_pad(te.embedding(input_ids).transpose(1, 2), mask)  # [B, 512, T]
        for c in te.cnn:
            x = _zero_pad(c(x), mask)
        x, _ = te.lstm(x.transpose(1, 2), mask)  # [B, T, 512], zero on padding
        return x.transpose(1, 2)  # [B, 512, T]


# --- stage 2: alignment -> frame-rate features, F0 and energy ---------------------------------------


class Prosody(nn.Module):
    """Stage 2 at fixed (T, L): expand to frames, predict F0 and N (ProsodyPredictor.F0Ntrain).

    Upstream: en = d^T @ aln; F0Ntrain(en, s) (the shared bi-LSTM run unpadded, AdainResBlk1d
    stacks, 1x1 projections); asr = t_en @ aln. Here the shared LSTM is masked over frames, AdaIN
    statistics are over real frames, and conv inputs are zeroed past the real length at L and 2L.

    Inputs: d [1, T, 640], t_en [1, 512, T], alignment [1, T, L] (one-hot columns on real frames,
    zero elsewhere), style [1, 256], frame_mask [1, L] float (1 on real frames).
    Outputs: asr [1, 512, L], f0 [1, 2L] (Hz), n [1, 2L]; zero past the real length.
    """

    def __init__(self, kmodel: nn.Module):
        super().__init__()
        self.hidden_dim = _hidden_dim(kmodel)
        pred = kmodel.predictor
        self.shared = MaskedBiLSTM.from_lstm(pred.shared).eval()
        self.F0 = _swapped_copy(pred.F0)
        self.N = _swapped_copy(pred.N)
        self.F0_proj = _copy(pred.F0_proj)
        self.N_proj = _copy(pred.N_proj)

    def forward(self, d: torch.Tensor, t_en: torch.Tensor, alignment: torch.Tensor, style: torch.Tensor,
                frame_mask: torch.Tensor) -> dict:
        s = style[:, PROSODIC]
        # rate -> [1, rate * L] validity mask
        keep = {1: frame_mask, F0_PER_FRAME: length_mask(frame_mask, F0_PER_FRAME)}
        en = d.transpose(-1, -2) @ alignment  # [1, 640, L], zero on padded frames
        x, _ = self.shared(en.transpose(-1, -2), frame_mask)  # [1, L, 512]
        x = x.transpose(-1, -2)  # [1, 512, L]
        f0 = self._branch(self.F0, x, s, keep)
        n = self._branch(self.N, x, s, keep)
        f0 = self.F0_proj(f0).squeeze(1) * keep[F0_PER_FRAME]  # [1, 2L]
        n = self.N_proj(n).squeeze(1) * keep[F0_PER_FRAME]  # [1, 2L]
        asr = t_en @ alignment  # [1, 512, L]
        return {"asr": asr, "f0": f0, "n": n}

    @staticmethod
    def _branch(blocks: nn.ModuleList, x: torch.Tensor, s: torch.Tensor, keep: dict) -> torch.Tensor:
        rate = 1
        for block in blocks:
            out_rate = rate * 2 if block.upsample_type != "none" else rate
            x = adain_resblk(block, x, s, keep[rate], keep[out_rate])
            rate = out_rate
        return x


# --- stage 3: frame features + harmonic source spectrum -> magnitude and phase ----------------------


class Vocoder(nn.Module):
    """Stage 3 at a fixed L: istftnet.Decoder + Generator up to (not including) the iSTFT.

    Upstream Decoder.forward then Generator.forward with the harmonic source computed outside
    (host: sine source + STFT, passed in as `har`), and the final `stft.inverse` left to the host:
    the outputs are `exp(conv_post[:11])` and `sin(conv_post[11:])` exactly as Generator.forward
    builds them. Conv inputs are zeroed past the real length at every rate (L, 2L, 20L, 120L + 1),
    AdaIN statistics are over real frames.

    Inputs: asr [1, 512, L], f0 [1, 2L], n [1, 2L], style [1, 256] (the decoder uses [:, :128]),
    har [1, 22, 120L + 1] (zero past 120 n + 1), frame_mask [1, L].
    Outputs: magnitude, phase [1, 11, 120L + 1], zero past 120 n + 1 frames.
    """

    def __init__(self, kmodel: nn.Module):
        super().__init__()
        self.hidden_dim = _hidden_dim(kmodel)
        dec = kmodel.decoder
        self.decoder = _swapped_copy(nn.ModuleDict({
            "encode": dec.encode, "decode": dec.decode, "F0_conv": dec.F0_conv, "N_conv": dec.N_conv,
            "asr_res": dec.asr_res,
        }))
        gen = dec.generator
        self.generator = _swapped_copy(nn.ModuleDict({
            "noise_convs": gen.noise_convs, "noise_res": gen.noise_res, "ups": gen.ups,
            "resblocks": gen.resblocks, "conv_post": gen.conv_post, "reflection_pad": gen.reflection_pad,
        }))
        self.num_kernels = gen.num_kernels
        self.num_upsamples = gen.num_upsamples
        self.post_n_fft = gen.post_n_fft
        self.upsample_rates = [int(u.stride[0]) for u in gen.ups]
        assert 2 * self.upsample_rates[0] * self.upsample_rates[1] == STFT_FRAMES_PER_FRAME

    def forward(self, asr: torch.Tensor, f0: torch.Tensor, n: torch.Tensor, style: torch.Tensor,
                har: torch.Tensor, frame_mask: torch.Tensor) -> dict:
        dec = self.decoder
        s = style[:, ACOUSTIC]
        # Generator steps per alignment frame: decode.3 x2, ups.0 x10, ups.1 x6 (+1: reflection pad).
        keep, keep_post = channels_last_masks(frame_mask, (1, 2, 2 * self.upsample_rates[0]), STFT_FRAMES_PER_FRAME)
        # Every tensor from here on is [1, C, 1, steps]: channels-last in the graph (see _conv).
        asr = asr.unsqueeze(2)  # [1, 512, 1, L]

        # Decoder.forward
        F0 = _conv(dec["F0_conv"], _zero_pad(f0.view(1, 1, 1, -1), keep[2]))  # [1, 1, 1, L]
        N = _conv(dec["N_conv"], _zero_pad(n.view(1, 1, 1, -1), keep[2]))  # [1, 1, 1, L]
        x = torch.cat([asr, F0, N], dim=1)  # [1, 514, 1, L]
        x = adain_resblk(dec["encode"], x, s, keep[1], keep[1])
        asr_res = _conv(dec["asr_res"][0], asr)  # [1, 64, 1, L] (upstream: a Sequential of one conv)
        rate, res = 1, True
        for block in dec["decode"]:
            if res:
                x = torch.cat([x, asr_res, F0, N], dim=1)  # [1, 1090, 1, L]
            out_rate = rate * 2 if block.upsample_type != "none" else rate
            x = adain_resblk(block, x, s, keep[rate], keep[out_rate])
            if block.upsample_type != "none":
                res = False
            rate = out_rate
        # Generator.forward from `har` on (rate 2 here)
        mag, phase = self._generator(x, s, _zero_pad(har.unsqueeze(2), keep_post), keep, keep_post)
        return {"magnitude": mag.squeeze(2), "phase": phase.squeeze(2)}

    def _generator(self, x, s, har, keep, keep_post):
        gen = self.generator
        # The upsamplers, the noise branches and (but at the output rate) the residual blocks run on
        # time chunks (see GENERATOR_CHUNK_FRAMES); everything else on the whole utterance.
        levels = []  # per upsampler: its output's rate, mask, chunk steps and chunked mask
        rate = 2
        for i in range(self.num_upsamples):
            rate = rate * self.upsample_rates[i]
            keep_new = keep_post if i == self.num_upsamples - 1 else keep[rate]
            steps = GENERATOR_CHUNK_FRAMES * rate
            levels.append((rate, keep_new, steps, to_chunks(keep_new, steps)))
        # The noise branches read har and the style only. The output rate's goes first, while the
        # generator holds nothing else: with the upsampler's 10 MB input beside its chunked convs,
        # XNNPACK's arena for 512 frames was 3 MB larger.
        sources = {}
        for i in reversed(range(self.num_upsamples)):
            _, _, steps, keep_c = levels[i]
            x_source = to_chunks(_conv(gen["noise_convs"][i], har), steps)
            sources[i] = adain_resblock1(gen["noise_res"][i], x_source, s, keep_c, chunked=True)
        rate = 2
        for i, (out_rate, keep_new, steps, keep_c) in enumerate(levels):
            x = _zero_pad(F.leaky_relu(x, negative_slope=0.1), keep[rate])  # ups[i] input
            last = i == self.num_upsamples - 1
            rate, n = out_rate, keep_new.shape[-1]
            # last: upstream's ReflectionPad1d((1, 0)) after the upsampler, one step in front
            x = _upsample_chunked(gen["ups"][i], x, steps, n, reflect=last) + sources.pop(i)
            if last:
                x, keep_c = from_chunks(x, n), keep_new
            xs = None
            for j in range(self.num_kernels):
                y = adain_resblock1(gen["resblocks"][i * self.num_kernels + j], x, s, keep_c, chunked=not last,
                                    shared_input=self.num_kernels > 1)
                xs = y if xs is None else xs + y
            x = xs / self.num_kernels
            if not last:
                x = from_chunks(x, n)
        x = _zero_pad(F.leaky_relu(x), keep_post)  # conv_post input
        x = _conv(gen["conv_post"], x)  # [1, 22, 1, 120L + 1]
        bins = self.post_n_fft // 2 + 1
        spec = _zero_pad(torch.exp(x[:, :bins]), keep_post)
        phase = _zero_pad(torch.sin(x[:, bins:]), keep_post)
        return spec, phase


def build_stages(kmodel: nn.Module) -> tuple[Predictor, Prosody, Vocoder]:
    """The three stages from a loaded upstream KModel (its submodules are copied, not shared)."""
    return Predictor(kmodel).eval(), Prosody(kmodel).eval(), Vocoder(kmodel).eval()
