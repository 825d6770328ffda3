"""The excitation's random numbers, specified so that every host draws the same ones for a seed.

Upstream draws the hn-NSF source's initial phases with `torch.rand` and its noise with
`torch.randn_like`, unseeded. Here they come from a counter-based generator simple enough to
re-implement exactly in any language (the JVM twin is `android_demo/.../dsp/Noise.kt`), so the
same `--seed` gives the same excitation, hence the same audio, on every host.

Specification (all integer arithmetic on unsigned 64-bit words, wrapping):

    mix(z):      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
                 z = (z ^ (z >> 27)) * 0x94D049BB133111EB
                 return z ^ (z >> 31)                                  (SplitMix64's finalizer)
    key(seed, stream) = mix(seed * GOLDEN + stream)                    seed: the utterance seed, as a
                                                                       64-bit two's complement word
    word(seed, stream, i) = mix(key(seed, stream) + (i + 1) * GOLDEN)  GOLDEN = 0x9E3779B97F4A7C15
    uniform(i)  = (word(i) >> 11) * 2**-53                             a double in [0, 1)

    normal pair k (i = 2k, 2k + 1), Box-Muller in double precision:
        r = sqrt(-2 ln(1 - uniform(2k))),  a = 2 pi uniform(2k + 1)
        normal(2k) = r cos(a),  normal(2k + 1) = r sin(a)

    rand_ini [9]      = float32(uniform(i)), i = 0..8,        stream RAND_INI_STREAM
    noise    [N, 9]   = float32(normal(i)),  i = 9 n + h,     stream NOISE_STREAM (row-major)

Values are computed in float64 and rounded once to float32: hosts whose libm differ in the last
bit of a double log/cos/sin agree on the float32 value except when it falls within that bit of a
rounding boundary (about 1 value in 2**28; one float32 ulp of noise at amplitude 0.003).
"""

from __future__ import annotations

import numpy as np

GOLDEN = 0x9E3779B97F4A7C15
RAND_INI_STREAM = 0
NOISE_STREAM = 1
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MASK = (1 << 64) - 1


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _key(seed: int, stream: int) -> np.uint64:
    with np.errstate(over="ignore"):
        return _mix(np.array([((seed & _MASK) * GOLDEN + stream) & _MASK], dtype=np.uint64))[0]


def uniforms(seed: int, stream: int, count: int) -> np.ndarray:
    """uniform(0..count-1) of one stream: float64 in [0, 1)."""
    return uniforms_from(seed, stream, 0, count)


def normals(seed: int, stream: int, count: int) -> np.ndarray:
    """normal(0..count-1) of one stream (Box-Muller on consecutive uniform pairs): float64."""
    u = uniforms(seed, stream, count + count % 2).reshape(-1, 2)
    r = np.sqrt(-2.0 * np.log(1.0 - u[:, 0]))  # 1 - u is exact; > 0
    a = 2.0 * np.pi * u[:, 1]
    return np.stack([r * np.cos(a), r * np.sin(a)], axis=1).reshape(-1)[:count]


def uniforms_from(seed: int, stream: int, start: int, count: int) -> np.ndarray:
    """uniform(start..start+count-1) of one stream (counter-based: any slice on its own)."""
    z = np.arange(start + 1, start + count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z *= np.uint64(GOLDEN)
        z += _key(seed, stream)
        _mix_in_place(z)
    z >>= np.uint64(11)
    u = z.astype(np.float64)
    u *= 2.0**-53
    return u


def _mix_in_place(z: np.ndarray) -> None:
    """`_mix` without temporaries (the same words): most of the excitation's host time was here."""
    t = np.empty_like(z)
    for shift, multiplier in ((30, _M1), (27, _M2), (31, None)):
        np.right_shift(z, np.uint64(shift), out=t)
        z ^= t
        if multiplier is not None:
            z *= multiplier


def excitation_noise(seed: int, samples: int, harmonics: int) -> tuple[np.ndarray, np.ndarray]:
    """(rand_ini [harmonics], noise [samples, harmonics]) float32 for an utterance's seed."""
    noise = np.empty((samples, harmonics), dtype=np.float32)
    rows = max(1, (1 << 18) // harmonics)  # the float64 work never holds more than a block
    for start in range(0, samples, rows):
        stop = min(start + rows, samples)
        noise[start:stop] = noise_rows(seed, harmonics, start, stop)
    return excitation_rand_ini(seed, harmonics), noise


def excitation_rand_ini(seed: int, harmonics: int) -> np.ndarray:
    """The initial phases [harmonics] float32 of `excitation_noise`."""
    return uniforms(seed, RAND_INI_STREAM, harmonics).astype(np.float32)


def noise_rows(seed: int, harmonics: int, start: int, stop: int) -> np.ndarray:
    """Rows start..stop-1 of `excitation_noise`'s noise, on their own (the same numbers): a
    synthesis draws its noise block by block instead of holding all of it (11 MB at 12.8 s)."""
    first, last = start * harmonics, stop * harmonics  # flat value indices [first, last)
    pair0, pair1 = first // 2, (last + 1) // 2  # the Box-Muller pairs that cover them
    u = uniforms_from(seed, NOISE_STREAM, 2 * pair0, 2 * (pair1 - pair0)).reshape(-1, 2)
    r = np.sqrt(-2.0 * np.log(1.0 - u[:, 0]))  # as `normals`, written into the float32 result directly
    a = 2.0 * np.pi * u[:, 1]
    values = np.empty(2 * (pair1 - pair0), dtype=np.float32)
    values[0::2] = r * np.cos(a)
    values[1::2] = r * np.sin(a)
    return values[first - 2 * pair0 : last - 2 * pair0].reshape(stop - start, harmonics)
