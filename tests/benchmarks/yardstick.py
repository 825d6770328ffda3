"""Fidelity yardstick: how far each system's speech is from the PyTorch reference, in what listeners hear.

    python tests/benchmarks/yardstick.py [--precision int8,fp16,fp32] [--sentences N] [--bundles DIR]
                                         [--onnx] [--gpu int8,...] [--max-frames N] [--no-asr] [--json FILE]

Why not waveform correlation: Kokoro's hn-NSF source integrates F0 into phase, so a pitch difference
far below hearing decorrelates two waveforms. Correlation proves a conversion (fp32, excitation
pinned) but cannot judge a quantized variant. This measures the audio as heard instead, against the
model's own floor: the same PyTorch model under another draw of its excitation noise.

Systems, on the same phoneme strings (voice af_heart, speed 1):

- `torch-seed2`, THE REFERENCE: upstream KModel (convert/reference.py), excitation noise seed 2.
- `torch-seed1`, THE FLOOR: the same model, excitation seed 1. Everything below is heard against the
  reference under seed 1 too, so "distance to the floor" is what the conversion adds.
- `litert-<precision>`: the bundle folder at that precision, running free (its own durations) at
  seed 1: the same excitation numbers the floor got (see convert/reference.py `seeded_excitation`).
- `litert-<precision>-gpu` (--gpu): the same with the vocoder on LiteRT's GPU accelerator, as
  `--accelerator gpu` runs it (float16, its head float32). Its excitation-pinned correlations are
  not computed (a software GPU takes a minute or more per call; LiteRT gives up on a GPU call after
  120 s, so there the runtime runs a long vocoder body in pieces, `runner.SOFTWARE_GPU_FRAMES`).
  --max-frames keeps the sentences whose reference durations total at most N frames.
- `kokoro-onnx` (--onnx): kokoro-onnx's int8 export on onnxruntime, fed the same phonemes as
  kokoro-onnx feeds them (runtime/bench.py `OnnxPeer`). The export draws no excitation noise.

An excitation seed means the project's noise generator (dsp/noise.py), the same numbers on every
host: PyTorch's `torch.rand` / `torch.randn_like` in SineGen are patched to return them.

Per sentence and system, against the reference:

- `mcd_db`: mel-cepstral distortion after DTW alignment (`mel_cepstra`, `mel_cepstral_distortion`);
- `pitch_rmse_cents`: pitch tracked on both audios by librosa.pyin, RMSE in cents over DTW-paired
  frames voiced in both (`track_pitch`, `pitch_rmse_cents`);
- `voicing_disagreement`: fraction of DTW-paired frames where exactly one side is voiced;
- `durations_identical`: the predicted rounded durations equal the reference's;
- `f0_rmse_cents`: the prosody stage's predicted F0 curve against litert-fp32's, frame by frame, when
  the durations are the same (`f0_rmse_cents`): the pitch the model asks for, before any vocoder;
- `spec_corr`, `wave_corr`: magnitude-spectrogram correlation (as tests/benchmarks/parity.py) and
  waveform correlation, with the excitation noise and the durations pinned to the reference's
  (litert: seed 2 and the reference's durations; kokoro-onnx: PyTorch without excitation noise at
  the reference's durations, when its audio has the reference's length; the floor: its own audio,
  which shows what another draw alone does to them). Reported, never a floor for quantized variants.

Per system over the set: the mean and the worst sentence of each figure, and the word error rate of
Whisper tiny.en (tests/support/asr_judge.py) on its audio.

Sentences: the held-out set, then the number-heavy set through our G2P (as parity.py), those that
fit the largest bucket in one chunk; `--sentences N` keeps the first N.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: support

SAMPLE_RATE = 24_000  # Kokoro's output rate
N_FFT = 1024  # 42.7 ms analysis window (hann)
HOP = 256  # 10.7 ms between frames; spectra, cepstra and pitch share this frame grid
N_MELS = 80  # librosa's Slaney-style mel filterbank (area-normalized triangles), 0 .. 12 kHz
N_CEPSTRA = 25  # c0 .. c24; c0 (the frame's log level) is left out of the distance: 24 terms
MEL_FLOOR = 1e-5  # ln() clamp for mel magnitudes: 16-bit PCM's quantization noise gives 6.5e-6, a full-scale sine ~6.7
MCD_FACTOR = 10 * math.sqrt(2) / math.log(10)  # 6.14 dB per unit of Euclidean distance of ln-magnitude cepstra
DTW_BAND = 0.1  # Sakoe-Chiba band radius, fraction of the shorter utterance's frames
PITCH_FMIN = 65.41  # C2: pyin's search range covers any adult speaking voice
PITCH_FMAX = 1046.50  # C6
PITCH_RESOLUTION = 0.1  # pyin's pitch grid in semitones (its default): 10 cents
KOKORO_VOICED_HZ = 10.0  # upstream SineGen's voiced threshold (SourceModuleHnNSF(voiced_threshod=10))
CENTS_PER_OCTAVE = 1200

REFERENCE_SEED = 2
OTHER_SEED = 1
VOICE = "af_heart"
F0_BASELINE = "litert-fp32"


# --- metrics: pure functions on numpy arrays ---------------------------------------------------------


def mel_cepstra(audio: np.ndarray) -> np.ndarray:
    """[N_CEPSTRA - 1, frames] mel cepstra c1..c24 of `audio` (24 kHz float), c0 left out.

    |X| = |librosa.stft| (hann, N_FFT 1024, HOP 256, centered, zero-padded ends); mel magnitude =
    librosa.filters.mel(sr=24000, n_fft=1024, n_mels=80) @ |X| (Slaney mel scale, area-normalized
    triangles, 0-12 kHz); L = ln(max(mel, MEL_FLOOR)); cepstra = the orthonormal DCT-II of L along the
    mel axis (librosa.feature.mfcc(S=L, n_mfcc=25, dct_type=2, norm="ortho"), i.e.
    scipy.fft.dct(L, type=2, norm="ortho")), first 25 kept (c0..c24), c0 dropped.

    Scale: these are librosa's MFCCs, as the issue-24 figures were measured. The real cepstrum's
    convention (SPTK's, L_n = c0 + 2 sum_d c_d cos(pi d (n + 1/2) / 80)) is these divided by
    sqrt(2 * 80) = 12.6: so an MCD here is 12.6 times the RMS over mel bands of the difference in
    10 log10 |X| that c1..c24 carry. Compare MCDs only with MCDs computed the same way.
    """
    import librosa

    magnitude = np.abs(librosa.stft(np.asarray(audio, np.float32), n_fft=N_FFT, hop_length=HOP, window="hann",
                                    center=True))  # [513, frames]
    mel = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS) @ magnitude  # [80, frames]
    log_mel = np.log(np.maximum(mel, MEL_FLOOR))
    cepstra = librosa.feature.mfcc(S=log_mel, n_mfcc=N_CEPSTRA, dct_type=2, norm="ortho")
    return cepstra[1:]


def dtw_path(cepstra_a: np.ndarray, cepstra_b: np.ndarray) -> np.ndarray:
    """[K, 2] frame pairs (i in a, j in b) of the cheapest monotonic alignment, start to end.

    librosa.sequence.dtw with Euclidean frame distance, steps (1,1), (1,0), (0,1) of equal weight,
    within a Sakoe-Chiba band of DTW_BAND of the shorter length around the diagonal: wide enough for
    the timing drift of two syntheses of the same phonemes, too narrow for DTW to hide a lost second
    of speech by pairing all of it with one frame.
    """
    import librosa

    _, path = librosa.sequence.dtw(X=cepstra_a, Y=cepstra_b, metric="euclidean", backtrack=True,
                                   global_constraints=True, band_rad=DTW_BAND)
    return path[::-1]


def mel_cepstral_distortion(cepstra_a: np.ndarray, cepstra_b: np.ndarray, path: np.ndarray) -> float:
    """MCD in dB, averaged over the DTW path's frame pairs:

        MCD = mean over (i, j) of 10 * sqrt(2) / ln 10 * sqrt(sum over d = 1..24 of (a[d, i] - b[d, j])^2)

    (Kubichek 1993 with cepstra of the natural-log magnitude; c0 excluded, so loudness alone is not
    a distortion)."""
    diff = cepstra_a[:, path[:, 0]] - cepstra_b[:, path[:, 1]]
    return float(MCD_FACTOR * np.mean(np.sqrt(np.sum(diff**2, axis=0))))


@dataclass(frozen=True)
class Pitch:
    """The pitch track of an audio, on the same frame grid as `mel_cepstra`."""

    f0: np.ndarray
    """[frames] Hz; NaN where unvoiced. pyin's Viterbi path: values on a 10-cent grid."""
    voiced: np.ndarray
    """[frames] bool: pyin's voicing decision."""


def track_pitch(audio: np.ndarray) -> Pitch:
    """librosa.pyin between C2 and C6, frame_length = N_FFT, hop = HOP, centered (the frames of `mel_cepstra`)."""
    import librosa

    f0, voiced, _ = librosa.pyin(np.asarray(audio, np.float32), fmin=PITCH_FMIN, fmax=PITCH_FMAX, sr=SAMPLE_RATE,
                                 frame_length=N_FFT, hop_length=HOP, resolution=PITCH_RESOLUTION, center=True)
    return Pitch(f0=f0, voiced=voiced.astype(bool))


def cents(f0_a: np.ndarray, f0_b: np.ndarray) -> np.ndarray:
    """Interval from b to a in cents (both in Hz, positive)."""
    return CENTS_PER_OCTAVE * np.log2(np.asarray(f0_a, np.float64) / np.asarray(f0_b, np.float64))


def pitch_rmse_cents(a: Pitch, b: Pitch, path: np.ndarray) -> float:
    """RMSE in cents over the DTW path's frame pairs voiced in both; NaN if there is no such pair."""
    i, j = path[:, 0], path[:, 1]
    both = a.voiced[i] & b.voiced[j]
    if not both.any():
        return float("nan")
    return float(np.sqrt(np.mean(cents(a.f0[i][both], b.f0[j][both]) ** 2)))


def voicing_disagreement(a: Pitch, b: Pitch, path: np.ndarray) -> float:
    """Fraction of the DTW path's frame pairs where exactly one side is voiced."""
    return float(np.mean(a.voiced[path[:, 0]] != b.voiced[path[:, 1]]))


def f0_rmse_cents(f0_a: np.ndarray, f0_b: np.ndarray, voiced_hz: float = KOKORO_VOICED_HZ) -> float:
    """Two predicted F0 curves (Hz, same frames), RMSE in cents over frames both voice.

    Voiced means above upstream SineGen's threshold (10 Hz): below it the source plays noise, not a
    pitch. NaN if no frame is voiced in both."""
    f0_a, f0_b = np.asarray(f0_a, np.float64), np.asarray(f0_b, np.float64)
    if f0_a.shape != f0_b.shape:
        raise ValueError(f"F0 curves of different lengths {f0_a.shape} and {f0_b.shape}: compare at the same durations")
    both = (f0_a > voiced_hz) & (f0_b > voiced_hz)
    if not both.any():
        return float("nan")
    return float(np.sqrt(np.mean(cents(f0_a[both], f0_b[both]) ** 2)))


@dataclass(frozen=True)
class Heard:
    """What the yardstick extracts once per audio: cepstra and pitch track."""

    cepstra: np.ndarray
    pitch: Pitch

    @classmethod
    def of(cls, audio: np.ndarray) -> "Heard":
        return cls(mel_cepstra(audio), track_pitch(audio))


@dataclass(frozen=True)
class Distance:
    """How far a candidate audio is from a reference audio, as heard."""

    mcd_db: float
    pitch_rmse_cents: float
    voicing_disagreement: float


def heard_distance(candidate: Heard, reference: Heard) -> Distance:
    """MCD, pitch RMSE and voicing disagreement on one DTW alignment of the two audios' cepstra."""
    path = dtw_path(candidate.cepstra, reference.cepstra)
    return Distance(mel_cepstral_distortion(candidate.cepstra, reference.cepstra, path),
                    pitch_rmse_cents(candidate.pitch, reference.pitch, path),
                    voicing_disagreement(candidate.pitch, reference.pitch, path))


def correlations(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(magnitude-spectrogram correlation as parity.py, waveform correlation) of equal-length audios."""
    from support.parity import spectrogram_correlation

    return spectrogram_correlation(a, b), float(np.corrcoef(a, b)[0, 1])


# --- the systems ---------------------------------------------------------------------------------


@dataclass
class Spoken:
    """One system's utterance of one phoneme string."""

    audio: np.ndarray
    """[samples] float32, 24 kHz."""
    durations: np.ndarray | None
    """[tokens] rounded frames per token, boundary pads included; None when the system does not say."""
    f0: np.ndarray | None
    """[F0_PER_FRAME * frames] the prosody stage's predicted F0 in Hz; None when the system does not expose it."""


def torch_speak(reference, phonemes: str, voice: np.ndarray, seed: int | None,
                durations: np.ndarray | None = None) -> Spoken:
    """The PyTorch reference (`TorchReference`) at an excitation seed, recording its predicted F0."""
    from kokoro_litert.convert.reference import seeded_excitation

    predictor = reference.model.predictor
    recorded = []

    def recording_f0ntrain(x, s):
        f0, n = type(predictor).F0Ntrain(predictor, x, s)
        recorded.append(f0.detach().numpy()[0].copy())
        return f0, n

    with seeded_excitation(seed), mock.patch.object(predictor, "F0Ntrain", recording_f0ntrain):
        out = reference.synthesize(phonemes, voice, durations=durations)
    return Spoken(out.audio, np.asarray(out.durations), recorded[0])


def litert_speak(backend, phonemes: str, voice: np.ndarray, seed: int,
                 durations: np.ndarray | None = None) -> Spoken:
    """A `LiteRTBackend` at a seed, its prosody stage's F0 taken from the pipeline's trace."""
    from kokoro_litert.buckets.ladder import F0_PER_FRAME

    trace = {}
    out = backend.synthesize(phonemes, voice, 1.0, seed, durations=durations, trace=trace)
    _signature, _inputs, outputs = trace["prosody"]
    f0 = np.array(outputs["f0"], np.float32)[0, : F0_PER_FRAME * int(out.durations.sum())]  # the bucket's padding cut
    return Spoken(out.audio, np.asarray(out.durations), f0)


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    text: str
    phonemes: str


@dataclass
class Row:
    """One system on one sentence (figures against the reference; NaN/None where they do not apply)."""

    id: str
    system: str
    mcd_db: float = float("nan")
    pitch_rmse_cents: float = float("nan")
    voicing_disagreement: float = float("nan")
    durations_identical: bool | None = None
    f0_rmse_cents: float = float("nan")
    """Predicted F0 vs litert-fp32's, when the durations are the same."""
    spec_corr: float = float("nan")
    wave_corr: float = float("nan")
    heard: str | None = None
    """Whisper's transcript, when ASR runs."""


@dataclass
class Run:
    """Everything one yardstick run measured."""

    cases: list[Case]
    rows: list[Row] = field(default_factory=list)
    f0: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    """(system, sentence id) -> predicted F0; durations match the curve's length."""
    durations: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    def add(self, row: Row, spoken: Spoken | None = None) -> Row:
        self.rows.append(row)
        if spoken is not None and spoken.f0 is not None:
            self.f0[row.system, row.id] = spoken.f0
            self.durations[row.system, row.id] = spoken.durations
        return row

    def systems(self) -> list[str]:
        return list(dict.fromkeys(r.system for r in self.rows))


def load_cases(max_phonemes: int, limit: int | None, numbers: bool = True) -> list[Case]:
    """Held-out sentences, then (numbers) the number-heavy set through our G2P: the first `limit`
    that fit in one chunk of `max_phonemes`."""
    from support.sentences import load_sentences

    cases = [Case(s.id, s.text, s.phonemes) for s in load_sentences("heldout")]
    if numbers:
        from kokoro_litert.runtime.text import phonemize

        cases += [Case(s.id, s.text, phonemize(s.text).phonemes) for s in load_sentences("numbers")]
    return [c for c in cases if len(c.phonemes) <= max_phonemes][:limit]


def measure(cases: list[Case], reference, voice: np.ndarray, bundles: Path | None, precisions: list[str],
            onnx_model: Path | None = None, asr: bool = True, log=print, gpu_precisions: list[str] = (),
            max_frames: int | None = None) -> Run:
    """Speak every case with every system and measure it against the reference (see the module doc).

    reference: a `TorchReference`; bundles: a bundle folder (None: no LiteRT system);
    onnx_model: kokoro-onnx's export (None: no peer); gpu_precisions: also these precisions with the
    vocoder on the GPU accelerator; max_frames: skip the cases whose reference is longer. One LiteRT
    backend is alive at a time."""
    from support import asr_judge

    transcribe = (lambda audio: asr_judge.transcribe(audio, SAMPLE_RATE)) if asr else (lambda audio: None)
    ref_spoken: dict[str, Spoken] = {}
    ref_heard: dict[str, Heard] = {}
    kept = []
    for case in cases:
        ref = torch_speak(reference, case.phonemes, voice, REFERENCE_SEED)
        if max_frames is not None and int(ref.durations.sum()) > max_frames:
            log(f"{case.id:12} skipped: {int(ref.durations.sum())} frames > --max-frames {max_frames}")
            continue
        kept.append(case)
        ref_spoken[case.id] = ref
    cases = kept
    run = Run(cases)

    for case in cases:
        ref = ref_spoken[case.id]
        ref_heard[case.id] = Heard.of(ref.audio)
        run.add(Row(case.id, f"torch-seed{REFERENCE_SEED}", 0.0, 0.0, 0.0, True, heard=transcribe(ref.audio)), ref)
        floor = torch_speak(reference, case.phonemes, voice, OTHER_SEED)
        row = _heard_row(case.id, f"torch-seed{OTHER_SEED}", floor, ref, ref_heard[case.id], transcribe)
        row.spec_corr, row.wave_corr = correlations(floor.audio, ref.audio)  # another draw, nothing else
        log(_progress(run.add(row, floor)))

    if bundles is not None:
        from kokoro_litert.runtime.litert import LiteRTBackend

        systems = [(p, "cpu") for p in precisions] + [(p, "gpu") for p in gpu_precisions]
        for precision, accelerator in systems:
            backend = LiteRTBackend(bundles, precision=precision, accelerator=accelerator)
            name = f"litert-{precision}" + ("-gpu" if accelerator == "gpu" else "")
            for case in cases:
                ref = ref_spoken[case.id]
                spoken = litert_speak(backend, case.phonemes, voice, OTHER_SEED)
                if backend.runner.gpu_fallback:
                    raise RuntimeError(f"{name}: no GPU here ({backend.runner.gpu_fallback}); run tests/gpu/setup.sh")
                row = _heard_row(case.id, name, spoken, ref, ref_heard[case.id], transcribe)
                if accelerator == "cpu":
                    pinned = litert_speak(backend, case.phonemes, voice, REFERENCE_SEED, durations=ref.durations)
                    row.spec_corr, row.wave_corr = correlations(pinned.audio, ref.audio)
                log(_progress(run.add(row, spoken)))
            del backend
            gc.collect()

    if onnx_model is not None:
        from kokoro_litert.runtime.bench import OnnxPeer

        peer = OnnxPeer(onnx_model, reference.vocab, threads=None)
        for case in cases:
            ref = ref_spoken[case.id]
            audio = np.asarray(peer.synthesize(case.phonemes, voice).audio, np.float32)
            row = _heard_row(case.id, "kokoro-onnx", Spoken(audio, None, None), ref, ref_heard[case.id], transcribe)
            if audio.shape == ref.audio.shape:  # the export draws no noise: compare with a noiseless reference
                quiet = torch_speak(reference, case.phonemes, voice, None, durations=ref.durations)
                row.spec_corr, row.wave_corr = correlations(audio, quiet.audio)
            log(_progress(run.add(row)))

    _compare_f0(run)
    return run


def _heard_row(sid: str, system: str, spoken: Spoken, ref: Spoken, ref_heard: Heard, transcribe) -> Row:
    distance = heard_distance(Heard.of(spoken.audio), ref_heard)
    same = None if spoken.durations is None else bool(np.array_equal(spoken.durations, ref.durations))
    return Row(sid, system, distance.mcd_db, distance.pitch_rmse_cents, distance.voicing_disagreement, same,
               heard=transcribe(spoken.audio))


def _compare_f0(run: Run) -> None:
    """Fill f0_rmse_cents: each system's predicted F0 against litert-fp32's on the same sentence."""
    for row in run.rows:
        key, base = (row.system, row.id), (F0_BASELINE, row.id)
        if key in run.f0 and base in run.f0 and np.array_equal(run.durations[key], run.durations[base]):
            row.f0_rmse_cents = f0_rmse_cents(run.f0[key], run.f0[base])


def _progress(row: Row) -> str:
    durations = {True: "same", False: "DIFF", None: "n/a"}[row.durations_identical]
    return (f"{row.id:12} {row.system:12} MCD {row.mcd_db:5.2f} dB  pitch {row.pitch_rmse_cents:5.1f} c  "
            f"V/UV {100 * row.voicing_disagreement:4.1f}%  durations {durations:4}  "
            f"spec {row.spec_corr:.4f} wave {row.wave_corr:.4f}")


# --- the summary -----------------------------------------------------------------------------------


def summarize(run: Run) -> dict[str, dict]:
    """system -> mean and worst of every figure over the sentences (NaNs skipped), durations identical
    (count), WER over the set (when transcripts exist), and MCD above the floor's mean."""
    from support import asr_judge

    texts = {c.id: c.text for c in run.cases}
    summary = {}
    for system in run.systems():
        rows = [r for r in run.rows if r.system == system]
        out: dict = {"sentences": len(rows)}
        for name, worst in (("mcd_db", np.max), ("pitch_rmse_cents", np.max), ("voicing_disagreement", np.max),
                            ("f0_rmse_cents", np.max), ("spec_corr", np.min), ("wave_corr", np.min)):
            values = np.array([getattr(r, name) for r in rows], np.float64)
            values = values[np.isfinite(values)]
            out[name] = {"mean": float(values.mean()) if values.size else None,
                         "worst": float(worst(values)) if values.size else None, "n": int(values.size)}
        known = [r.durations_identical for r in rows if r.durations_identical is not None]
        out["durations_identical"] = {"same": int(sum(known)), "n": len(known)} if known else None
        if all(r.heard is not None for r in rows):
            out["wer"] = asr_judge.wer([texts[r.id] for r in rows], [r.heard for r in rows])
        summary[system] = out
    floor = summary.get(f"torch-seed{OTHER_SEED}", {}).get("mcd_db", {}).get("mean")
    for system, out in summary.items():
        mean = out["mcd_db"]["mean"]
        measured = floor is not None and mean is not None and system != f"torch-seed{REFERENCE_SEED}"
        out["mcd_above_floor_db"] = mean - floor if measured else None
    return summary


def table(summary: dict[str, dict]) -> str:
    """One Markdown table: system x figure (mean / worst), the floor row first after the reference."""

    def pair(figure: dict, fmt: str, scale: float = 1.0, of: int | None = None) -> str:
        """mean / worst, and "(n of N)" when only n of the N sentences have the figure."""
        if figure["mean"] is None:
            return "n/a"
        partial = f" ({figure['n']} of {of})" if of is not None and figure["n"] < of else ""
        return f"{figure['mean'] * scale:{fmt}} / {figure['worst'] * scale:{fmt}}{partial}"

    header = ("| system | MCD dB mean / worst | MCD - floor | pitch RMSE c | V/UV disagree % | durations same "
              "| F0 vs fp32 c (n) | spec corr mean / min | wave corr mean / min | WER % |")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for system, s in summary.items():
        reference = system == f"torch-seed{REFERENCE_SEED}"
        dur = s["durations_identical"]
        f0 = s["f0_rmse_cents"]
        cells = [
            system + (" (reference)" if reference else " (floor)" if system == f"torch-seed{OTHER_SEED}" else ""),
            "-" if reference else pair(s["mcd_db"], ".2f"),
            "-" if s["mcd_above_floor_db"] is None else f"{s['mcd_above_floor_db']:+.2f}",
            "-" if reference else pair(s["pitch_rmse_cents"], ".1f"),
            "-" if reference else pair(s["voicing_disagreement"], ".1f", 100),
            "n/a" if dur is None else f"{dur['same']}/{dur['n']}",
            "n/a" if f0["mean"] is None else f"{pair(f0, '.2f')} ({f0['n']})",
            "-" if reference else pair(s["spec_corr"], ".4f", of=s["sentences"]),
            "-" if reference else pair(s["wave_corr"], ".4f", of=s["sentences"]),
            f"{100 * s['wer']:.1f}" if "wer" in s else "n/a",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", help="comma-separated precisions of the bundle folder (default: all it has)")
    parser.add_argument("--sentences", type=int, default=30, help="the first N sentences that fit (default: 30)")
    parser.add_argument("--bundles", type=Path, help="a bundle folder (default: the cache's, full default ladder)")
    parser.add_argument("--onnx", action="store_true", help="also measure kokoro-onnx's int8 export (the peer)")
    parser.add_argument("--gpu", help="comma-separated precisions to run also with the vocoder on LiteRT's GPU "
                        "accelerator (as `--accelerator gpu`; tests/gpu/setup.sh installs a software one)")
    parser.add_argument("--max-frames", type=int, help="only the sentences whose reference lasts at most N frames")
    parser.add_argument("--no-asr", action="store_true", help="skip the Whisper round trips")
    parser.add_argument("--json", type=Path, help="write every row and the summary here")
    args = parser.parse_args()
    start = time.perf_counter()

    import librosa

    from kokoro_litert.buckets.ladder import DEFAULT_LADDER
    from kokoro_litert.convert.export import cache_key, checkpoint_sha256
    from kokoro_litert.convert.fetch import ONNX_INT8_NAME
    from kokoro_litert.convert.reference import TorchReference
    from kokoro_litert.runtime.bundle import Bundle
    from kokoro_litert.runtime.cache import cache_root
    from kokoro_litert.runtime.errors import KokoroError
    from kokoro_litert.runtime.voices import load_voice

    cache = cache_root()
    bundles = args.bundles or cache / "bundles" / cache_key(checkpoint_sha256(cache / "weights"), DEFAULT_LADDER)
    if not (bundles / "manifest.json").is_file():  # a conversion takes many minutes: never start one from here
        raise KokoroError(f"No bundle folder at {bundles}.",
                          "Run `kokoro-litert convert` first, or pass --bundles DIR.")
    bundle = Bundle.open(bundles)
    precisions = args.precision.split(",") if args.precision else sorted(bundle.manifest.precisions, reverse=True)
    onnx_model = cache / "downloads" / ONNX_INT8_NAME if args.onnx else None
    if onnx_model is not None and not onnx_model.is_file():
        raise KokoroError(f"No kokoro-onnx export at {onnx_model}.", "Run `kokoro-litert fetch` to assemble it.")

    reference = TorchReference(cache / "weights")
    voice = load_voice(VOICE, cache / "voices")
    cases = load_cases(bundle.manifest.ladder.max_phonemes, args.sentences)
    print(f"{len(cases)} sentences, voice {VOICE}, systems: torch seeds {REFERENCE_SEED} (reference) and "
          f"{OTHER_SEED} (floor), litert {', '.join(precisions)}{', kokoro-onnx' if onnx_model else ''}", flush=True)
    run = measure(cases, reference, voice, bundles, precisions, onnx_model, asr=not args.no_asr,
                  log=lambda line: print(line, flush=True), gpu_precisions=args.gpu.split(",") if args.gpu else [],
                  max_frames=args.max_frames)
    cases = run.cases
    summary = summarize(run)
    seconds = time.perf_counter() - start
    print()
    print(table(summary))
    print(f"\n{len(cases)} sentences in {seconds:.0f} s (librosa {librosa.__version__}); MCD - floor: the "
          f"system's mean MCD minus torch-seed{OTHER_SEED}'s, both against torch-seed{REFERENCE_SEED}")
    if args.json:
        report = {"command": " ".join(sys.argv), "wall_s": round(seconds, 1), "bundles": str(bundles),
                  "librosa": librosa.__version__, "voice": VOICE, "sentences": [asdict(c) for c in cases],
                  "summary": summary, "rows": [_finite(asdict(r)) for r in run.rows]}
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False))


def _finite(row: dict) -> dict:
    """NaN (a figure that does not apply) as JSON null."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


if __name__ == "__main__":
    main()
