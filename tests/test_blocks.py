"""Converter-friendly blocks (convert/blocks.py) vs the upstream kokoro 0.9.4 modules they replace.

Layer 1 (fast): each block vs upstream on seeded random weights, at every real length of a bucket.
Layer 2 (slow, `-m "not slow"` skips it): each block converted with litert-torch at a small fixed
size, the .tflite run at every real length vs PyTorch, and its op list pinned.

Op lists are read from the exported .tflite flatbuffer (`ai_edge_litert.tools.flatbuffer_utils`),
not from `Interpreter._get_ops_details()`, which after `allocate_tensors()` shows XNNPACK's
partition as a DELEGATE node and hides a custom op's name; the flatbuffer keeps every operator
code, custom ones (Flex*) with their `customCode`.

Tolerances: every comparison states its own, with the reason, next to it.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn as nn
from kokoro.istftnet import AdaIN1d, AdainResBlk1d, Decoder
from kokoro.modules import ProsodyPredictor

from kokoro_litert.buckets import ISTFT_HOP, ISTFT_N_FFT, STYLE_DIM, UPSAMPLE_RATES
from kokoro_litert.convert.blocks import DepthwiseUpsample1d, MaskedAdaIN1d, MaskedBiLSTM, interleave, swap_blocks
from kokoro_litert.convert.tfl_ops import expand_sequence_lstms, register_lowering
from support.parity import tflite_ops

# Upstream's own construction warnings (old weight_norm API, dropout on a 1-layer LSTM).
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*weight_norm.*is deprecated:FutureWarning"),
    pytest.mark.filterwarnings("ignore:dropout option adds dropout:UserWarning"),
]

# --- Kokoro-82M v1.0 dimensions (config.json) ----------------------------------------------------
HIDDEN_DIM = 512  # config.json hidden_dim
STYLE_HALF = STYLE_DIM // 2  # 128: each of the predictor and the decoder gets half a voice row
LSTM_IN = HIDDEN_DIM + STYLE_HALF  # 640: DurationEncoder / ProsodyPredictor LSTM input
LSTM_HIDDEN = HIDDEN_DIM // 2  # 256 per direction
DECODE_POOL_CHANNELS = 1024 + 2 + 64  # 1090: Decoder.decode[3] input (x, F0, N, asr_res)
N_LAYER = 3  # config.json n_layer
MAX_DUR = 50  # config.json max_dur
RESBLOCK_KERNEL_SIZES = (3, 7, 11)  # config.json istftnet
RESBLOCK_DILATIONS = ((1, 3, 5),) * 3
UPSAMPLE_KERNEL_SIZES = (20, 12)
UPSAMPLE_INITIAL_CHANNEL = 512

LSTM_BUCKETS = (32, 64, 128)
FRAME_BUCKETS = (64, 256)
PAD_GARBAGE = 1e3  # scale of the random values put on padded steps: padding must not matter


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """These tensors are small: on a shared 2-core box torch's thread pool oversubscribes and the
    file ran ~5x slower (91 s vs 18 s for the fast tests) than with one intra-op thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def length_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """[B] real lengths -> [B, steps] float validity mask (1 real, 0 padding)."""
    return (torch.arange(steps)[None, :] < lengths[:, None]).float()


def with_garbage_padding(x: torch.Tensor, mask: torch.Tensor, time_dim: int) -> torch.Tensor:
    """x with every padded step replaced by large random values."""
    shape = [1] * x.dim()
    shape[0], shape[time_dim] = mask.shape
    keep = mask.view(shape) > 0
    return torch.where(keep, x, PAD_GARBAGE * torch.randn_like(x))


def convert(module: nn.Module, sample_args: tuple, tmp_path, name: str):
    """litert-torch conversion as `convert.export` does it (LSTM placeholders expanded into loops);
    returns (a runner of the written file: positional numpy args -> first output, op names, seconds)."""
    import litert_torch

    start = time.perf_counter()
    edge = litert_torch.convert(module.eval(), sample_args)
    seconds = time.perf_counter() - start
    path = tmp_path / f"{name}.tflite"
    edge.export(str(path))
    expand_sequence_lstms(path)
    ops = tflite_ops(path)
    assert ops, "empty graph"
    assert not [op for op in ops if op.startswith("CUSTOM") or op.startswith("STABLEHLO")], ops
    print(f"{name}: converted in {seconds:.1f} s, {len(ops)} ops")
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner()

    def run(*args):
        outputs = runner(**{f"args_{i}": a for i, a in enumerate(args)})
        return outputs["output_0"] if "output_0" in outputs else next(iter(outputs.values()))

    return run, ops, seconds


def upstream_packed_lstm(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor):
    """TextEncoder / DurationEncoder / ProsodyPredictor's pack -> LSTM -> pad, at full length."""
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (h_n, c_n) = lstm(packed)
    out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, h_n, c_n


# --- MaskedBiLSTM -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kokoro_lstm() -> nn.LSTM:
    torch.manual_seed(0)
    return nn.LSTM(LSTM_IN, LSTM_HIDDEN, 1, batch_first=True, bidirectional=True).eval()


@pytest.mark.parametrize("steps", LSTM_BUCKETS)
def test_lstm_matches_packed_upstream_at_every_length(kokoro_lstm, steps):
    """Every real length 1..T with garbage on the padded steps.

    All T lengths run as one batch (row n-1 has real length n; the block has no cross-row
    path), and a few lengths again at B=1, the bundle's shape.
    """
    block = MaskedBiLSTM.from_lstm(kokoro_lstm).eval()
    torch.manual_seed(steps)
    lengths = torch.arange(1, steps + 1)
    mask = length_mask(lengths, steps)
    x = with_garbage_padding(torch.randn(steps, steps, LSTM_IN), mask, time_dim=1)
    with torch.no_grad():
        ref, _, _ = upstream_packed_lstm(kokoro_lstm, x, lengths)
        out, _ = block(x, mask)
        single = {n: block(x[n - 1 : n], mask[n - 1 : n])[0] for n in sorted({1, 2, steps // 2, steps - 1, steps})}
    # Padded steps: exactly zero, as pad_packed_sequence fills them.
    assert torch.all(out[mask == 0] == 0)
    worst = (out - ref).abs().max().item()
    for n, out1 in single.items():  # B=1: the bundles' shape, reversed by index_select
        assert torch.all(out1[0, n:] == 0)
        worst = max(worst, (out1 - ref[n - 1 : n]).abs().max().item())
    print(f"T={steps}: worst |MaskedBiLSTM - packed nn.LSTM| = {worst:.2e}")
    # 2e-6: float32 reassociation only (b_hh folded into the hoisted projection), measured
    # 2.4e-7 on h in (-1, 1); 2e-6 leaves headroom for other BLAS kernels.
    assert worst < 2e-6


@pytest.mark.parametrize("dtype", [torch.float32, torch.int32, torch.bool])
def test_lstm_huge_padding_does_not_leak(kokoro_lstm, dtype):
    """Padding is masked by an exact 0/1 blend, so any finite padding is inert, however large.

    (Non-finite padding would leak through 0 * inf; the contract is finite padding, which the
    host's zero fill and each stage's zeroed outputs guarantee.)
    """
    block = MaskedBiLSTM.from_lstm(kokoro_lstm).eval()
    torch.manual_seed(1)
    steps, real = 24, 17
    mask = length_mask(torch.tensor([real]), steps).to(dtype)
    clean = torch.randn(1, steps, LSTM_IN)
    dirty = clean.clone()
    dirty[:, real::2] = 1e6
    dirty[:, real + 1 :: 2] = -1e6
    with torch.no_grad():
        ref, _ = block(clean[:, :real])
        out, _ = block(dirty, mask)
    assert torch.isfinite(out).all()
    assert torch.all(out[:, real:] == 0)
    # 2e-6: as above; the padded run and the unpadded run differ only in association.
    torch.testing.assert_close(out[:, :real], ref, rtol=0, atol=2e-6)


def test_lstm_without_mask_is_nn_lstm(kokoro_lstm):
    """mask=None: the drop-in for an LSTM upstream runs unpacked (ProsodyPredictor.shared)."""
    block = MaskedBiLSTM.from_lstm(kokoro_lstm).eval()
    torch.manual_seed(2)
    x = torch.randn(2, 40, LSTM_IN)
    with torch.no_grad():
        ref, _ = kokoro_lstm(x)
        out, states = block(x)
    # 2e-6: float32 reassociation, as above.
    torch.testing.assert_close(out, ref, rtol=0, atol=2e-6)
    assert states is None  # the TFLite op returns outputs only; Kokoro discards the states


def test_lstm_keeps_parameter_names(kokoro_lstm):
    block = MaskedBiLSTM(LSTM_IN, LSTM_HIDDEN)
    assert list(block.state_dict()) == list(kokoro_lstm.state_dict())
    block.load_state_dict(kokoro_lstm.state_dict(), strict=True)
    back = nn.LSTM(LSTM_IN, LSTM_HIDDEN, 1, batch_first=True, bidirectional=True)
    back.load_state_dict(block.state_dict(), strict=True)
    for key, value in kokoro_lstm.state_dict().items():
        assert torch.equal(back.state_dict()[key], value), key


@pytest.mark.parametrize(
    "kwargs", [dict(bidirectional=False), dict(num_layers=2, bidirectional=True), dict(bidirectional=True, batch_first=False)]
)
def test_lstm_rejects_other_configurations(kwargs):
    kwargs.setdefault("batch_first", True)
    with pytest.raises(ValueError, match="MaskedBiLSTM replaces only"):
        MaskedBiLSTM.from_lstm(nn.LSTM(8, 4, **kwargs))


def test_lstm_refuses_packed_input(kokoro_lstm):
    block = MaskedBiLSTM.from_lstm(kokoro_lstm)
    packed = nn.utils.rnn.pack_padded_sequence(torch.randn(1, 4, LSTM_IN), torch.tensor([3]), batch_first=True)
    with pytest.raises(TypeError, match="validity mask"):
        block(packed)


# --- MaskedAdaIN1d ----------------------------------------------------------------------------------


def random_adain(channels: int, seed: int) -> AdaIN1d:
    """An upstream AdaIN1d with every parameter random (norm's 1 / 0 init would hide its affine)."""
    torch.manual_seed(seed)
    adain = AdaIN1d(STYLE_HALF, channels).eval()
    with torch.no_grad():
        adain.norm.weight.uniform_(0.5, 1.5)
        adain.norm.bias.normal_(0.0, 0.5)
    return adain


@pytest.mark.parametrize("frames", FRAME_BUCKETS)
def test_adain_matches_upstream_on_real_frames_at_every_length(frames):
    channels = 128
    adain = random_adain(channels, seed=frames)
    block = MaskedAdaIN1d.from_adain(adain).eval()
    s = torch.randn(1, STYLE_HALF)
    # Per-channel offset and scale, so the statistics matter. Kept to |mean| / std <~ 5 (activation-
    # like): with |mean| / std ~ 1000, float32 input rounding alone moves upstream itself ~1e-4
    # from a float64 evaluation, whatever the summation order.
    x = torch.randn(1, channels, frames) * (0.5 + 1.5 * torch.rand(1, channels, 1)) + torch.randn(1, channels, 1)
    worst = 0.0
    with torch.no_grad():
        for real in range(1, frames + 1):
            mask = length_mask(torch.tensor([real]), frames)
            out = block(with_garbage_padding(x, mask, time_dim=2), s, mask)
            assert torch.all(out[..., real:] == 0)  # zero padding for the next conv
            if real == 1:
                # Upstream InstanceNorm1d raises on one frame; the block gives the variance-0 limit.
                gamma, beta = adain.fc(s).unsqueeze(-1).chunk(2, dim=1)
                ref = (1 + gamma) * adain.norm.bias.view(1, -1, 1) + beta
            else:
                ref = adain(x[..., :real], s)  # upstream on the unpadded input
            worst = max(worst, ((out[..., :real] - ref).abs() / (1 + ref.abs())).max().item())
    print(f"L={frames}: worst |MaskedAdaIN1d - AdaIN1d| / (1 + |ref|) = {worst:.2e}")
    # 1e-5 relative: mean/variance over up to 256 frames summed in another order and the affine
    # folded into one scale and shift; measured 4e-6, where upstream itself is 4e-6 from float64.
    assert worst < 1e-5


@pytest.mark.parametrize("dtype", [torch.int32, torch.bool])
def test_adain_accepts_int_and_bool_masks(dtype):
    block = MaskedAdaIN1d.from_adain(random_adain(32, seed=13)).eval()
    x, s = torch.randn(1, 32, 20), torch.randn(1, STYLE_HALF)
    mask = length_mask(torch.tensor([13]), 20)
    with torch.no_grad():
        assert torch.equal(block(x, s, mask.to(dtype)), block(x, s, mask))


def test_adain_without_mask_is_upstream():
    adain = random_adain(64, seed=3)
    block = MaskedAdaIN1d.from_adain(adain).eval()
    x, s = torch.randn(2, 64, 50), torch.randn(2, STYLE_HALF)
    with torch.no_grad():
        assert torch.equal(block(x, s), adain(x, s))  # the same code path: bitwise


def test_adain_keeps_parameter_names():
    adain = random_adain(64, seed=4)
    block = MaskedAdaIN1d(STYLE_HALF, 64)
    assert list(block.state_dict()) == list(adain.state_dict())
    block.load_state_dict(adain.state_dict(), strict=True)
    AdaIN1d(STYLE_HALF, 64).load_state_dict(block.state_dict(), strict=True)


def test_adain_channels_last_chunked_matches_upstream_at_every_length():
    """The vocoder's form: [K, C, 1, S] time chunks along the batch axis (stages.to_chunks), statistics
    over chunks and steps together, i.e. over the utterance's real steps."""
    from kokoro_litert.convert.stages import from_chunks, to_chunks

    channels, steps, chunk = 64, 90, 16
    adain = random_adain(channels, seed=21)
    block = MaskedAdaIN1d.from_adain(adain).eval()
    s = torch.randn(1, STYLE_HALF)
    x = torch.randn(1, channels, steps) * (0.5 + 1.5 * torch.rand(1, channels, 1)) + torch.randn(1, channels, 1)
    worst = 0.0
    with torch.no_grad():
        for real in range(2, steps + 1):  # upstream InstanceNorm1d raises on one step
            mask = length_mask(torch.tensor([real]), steps)
            xc = to_chunks(with_garbage_padding(x, mask, time_dim=2).unsqueeze(2), chunk)
            out = from_chunks(block(xc, s, to_chunks(mask.view(1, 1, 1, -1), chunk), chunked=True), steps)[:, :, 0]
            assert torch.all(out[..., real:] == 0)
            ref = adain(x[..., :real], s)
            worst = max(worst, ((out[..., :real] - ref).abs() / (1 + ref.abs())).max().item())
    print(f"chunked channels-last: worst |MaskedAdaIN1d - AdaIN1d| / (1 + |ref|) = {worst:.2e}")
    # 1e-5 relative: as the [B, C, L] form above.
    assert worst < 1e-5


@pytest.mark.parametrize("shared_input", [False, True])
def test_generator_resblock_matches_upstream_on_real_steps(shared_input):
    """stages.adain_resblock1 as the vocoder runs it (chunked, channels-last, garbage on padding;
    each Snake's alpha folded into the norm before it; shared_input: x added back to the first
    residual as mean + (x - mean)) against upstream AdaINResBlock1 on the unpadded input."""
    from kokoro.istftnet import AdaINResBlock1

    from kokoro_litert.convert.stages import adain_resblock1, fold_weight_norm, from_chunks, to_chunks

    channels, steps, chunk = 32, 70, 16
    torch.manual_seed(5)
    block = AdaINResBlock1(channels, kernel_size=7, style_dim=STYLE_HALF).eval()
    with torch.no_grad():
        for alpha in [*block.alpha1, *block.alpha2]:
            alpha.uniform_(0.5, 1.5)
        for adain in [*block.adain1, *block.adain2]:
            adain.norm.weight.uniform_(0.5, 1.5)
            adain.norm.bias.normal_(0.0, 0.5)
    fold_weight_norm(block)
    swap_blocks(block)  # upstream's forward still computes upstream's (see swap_blocks)
    s = torch.randn(1, STYLE_HALF)
    x = torch.randn(1, channels, steps) * (0.5 + 1.5 * torch.rand(1, channels, 1)) + torch.randn(1, channels, 1)
    worst = 0.0
    with torch.no_grad():
        for real in (2, 17, 50, steps):
            mask = length_mask(torch.tensor([real]), steps)
            xc = to_chunks(with_garbage_padding(x, mask, time_dim=2).unsqueeze(2), chunk)
            out = adain_resblock1(block, xc, s, to_chunks(mask.view(1, 1, 1, -1), chunk), chunked=True,
                                  shared_input=shared_input)
            out = from_chunks(out, steps)[:, :, 0, :real]
            ref = block(x[..., :real], s)
            worst = max(worst, ((out - ref).abs() / (1 + ref.abs())).max().item())
    print(f"shared_input={shared_input}: worst |adain_resblock1 - AdaINResBlock1| / (1 + |ref|) = {worst:.2e}")
    # As the norm's 1e-5 above: three layers of it, with float sums in another order.
    assert worst < 1e-5


def test_adain_sums_stay_in_float16_range():
    """Regression: on LiteRT's GPU (float16 by default, max 65504) the plain sums of x and of the
    squared deviations over a long utterance overflowed (4.6e5 at 57 frames, on real activations)
    and every generator norm collapsed to its shift. The block scales each term by 1/sqrt(count)
    before summing. Here the whole block runs in float16 (each op rounded to float16, sums
    accumulated wider, as that GPU does) on 512 frames of generator-rate steps."""
    from kokoro_litert.convert.stages import to_chunks

    channels, steps, chunk = 16, 120 * 512 + 1, 480
    adain = random_adain(channels, seed=22)
    block = MaskedAdaIN1d.from_adain(adain).eval()
    s = torch.randn(1, STYLE_HALF)
    torch.manual_seed(22)
    x = to_chunks((3 * torch.randn(1, channels, steps) + 2).unsqueeze(2), chunk)  # sum of squares ~8e5
    mask = to_chunks(torch.ones(1, 1, 1, steps), chunk)
    with torch.no_grad():
        ref = block(x, s, mask, chunked=True)
        half = block.half()(x.half(), s.half(), mask.half(), chunked=True).float()
    assert (x.double() ** 2).sum(dim=(0, -1)).max() > 65504  # what the plain sums would have held
    assert torch.isfinite(half).all()
    err = ((half - ref).abs() / (1 + ref.abs())).max().item()
    print(f"float16 vs float32 MaskedAdaIN1d over {steps} steps: {err:.1e} relative")
    # 1e-2: float16 keeps 11 bits (4.9e-4 per rounding) through ~10 ops; a collapsed norm is off by ~1.
    assert err < 1e-2


# --- DepthwiseUpsample1d ----------------------------------------------------------------------------


def upstream_pool(channels: int, seed: int) -> nn.ConvTranspose1d:
    """AdainResBlk1d.pool exactly as upstream builds it, with a random weight_g and bias."""
    torch.manual_seed(seed)
    block = AdainResBlk1d(channels, channels // 2, STYLE_HALF, upsample=True)
    pool = block.pool.eval()
    with torch.no_grad():
        pool.weight_g.uniform_(0.5, 2.0)
        pool.bias.normal_()
    return pool


@pytest.mark.parametrize("frames", FRAME_BUCKETS)
def test_pool_matches_upstream_at_every_length(frames):
    pool = upstream_pool(DECODE_POOL_CHANNELS, seed=frames)
    block = DepthwiseUpsample1d.from_conv_transpose(pool).eval()
    x = torch.randn(1, DECODE_POOL_CHANNELS, frames)
    worst = 0.0
    with torch.no_grad():
        for real in range(1, frames + 1):
            padded = x * length_mask(torch.tensor([real]), frames)[:, None]  # zero past the end
            out = block(padded)
            ref = pool(x[..., :real])  # upstream at the real length: [1, C, 2 * real]
            worst = max(worst, (out[..., : 2 * real] - ref).abs().max().item())
        full = (block(x) - pool(x)).abs().max().item()
        # Upstream's weight-norm hook has now rebuilt pool.weight from the edited weight_g.
        assert torch.equal(block.folded_weight(), pool.weight)
    print(f"L={frames}: worst |DepthwiseUpsample1d - ConvTranspose1d| = {worst:.2e} (full length {full:.2e})")
    # 2e-6 absolute on outputs of magnitude ~5: at most three products summed in another order.
    assert max(worst, full) < 2e-6


def test_pool_without_weight_norm():
    pool = upstream_pool(32, seed=5)
    nn.utils.remove_weight_norm(pool)
    block = DepthwiseUpsample1d.from_conv_transpose(pool).eval()
    assert not block.weight_norm and list(block.state_dict()) == list(pool.state_dict())
    x = torch.randn(2, 32, 20)
    with torch.no_grad():
        # 2e-6: as above.
        torch.testing.assert_close(block(x), pool(x), rtol=0, atol=2e-6)


def test_pool_keeps_parameter_names():
    pool = upstream_pool(32, seed=6)
    block = DepthwiseUpsample1d(32)
    assert list(block.state_dict()) == list(pool.state_dict()) == ["bias", "weight_g", "weight_v"]
    block.load_state_dict(pool.state_dict(), strict=True)
    pool.load_state_dict(block.state_dict(), strict=True)


def test_pool_rejects_other_transposed_convs():
    with pytest.raises(ValueError, match="DepthwiseUpsample1d replaces only"):
        DepthwiseUpsample1d.from_conv_transpose(nn.ConvTranspose1d(8, 8, 20, 10, padding=5))


@pytest.mark.parametrize("frames", FRAME_BUCKETS)
def test_pool_channels_last_is_the_same_numbers(frames):
    """The vocoder runs the pool on [B, C, 1, L] (channels-last graph), where `interleave` takes another
    route (at most 4-D, for LiteRT's GPU delegate): the same values, bit for bit, as the [B, C, L]
    form proven against upstream above."""
    block = DepthwiseUpsample1d.from_conv_transpose(upstream_pool(DECODE_POOL_CHANNELS, seed=frames)).eval()
    x = torch.randn(1, DECODE_POOL_CHANNELS, frames)
    with torch.no_grad():
        for real in (1, frames // 3, frames):
            padded = x * length_mask(torch.tensor([real]), frames)[:, None]
            assert torch.equal(block(padded.unsqueeze(2))[:, :, 0], block(padded))


def test_interleave_is_data_movement_only():
    from kokoro_litert.convert.stages import _upsample_nearest2

    even, odd = torch.randn(2, 5, 1, 7), torch.randn(2, 5, 1, 7)
    out = interleave(even, odd)
    assert out.shape == (2, 5, 1, 14)
    assert torch.equal(out[..., 0::2], even) and torch.equal(out[..., 1::2], odd)
    assert torch.equal(interleave(even[:, :, 0], odd[:, :, 0]), out[:, :, 0])  # the 3-D route
    x = torch.randn(1, 6, 1, 9)
    assert torch.equal(_upsample_nearest2(x), nn.functional.interpolate(x, scale_factor=(1, 2), mode="nearest"))


# --- the generator's upsamplers on time chunks (stages._upsample_chunked) ---------------------------


@pytest.mark.parametrize("stage", [0, 1])
def test_chunked_upsampler_matches_upstream_at_every_length(stage):
    from kokoro_litert.convert.stages import GENERATOR_CHUNK_FRAMES, _upsample_chunked, from_chunks

    # Generator.ups[stage] as upstream builds it (kernels 20 / 12), fewer channels; the last one is
    # followed by upstream's ReflectionPad1d((1, 0)).
    rate, kernel = UPSAMPLE_RATES[stage], (20, 12)[stage]
    torch.manual_seed(stage)
    up = nn.utils.weight_norm(nn.ConvTranspose1d(16, 8, kernel, rate, padding=(kernel - rate) // 2)).eval()
    reflect = stage == 1
    frames, rate_in = 12, 2 * (1, UPSAMPLE_RATES[0])[stage]  # generator steps per frame at its input
    steps = GENERATOR_CHUNK_FRAMES * rate_in * rate
    x = torch.randn(1, 16, 1, rate_in * frames)
    worst = 0.0
    with torch.no_grad():
        for real in range(1, frames + 1):
            n_in, n = rate_in * real, rate_in * rate * real + reflect
            ref = up(x[0, :, 0, :n_in][None])  # upstream at the real length
            if reflect:
                ref = nn.ReflectionPad1d((1, 0))(ref)
            padded = x * (torch.arange(x.shape[-1]) < n_in)  # the graph zeroes past the real steps
            chunks = _upsample_chunked(up, padded, steps, rate_in * rate * frames + reflect, reflect)
            assert chunks.shape[-1] == steps
            worst = max(worst, (from_chunks(chunks, n)[0, :, 0] - ref[0]).abs().max().item())
    # Sums of <= 4 products (kernel / stride) in another order, outputs ~1: float32 rounding.
    assert worst < 2e-6


def test_chunked_upsampler_rejects_wider_kernels():
    from kokoro_litert.convert.stages import _upsample_chunked

    with pytest.raises(ValueError, match="one-step halo"):
        _upsample_chunked(nn.ConvTranspose1d(4, 4, 40, 10, padding=15), torch.zeros(1, 4, 1, 16), 40, 160)


# --- swap_blocks on upstream module trees -------------------------------------------------------


def test_swap_blocks_prosody_predictor_f0n():
    """ProsodyPredictor.F0Ntrain runs `shared` unpacked and has two upsampling AdainResBlk1d."""
    torch.manual_seed(7)
    predictor = ProsodyPredictor(STYLE_HALF, HIDDEN_DIM, N_LAYER, max_dur=MAX_DUR).eval()
    frames = 48
    x, s = torch.randn(1, LSTM_IN, frames), torch.randn(1, STYLE_HALF)
    with torch.no_grad():
        ref_f0, ref_n = predictor.F0Ntrain(x, s)
    before = {k: v.clone() for k, v in predictor.state_dict().items()}

    names = swap_blocks(predictor)  # in place (weight_norm modules cannot be deep-copied)
    assert "shared" in names and "lstm" in names and "F0.1.pool" in names and "N.1.pool" in names
    assert sum(n.startswith("text_encoder.lstms.") for n in names) == N_LAYER
    assert sum(n.endswith(".norm1") or n.endswith(".norm2") for n in names) == 12
    assert all(isinstance(predictor.get_submodule(n), (MaskedBiLSTM, MaskedAdaIN1d, DepthwiseUpsample1d)) for n in names)

    after = predictor.state_dict()
    assert list(before) == list(after)
    assert all(torch.equal(before[k], after[k]) for k in before)
    predictor.load_state_dict(before, strict=True)

    with torch.no_grad():
        f0, n = predictor.F0Ntrain(x, s)
    assert f0.shape == ref_f0.shape == (1, 2 * frames)
    # 1e-5 relative: LSTM and upsampler reassociation (~1e-7) carried through six residual blocks.
    for out, ref in ((f0, ref_f0), (n, ref_n)):
        assert ((out - ref).abs() / (1 + ref.abs())).max() < 1e-5


def test_swap_blocks_decoder():
    """Only decode[3].pool and the AdaIN1d norms change; the generator's k20/s10 and k12/s6 stay."""
    torch.manual_seed(8)
    decoder = Decoder(
        dim_in=HIDDEN_DIM,
        style_dim=STYLE_HALF,
        dim_out=80,  # config.json n_mels (unused by Decoder)
        resblock_kernel_sizes=list(RESBLOCK_KERNEL_SIZES),
        upsample_rates=list(UPSAMPLE_RATES),
        upsample_initial_channel=UPSAMPLE_INITIAL_CHANNEL,
        resblock_dilation_sizes=[list(d) for d in RESBLOCK_DILATIONS],
        upsample_kernel_sizes=list(UPSAMPLE_KERNEL_SIZES),
        gen_istft_n_fft=ISTFT_N_FFT,
        gen_istft_hop_size=ISTFT_HOP,
    ).eval()
    frames = 12
    asr, s = torch.randn(1, HIDDEN_DIM, frames), torch.randn(1, STYLE_HALF)
    f0 = 100 + 50 * torch.rand(1, 2 * frames)
    noise = torch.randn(1, 2 * frames)
    with torch.no_grad():
        torch.manual_seed(9)  # the source module draws phase and noise
        ref = decoder(asr, f0, noise, s)
    keys = list(decoder.state_dict())
    n_adain = sum(isinstance(m, AdaIN1d) for m in decoder.modules())

    names = swap_blocks(decoder)  # in place (weight_norm modules cannot be deep-copied)
    assert [n for n in names if n.endswith("pool")] == ["decode.3.pool"]
    assert len(names) == n_adain + 1
    assert isinstance(decoder.generator.ups[0], nn.ConvTranspose1d)
    assert list(decoder.state_dict()) == keys
    with torch.no_grad():
        torch.manual_seed(9)
        out = decoder(asr, f0, noise, s)
    # 1e-4 of the peak: the only change is decode[3].pool's reassociation (1-2 ulp), carried
    # through the generator's exp(magnitude) and iSTFT.
    assert (out - ref).abs().max() < 1e-4 * ref.abs().max()


# --- litert-torch conversion --------------------------------------------------------------------


class _BundleLSTM(nn.Module):
    """The bundle's view of a MaskedBiLSTM: (x, mask) -> output."""

    def __init__(self, block: MaskedBiLSTM):
        super().__init__()
        self.lstm = block

    def forward(self, x, mask):
        return self.lstm(x, mask)[0]


@pytest.mark.slow
def test_lstm_converts_and_matches_at_every_length(kokoro_lstm, tmp_path):
    """One graph per bucket whose size does not depend on the bucket, exact at every real length."""
    register_lowering()
    block = MaskedBiLSTM.from_lstm(kokoro_lstm).eval()
    graphs = {}
    for steps in (16, 64):  # ~3 s each: no unrolling
        torch.manual_seed(10)
        x = torch.randn(1, steps, LSTM_IN)
        edge, ops, _ = convert(_BundleLSTM(block), (x, length_mask(torch.tensor([steps]), steps)), tmp_path,
                               f"masked_bilstm_{steps}")
        graphs[steps] = ops
        worst = 0.0
        for real in range(1, steps + 1):  # one fixed-shape graph serves every real length
            mask = length_mask(torch.tensor([real]), steps)
            xp = with_garbage_padding(x, mask, time_dim=1)
            with torch.no_grad():
                ref = block(xp, mask)[0].numpy()
            out = edge(xp.numpy(), mask.numpy())
            assert np.all(out[:, real:] == 0)
            worst = max(worst, float(np.abs(out - ref).max()))
        print(f"masked_bilstm T={steps} .tflite vs torch: {worst:.2e}, {len(ops)} ops")
        # 1e-5: the builtin kernel's accumulation order and its sigmoid/tanh; measured ~1e-6.
        assert worst < 1e-5
    assert graphs[16] == graphs[64], "the graph grew with the bucket length"
    assert graphs[16].count("WHILE") == 2  # one loop per direction
    assert set(graphs[16]) <= {"WHILE", "FILL", "FULLY_CONNECTED", "CAST", "SUM", "CONCATENATION", "RESHAPE",
                               # the loop bodies and conditions
                               "LESS", "ADD", "SUB", "GATHER", "SPLIT", "LOGISTIC", "TANH", "MUL",
                               "DYNAMIC_UPDATE_SLICE"}, sorted(set(graphs[16]))


@pytest.mark.slow
def test_lstm_tflite_state_does_not_carry_over(kokoro_lstm, tmp_path):
    """A call does not depend on the calls before it (bit for bit, fresh interpreter vs one with a
    history): the loop state is explicit, never a variable tensor (TFLite's builtin LSTM keeps one,
    which LiteRT's CompiledModel cannot load)."""
    from ai_edge_litert.interpreter import Interpreter

    register_lowering()
    steps = 24
    block = MaskedBiLSTM.from_lstm(kokoro_lstm).eval()
    mask = length_mask(torch.tensor([steps]), steps).numpy()
    convert(_BundleLSTM(block), (torch.randn(1, steps, LSTM_IN), torch.from_numpy(mask)), tmp_path, "history")
    rng = np.random.default_rng(3)
    loud, quiet = (rng.standard_normal((1, steps, LSTM_IN)).astype(np.float32) * s for s in (30.0, 1.0))

    def run(interpreter, x, m):
        return interpreter.get_signature_runner()(args_0=x, args_1=m)["output_0"]

    fresh = run(Interpreter(model_path=str(tmp_path / "history.tflite")), quiet, mask)
    used = Interpreter(model_path=str(tmp_path / "history.tflite"))
    half = mask.copy()
    half[:, steps // 2:] = 0
    run(used, loud, mask)
    run(used, loud, half)
    np.testing.assert_array_equal(run(used, quiet, mask), fresh)
    compiled = _compiled_run(tmp_path / "history.tflite", quiet, mask)  # the C / Android API loads it too
    np.testing.assert_allclose(compiled, fresh, rtol=0, atol=1e-6)


def _compiled_run(path, *args):
    """First output of LiteRT's CompiledModel on positional inputs (signature 0)."""
    from ai_edge_litert.compiled_model import CompiledModel

    model = CompiledModel.from_file(str(path))
    inputs, outputs = model.create_input_buffers(0), model.create_output_buffers(0)
    for buffer, value in zip(inputs, args):
        buffer.write(value)
    model.run_by_index(0, inputs, outputs)
    details = model.get_output_tensor_details(next(iter(model.get_signature_list())))
    shape = next(iter(details.values()))["shape"]
    return outputs[0].read(int(np.prod(shape)), np.float32).reshape(shape)


@pytest.mark.slow
def test_adain_converts_and_matches_at_every_length(tmp_path):
    channels, frames = 64, 48
    block = MaskedAdaIN1d.from_adain(random_adain(channels, seed=11)).eval()
    torch.manual_seed(11)
    x = torch.randn(1, channels, frames) * 3 + torch.randn(1, channels, 1) * 2
    s = torch.randn(1, STYLE_HALF)
    edge, ops, _ = convert(block, (x, s, length_mask(torch.tensor([frames]), frames)), tmp_path, "masked_adain")
    assert set(ops) == {
        "FULLY_CONNECTED", "SLICE", "RESHAPE", "ADD", "SUB", "MUL", "SUM", "MAXIMUM", "RSQRT",
    }, sorted(set(ops))
    worst = 0.0
    for real in range(1, frames + 1):
        mask = length_mask(torch.tensor([real]), frames)
        xp = with_garbage_padding(x, mask, time_dim=2)
        with torch.no_grad():
            ref = block(xp, s, mask).numpy()
        out = edge(xp.numpy(), s.numpy(), mask.numpy())
        assert np.all(out[..., real:] == 0)
        worst = max(worst, float((np.abs(out - ref) / (1 + np.abs(ref))).max()))
    print(f"masked_adain .tflite vs torch: {worst:.2e} relative")
    # 1e-5 relative: reductions and rsqrt in TFLite kernels; measured ~1e-6.
    assert worst < 1e-5


@pytest.mark.slow
def test_pool_upsampler_miscompile_is_avoided(tmp_path):
    """NOTES.md: litert-torch silently miscompiles the depthwise ConvTranspose1d(k3, s2, p1, op1).

    The original converts without error to a wrong graph; DepthwiseUpsample1d converts to
    elementwise ops and matches. If the original's error ever drops, the converter bug is fixed:
    re-check NOTES.md and whether the workaround is still wanted.
    """
    channels, frames = 16, 24
    pool = upstream_pool(channels, seed=12)
    block = DepthwiseUpsample1d.from_conv_transpose(pool).eval()
    torch.manual_seed(12)
    x = torch.randn(1, channels, frames)
    with torch.no_grad():
        ref = pool(x).numpy()

    edge, ops, _ = convert(block, (x,), tmp_path, "depthwise_upsample")
    assert set(ops) == {"SLICE", "PAD", "MUL", "ADD", "RESHAPE", "CONCATENATION"}, sorted(set(ops))
    err = float(np.abs(edge(x.numpy()) - ref).max())
    print(f"depthwise_upsample .tflite vs upstream torch: {err:.2e}")
    # 2e-6 absolute on outputs ~5: elementwise float32 ops only, in torch's association.
    assert err < 2e-6

    original, original_ops, _ = convert(pool, (x,), tmp_path, "original_pool")
    original_err = float(np.abs(original(x.numpy()) - ref).max())
    print(f"original pool .tflite vs torch: {original_err:.2e}, ops {sorted(set(original_ops))}")
    assert original_err > 0.1, "litert-torch now converts the original upsampler correctly"
