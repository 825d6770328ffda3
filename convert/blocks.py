"""Converter-friendly drop-ins for the Kokoro blocks litert-torch cannot convert as written.

Adapted from hexgrad/kokoro 0.9.4 (`kokoro/modules.py`, `kokoro/istftnet.py`), itself adapted from
yl4579/StyleTTS2. Each block keeps the parameter names of the module it replaces, so
`block.load_state_dict(upstream.state_dict(), strict=True)` round-trips and a checkpoint loads into a
swapped tree unchanged.

The bundles run at fixed shapes (one bucket of T tokens or L frames per signature) while the real
length varies per utterance. Upstream gets its length-dependence from `pack_padded_sequence` (does
not export) and from running on unpadded tensors (instance-norm statistics over exactly the real
frames). The masked blocks take a validity mask instead:

    mask: [B, T] float (or int/bool), 1 on real steps, 0 on padding; real steps form a prefix.

Note the polarity: upstream's `m` (`text_mask`) is True on PADDING; pass `(~m).float()`.

| upstream                                                    | here                  | numerics            |
|-------------------------------------------------------------|-----------------------|---------------------|
| `nn.LSTM(C, H, batch_first=True, bidirectional=True)`       | `MaskedBiLSTM`        | float reassociation |
|   + pack_padded_sequence / pad_packed_sequence              |                       |   (~1e-6)           |
| `istftnet.AdaIN1d` (InstanceNorm1d over time + style affine)| `MaskedAdaIN1d`       | float reassociation |
| `AdainResBlk1d.pool`: weight_norm(ConvTranspose1d(C, C, 3,  | `DepthwiseUpsample1d` | float reassociation |
|   stride=2, padding=1, output_padding=1, groups=C))         |                       |   (1-2 ulp)         |

Which norms need masking: only `AdaIN1d` normalises over time. `modules.LayerNorm` and
`modules.AdaLayerNorm` normalise over channels, one frame at a time, so padding never reaches a
real frame's statistics: they convert and stay as upstream wrote them.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .tfl_ops import sequence_lstm

__all__ = ["MaskedBiLSTM", "MaskedAdaIN1d", "DepthwiseUpsample1d", "interleave", "swap_blocks"]


def _weights(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A validity mask ([B, T]: bool, or float 0/1 with 1 = real step) as 0/1 weights of `dtype`.

    Padding is zeroed by multiplying with these weights rather than `torch.where`: both are exact
    for finite values (x * 1 = x, x * 0 = 0), and litert-torch lowers `where` to SELECT_V2, which
    XNNPACK does not take, so each one split the graph into another delegate partition.
    The host feeds zeros past the real length, so padding values stay finite.
    """
    return mask.to(dtype)


class MaskedBiLSTM(nn.Module):
    """One-layer bidirectional LSTM with packed-sequence semantics over a fixed-length input.

    Re-authors `nn.LSTM(input_size, hidden_size, 1, batch_first=True, bidirectional=True)` as
    run by upstream through `pack_padded_sequence` -> LSTM -> `pad_packed_sequence` (TextEncoder,
    DurationEncoder, ProsodyPredictor.lstm) or directly on the unpadded input
    (ProsodyPredictor.shared in `F0Ntrain`).

    Why: `pack_padded_sequence` does not export, and a plain LSTM over a padded bucket lets the
    padding leak into the backward direction of every real step. Each direction is one
    `sequence_lstm` op (a TFLite WHILE loop over the real steps, see convert/tfl_ops.py), so the
    graph does not grow with the bucket length: the input projection `x @ W_ih^T + b_ih + b_hh`
    is one matmul over all steps, and the loop runs the recurrence over the first n steps only,
    forward (t = 0..n-1) and backward (t = n-1..0) from the zero state, exactly as packing gives.
    Padded steps are never computed and their outputs are zero, as `pad_packed_sequence` gives.
    n is the mask's sum (the mask is 1 on a prefix).

    Numerics: nn.LSTM's float32 operations with b_hh folded into the input projection: differences
    to `nn.LSTM` are a few 1e-7 (eager) and ~1e-6 (.tflite, XNNPACK's summation order). The final states (h_n, c_n) are not computed (the op returns outputs
    only; Kokoro discards them): the second value returned is None.

    Parameters keep `nn.LSTM`'s names (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`,
    `bias_hh_l0` and their `_reverse` twins; gate order i, f, g, o).
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        gates = 4 * hidden_size
        for suffix in ("", "_reverse"):
            self.register_parameter(f"weight_ih_l0{suffix}", nn.Parameter(torch.empty(gates, input_size)))
            self.register_parameter(f"weight_hh_l0{suffix}", nn.Parameter(torch.empty(gates, hidden_size)))
            self.register_parameter(f"bias_ih_l0{suffix}", nn.Parameter(torch.empty(gates)))
            self.register_parameter(f"bias_hh_l0{suffix}", nn.Parameter(torch.empty(gates)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nn.LSTM's initialisation: U(-1/sqrt(H), 1/sqrt(H)) for every tensor."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    @classmethod
    def from_lstm(cls, lstm: nn.LSTM) -> "MaskedBiLSTM":
        """A MaskedBiLSTM holding a copy of `lstm`'s weights (checks the configuration first)."""
        unsupported = []
        if not lstm.bidirectional:
            unsupported.append("bidirectional=False")
        if lstm.num_layers != 1:
            unsupported.append(f"num_layers={lstm.num_layers}")
        if not lstm.batch_first:
            unsupported.append("batch_first=False")
        if not lstm.bias:
            unsupported.append("bias=False")
        if lstm.proj_size:
            unsupported.append(f"proj_size={lstm.proj_size}")
        if unsupported:
            raise ValueError(
                f"MaskedBiLSTM replaces only nn.LSTM(batch_first=True, bidirectional=True, num_layers=1, "
                f"bias=True); got {', '.join(unsupported)}. Keep that LSTM or extend MaskedBiLSTM."
            )
        block = cls(lstm.input_size, lstm.hidden_size)
        block.load_state_dict(lstm.state_dict(), strict=True)
        return block.to(lstm.weight_ih_l0.device)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
        """x: [B, T, C]; mask: [B, T] (1 real, 0 padding, a prefix; None = all real).

        Returns (output [B, T, 2H], None): nn.LSTM's output; see the class doc for the states.
        """
        if isinstance(x, nn.utils.rnn.PackedSequence):
            raise TypeError(
                "MaskedBiLSTM takes a padded [B, T, C] tensor and a [B, T] validity mask, not a "
                "PackedSequence: call it as block(x, mask) instead of packing."
            )
        steps = x.shape[1]
        if mask is None:
            length = torch.full((x.shape[0],), steps, dtype=torch.int32, device=x.device)
        else:
            length = _weights(mask, x.dtype).sum(dim=-1).to(torch.int32)  # [B] real steps (a prefix)
        xw_fwd = F.linear(x, self.weight_ih_l0, self.bias_ih_l0 + self.bias_hh_l0)  # [B, T, 4H], hoisted
        xw_bwd = F.linear(x, self.weight_ih_l0_reverse, self.bias_ih_l0_reverse + self.bias_hh_l0_reverse)
        fwd = sequence_lstm(xw_fwd, self.weight_hh_l0, length, False)  # [B, T, H], zero past length
        bwd = sequence_lstm(xw_bwd, self.weight_hh_l0_reverse, length, True)
        return torch.cat([fwd, bwd], dim=-1), None


class MaskedAdaIN1d(nn.Module):
    """Style-conditioned instance norm over the real frames of a fixed-length input.

    Re-authors `istftnet.AdaIN1d` (used by every AdainResBlk1d of the prosody predictor and the
    decoder, and every AdaINResBlock1 of the generator):
    `(1 + gamma) * InstanceNorm1d(x) + beta` with `gamma, beta = fc(s).chunk(2)`.

    Why: instance-norm statistics are taken over the whole time axis, so in a fixed-length bucket
    the padded frames would change every real frame's mean and variance. With a mask, mean and
    (biased) variance are taken over the real frames only, as upstream computes them on the
    unpadded input, and the output is exactly zero on padded frames, so a following zero-padded
    conv sees what upstream's conv padding gives it. Without a mask the block runs upstream's
    code path unchanged.

    Numerics: two-pass masked mean/variance, each term scaled by 1/sqrt(count) before the sums (so
    they stay as small as the statistics: float16-safe on a GPU), and the normalization and affine
    folded into one scale and shift per channel (`rsqrt(var + eps) * (1 + gamma) * norm.weight`,
    `(1 + gamma) * norm.bias + beta`): float reassociation,
    a few 1e-6 relative to upstream on the real frames (about upstream's own distance to a
    float64 evaluation). A single real frame gives variance 0 and the output
    `(1 + gamma) * norm.bias + beta` (upstream's InstanceNorm1d raises on a 1-frame input).

    Parameters keep AdaIN1d's names: `norm.weight`, `norm.bias` (InstanceNorm1d(affine=True), an
    affine applied here as upstream applies it), `fc.weight`, `fc.bias`.
    """

    def __init__(self, style_dim: int, num_features: int):
        super().__init__()
        # affine=True as upstream (see its comment: an old torch.onnx workaround), eps 1e-5.
        self.norm = nn.InstanceNorm1d(num_features, affine=True)
        self.fc = nn.Linear(style_dim, num_features * 2)

    @classmethod
    def from_adain(cls, adain: nn.Module) -> "MaskedAdaIN1d":
        """A MaskedAdaIN1d holding a copy of an upstream `istftnet.AdaIN1d`'s weights."""
        norm = adain.norm
        if not norm.affine or norm.track_running_stats:
            raise ValueError(
                "MaskedAdaIN1d expects AdaIN1d's InstanceNorm1d(affine=True, track_running_stats=False); "
                f"got affine={norm.affine}, track_running_stats={norm.track_running_stats}."
            )
        block = cls(adain.fc.in_features, norm.num_features)
        block.norm.eps = norm.eps
        block.load_state_dict(adain.state_dict(), strict=True)
        return block.to(adain.fc.weight.device)

    def forward(self, x: torch.Tensor, s: torch.Tensor, mask: torch.Tensor | None = None,
                chunked: bool = False) -> torch.Tensor:
        """x: [B, C, L], or [B, C, 1, L] (the vocoder's channels-last view, see stages._conv);
        s: [B, style_dim]; mask: [B, L] (1 real, 0 padding; None = all real), or for a 4-D x
        already shaped [B, 1, 1, L].

        chunked: x is one utterance cut into K time chunks along the batch axis ([K, C, 1, S],
        mask [K, 1, 1, S], s [1, style_dim], see stages.to_chunks): statistics are taken over
        chunks and steps together, i.e. over the whole utterance, as without chunks."""
        if mask is None:
            if x.dim() != 3:
                raise ValueError("MaskedAdaIN1d without a mask runs upstream's InstanceNorm1d: pass [B, C, L]")
            gamma, beta = self._style(s, x.dim())
            return (1 + gamma) * self.norm(x) + beta  # upstream AdaIN1d.forward
        return self.normalize(x, s, mask, chunked)[0]

    def normalize(self, x: torch.Tensor, s: torch.Tensor, mask: torch.Tensor, chunked: bool = False,
                  gain: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The masked forward, with what it computed on the way: (output, x - mean, mean).

        gain: a per-channel factor ([C] or [1, C, 1]) folded into the output's scale and shift, so
        `gain * forward(...)` costs no pass over the full tensor (a following Snake's alpha).
        x - mean is not masked (the output's mask zeroes padding); x - mean + mean is x on real
        steps to within a rounding, which lets a caller drop x once it has these (stages.adain_resblock1)."""
        trailing = (1,) * (x.dim() - 2)
        gamma, beta = self._style(s, x.dim())
        scale = _weights(mask, x.dtype)
        if scale.dim() != x.dim():
            scale = scale.view(mask.shape[0], *trailing, mask.shape[-1])  # [B, 1(, 1), L]
        dims = (0, -1) if chunked else -1  # time: the last axis (and the chunks, when chunked)
        count = scale.sum(dim=dims, keepdim=True).clamp(min=1.0)  # [B, 1(, 1), 1]; clamp: empty mask -> 0 out
        # Every term is scaled by 1/sqrt(count) before it is summed, so no sum exceeds the mean or
        # the variance themselves: a GPU computing in float16 (max 65504) overflowed the plain sums
        # (sum of x * x reached 4.6e5 at 57 frames) and its norms collapsed to their shift.
        root = torch.rsqrt(count)
        weight = scale * root  # [B, 1(, 1), L]: 1/sqrt(count) on real steps, 0 on padding
        mean = ((x * weight) * weight).sum(dim=dims, keepdim=True)  # [B, C(, 1), 1]
        deviation = x - mean
        spread = deviation * weight  # 0 on padding
        var = (spread * spread).sum(dim=dims, keepdim=True)  # biased, as InstanceNorm
        # Per-channel scale and shift first, then one multiply-add chain over the full tensor.
        a = torch.rsqrt(var + self.norm.eps) * ((1 + gamma) * self.norm.weight.view(1, -1, *trailing))
        c = (1 + gamma) * self.norm.bias.view(1, -1, *trailing) + beta
        if gain is not None:
            gain = gain.reshape(1, -1, *trailing)
            a, c = a * gain, c * gain
        return (deviation * a + c) * scale, deviation, mean

    def _style(self, s: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
        """gamma, beta: [B, C, 1(, 1)] each, from the style vector."""
        if rank == 4:
            # The style affine as a 1x1 conv: litert-torch's layout pass then keeps gamma and beta
            # channels-last like x, instead of transposing x around every multiply with them.
            h = F.conv2d(s.view(*s.shape, 1, 1), self.fc.weight.view(*self.fc.weight.shape, 1, 1), self.fc.bias)
        else:
            h = self.fc(s).unsqueeze(-1)  # [B, 2C, 1]
        gamma, beta = torch.chunk(h, chunks=2, dim=1)
        return gamma, beta


class DepthwiseUpsample1d(nn.Module):
    """Exact replacement for `AdainResBlk1d.pool`, Kokoro's depthwise x2 transposed-conv upsampler.

    Re-authors `weight_norm(nn.ConvTranspose1d(C, C, 3, stride=2, padding=1, output_padding=1,
    groups=C))`: [B, C, L] -> [B, C, 2L].

    Why: litert-torch 0.10 lowers this grouped transposed conv WITHOUT error to a wrong graph
    (a RESIZE_BILINEAR pattern; max abs error ~5 on random input). Written out, output j takes
    inputs i with 2i - 1 + k = j, so the op is two interleaved depthwise filters (polyphase form):

        y[2m]     = w[1] * x[m]                  + b
        y[2m + 1] = w[2] * x[m] + w[0] * x[m+1]  + b      (x[L] = 0)

    computed with MUL/ADD/PAD/SLICE and interleaved by concatenation + reshape (`interleave`).
    Measured on this box with C=1090, L=1024 (decode.3's shape), XNNPACK 2 threads: polyphase 8.8 ms, 20 KB;
    zero-insertion + depthwise Conv1d 11.1 ms (exact too, two extra TRANSPOSEs); transposed conv
    with padding 0 then slice 49 ms, 530 KB (exact, dense TRANSPOSE_CONV); PyTorch eager 33 ms.

    Numerics: the same products summed in another order (1-2 ulp). Input frames past the real
    length must be zero for y[2L-1] to match upstream's real-length run (upstream has no x[L]);
    outputs past 2L hold the bias, as any conv's padding frames would.

    Parameters keep the weight-normed names `weight_g` [C, 1, 1], `weight_v` [C, 1, 3] and `bias`
    [C]; the weight is rebuilt as upstream's hook does (`torch._weight_norm(v, g, 0)`), which the
    converter folds to a constant (no norm ops in the graph). A module whose weight norm was
    removed (`weight` [C, 1, 3]) is loaded with `weight_norm=False`.
    """

    def __init__(self, channels: int, weight_norm: bool = True):
        super().__init__()
        self.channels = channels
        self.weight_norm = weight_norm
        # bias first: weight_norm (and remove_weight_norm) re-register the weight after it upstream.
        self.bias = nn.Parameter(torch.zeros(channels))
        if weight_norm:
            self.weight_g = nn.Parameter(torch.ones(channels, 1, 1))
            self.weight_v = nn.Parameter(torch.randn(channels, 1, 3) / math.sqrt(3))
        else:
            self.weight = nn.Parameter(torch.randn(channels, 1, 3) / math.sqrt(3))

    @classmethod
    def from_conv_transpose(cls, conv: nn.ConvTranspose1d) -> "DepthwiseUpsample1d":
        """A DepthwiseUpsample1d holding a copy of a (weight-normed or plain) upstream `pool`."""
        if not cls.matches(conv):
            raise ValueError(
                "DepthwiseUpsample1d replaces only ConvTranspose1d(C, C, 3, stride=2, padding=1, "
                f"output_padding=1, groups=C, bias=True); got {conv}."
            )
        if nn.utils.parametrize.is_parametrized(conv):
            raise ValueError(
                "DepthwiseUpsample1d loads upstream's torch.nn.utils.weight_norm (weight_g / weight_v) "
                "or a plain weight; this conv uses parametrizations: remove them first "
                "(torch.nn.utils.parametrize.remove_parametrizations(conv, 'weight'))."
            )
        weight_norm = hasattr(conv, "weight_g")
        block = cls(conv.in_channels, weight_norm=weight_norm)
        block.load_state_dict(conv.state_dict(), strict=True)
        return block.to(conv.bias.device)

    @staticmethod
    def matches(conv: nn.Module) -> bool:
        """Whether `conv` is the depthwise k3/s2/p1/op1 transposed conv this block replaces."""
        return (
            isinstance(conv, nn.ConvTranspose1d)
            and conv.in_channels == conv.out_channels == conv.groups
            and conv.kernel_size == (3,)
            and conv.stride == (2,)
            and conv.padding == (1,)
            and conv.output_padding == (1,)
            and conv.dilation == (1,)
            and conv.bias is not None
            and conv.padding_mode == "zeros"
        )

    def folded_weight(self) -> torch.Tensor:
        """The effective ConvTranspose1d weight [C, 1, 3] (what upstream's weight-norm hook builds)."""
        if self.weight_norm:
            return torch._weight_norm(self.weight_v, self.weight_g, 0)
        return self.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, C, L] -> [B, C, 2L] (or [B, C, 1, L] -> [B, C, 1, 2L])."""
        trailing = (1,) * (x.dim() - 2)
        w = self.folded_weight()[:, 0, :]  # [C, 3]
        w0, w1, w2 = (w[:, k].view(-1, *trailing) for k in range(3))  # [C, 1(, 1)]
        b = self.bias.view(-1, *trailing)
        x_next = F.pad(x[..., 1:], (0, 1))  # x[m+1], zero past the end
        even = x * w1 + b
        odd = x * w2 + x_next * w0 + b
        return interleave(even, odd)  # [..., 2L]


def interleave(even: torch.Tensor, odd: torch.Tensor) -> torch.Tensor:
    """[..., L] twice -> [..., 2L] with even[..., m] at 2m and odd[..., m] at 2m + 1 (exact: data
    movement only).

    A 4-D [B, C, 1, L] pair (the vocoder's channels-last graph) goes through [B, C, 2, L] and a
    transpose, never a 5-D tensor: LiteRT's GPU delegate takes at most 4-D, and the stack below
    lowered to a 5-D RESHAPE / CONCATENATION that split the vocoder's graph (1,076 of 1,999 ops
    delegated). Other ranks keep the stack (at most 4-D there, and the prosody graph unchanged).
    """
    if even.dim() == 4 and even.shape[2] == 1:
        batch, channels, _, steps = even.shape
        pairs = torch.cat([even, odd], dim=2)  # [B, C, 2, L]
        return pairs.transpose(2, 3).reshape(batch, channels, 1, 2 * steps)
    return torch.stack([even, odd], dim=-1).flatten(-2)


def swap_blocks(module: nn.Module) -> list[str]:
    """Replace, in place, every converter-hostile block under `module`; return the swapped names.

    - `nn.LSTM` (1 layer, bidirectional, batch_first) -> `MaskedBiLSTM`
    - `kokoro.istftnet.AdaIN1d` -> `MaskedAdaIN1d`
    - depthwise `ConvTranspose1d(C, C, 3, 2, padding=1, output_padding=1)` (the `pool` of
      upsampling AdainResBlk1d; weight-normed or not) -> `DepthwiseUpsample1d`

    Weights are copied and parameter names kept, so `module.state_dict()` has the same keys and
    values before and after, and upstream forwards that call these children without a mask
    compute what they computed before (up to float reassociation). Upstream forwards that feed an
    LSTM a PackedSequence (TextEncoder, DurationEncoder, ProsodyPredictor.forward) must be
    re-written to pass the mask instead; MaskedBiLSTM raises a TypeError if packed.
    """
    from kokoro.istftnet import AdaIN1d  # the pinned reference; imported here to keep this module light

    swapped = []
    for parent_name, parent in list(module.named_modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.LSTM) and child.bidirectional:
                new = MaskedBiLSTM.from_lstm(child)
            elif isinstance(child, AdaIN1d):
                new = MaskedAdaIN1d.from_adain(child)
            elif DepthwiseUpsample1d.matches(child):
                new = DepthwiseUpsample1d.from_conv_transpose(child)
            else:
                continue
            new.train(child.training)
            setattr(parent, name, new)
            swapped.append(f"{parent_name}.{name}" if parent_name else name)
    return swapped
