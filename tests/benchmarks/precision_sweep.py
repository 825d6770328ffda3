"""Per-layer precision sweep under the fidelity yardstick: what each weight group costs the speech.

    python tests/benchmarks/precision_sweep.py [--bundles DIR] [--sentences 30] [--variants a,b,...]
                                               [--asr] [--work DIR] [--json FILE] [--time frames_256]

A variant stores one stage's weight groups at other precisions (convert/quantize.py `Rule`s over
the stage module's parameter names), the other stages float32 unless it says otherwise; its files
are written from the bundle folder's fp32 graphs by convert/quantize.py's own writer and measured
as the yardstick measures a shipped precision (tests/benchmarks/yardstick.py; same sentences,
voice, seeds), against the PyTorch reference at excitation seed 2:

- durations: sentences whose rounded durations equal the reference's;
- F0 cents: the prosody stage's predicted F0 against litert-fp32's, RMSE per sentence (mean / worst),
  where the durations match;
- MCD - floor: mean MCD-DTW minus the seed-to-seed floor's (PyTorch seed 1 against seed 2);
- WER (--asr): Whisper tiny.en over the set, beside PyTorch seed 2's;
- MB: the variant's files of the stages it changes;
- vocoder s (--time SIGNATURE): one vocoder call at that size, median of 4 after a warm-up, 2
  threads (compare variants of one run: the box is shared).

The reference audio and the fp32 curves are computed once per bundle folder and sentence count
(kept in --work). Pitch tracking is left out (not part of the floor): a variant costs about a
minute of synthesis.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # yardstick
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: support

import yardstick  # noqa: E402

from kokoro_litert.convert.quantize import Rule  # noqa: E402

R = Rule
FP16_ALL = (R("*", "fp16"),)
"""Every weight float16 (before the rules that keep embeddings and the like float32 apply: the
sweep writer takes only what KERNELS allow, see `_plan`)."""

VARIANTS: dict[str, dict[str, tuple[Rule, ...]]] = {
    # the floor of the other measurements: the fp32 graphs
    "fp32": {},
    # --- today's default, stage by stage
    "old-int8": {
        "predictor": (R("text_encoder.cnn.*", "int8"), R("text_encoder.lstm.weight_ih*", "int8")),
        "prosody": (R("N.*.conv*", "int8"),),
        "vocoder": (R("decoder.F0_conv.*", "fp32"), R("decoder.N_conv.*", "fp32"), R("decoder.asr_res.*", "fp32"),
                    R("decoder.*", "int8"), R("generator.noise_convs.*", "fp32"),
                    R("generator.conv_post.*", "fp32"), R("generator.*", "int8")),
    },
    # --- predictor groups, one at a time (the rest float32)
    "pred-text-encoder-int8": {"predictor": (R("text_encoder.embedding.*", "fp32"), R("text_encoder.*_hh_*", "fp32"),
                                             R("text_encoder.*", "int8"))},
    "pred-fp16": {"predictor": FP16_ALL},
    "pred-albert-fp16": {"predictor": (R("bert.embeddings.*", "fp32"), R("bert.*", "fp16"))},
    "pred-albert-int8": {"predictor": (R("bert.embeddings.*", "fp32"), R("bert.*", "int8"))},
    "pred-albert-ffn-int8": {"predictor": (R("bert.encoder.*.ffn*", "int8"),)},
    "pred-albert-attention-int8": {"predictor": (R("bert.encoder.*.attention.*", "int8"),)},
    "pred-bert-encoder-int8": {"predictor": (R("bert_encoder.*", "int8"),)},
    "pred-duration-encoder-lstm-ih-int8": {"predictor": (R("duration_encoder.*weight_ih*", "int8"),)},
    "pred-duration-encoder-int8": {"predictor": (R("duration_encoder.*_hh_*", "fp32"), R("duration_encoder.*", "int8"))},
    "pred-duration-lstm-ih-int8": {"predictor": (R("lstm.weight_ih*", "int8"),)},
    "pred-recurrent-int8": {"predictor": (R("*_hh_*", "int8"),)},
    "pred-recurrent-fp16": {"predictor": (R("*_hh_*", "fp16"),)},
    "pred-duration-encoder-fp16": {"predictor": (R("duration_encoder.*", "fp16"),)},
    "pred-lstm-fp16": {"predictor": (R("lstm.*", "fp16"), R("duration_proj.*", "fp16"))},
    "pred-text-encoder-fp16": {"predictor": (R("text_encoder.embedding.*", "fp32"), R("text_encoder.*", "fp16"))},
    "pred-albert-ffn-output-int8": {"predictor": (R("bert.encoder.*.ffn_output.*", "int8"),)},
    "pred-albert-dense-int8": {"predictor": (R("bert.encoder.*.attention.dense.*", "int8"),)},
    "pred-adaln-int8": {"predictor": (R("duration_encoder.lstms.*.fc.*", "int8"),)},
    "pred-albert-int4": {"predictor": (R("bert.embeddings.*", "fp32"), R("bert.*", "int4"))},
    "pred-duration-encoder-lstm-ih-int4": {"predictor": (R("duration_encoder.*weight_ih*", "int4"),)},
    # --- prosody groups
    "pros-n-int8": {"prosody": (R("N.*", "int8"),)},
    "pros-fp16": {"prosody": FP16_ALL},
    "pros-f0-int8": {"prosody": (R("F0.*", "int8"),)},
    "pros-f0-convs-int8": {"prosody": (R("F0.*.conv*", "int8"),)},
    "pros-shared-int8": {"prosody": (R("shared.*_hh_*", "fp32"), R("shared.*", "int8"))},
    "pros-fp16-f0proj-fp32": {"prosody": (R("F0_proj.*", "fp32"), R("*", "fp16"))},
    "pros-shared-fp16": {"prosody": (R("shared.*", "fp16"),)},
    "pros-f0-branch-fp16": {"prosody": (R("F0.*", "fp16"),)},
    "pros-n-branch-fp16": {"prosody": (R("N.*", "fp16"), R("N_proj.*", "fp16"))},
    "pros-f0-last-fp32": {"prosody": (R("F0.2.*", "fp32"), R("F0_proj.*", "fp32"), R("*", "fp16"))},
    # --- vocoder groups (old-int8's vocoder with one group at float16 instead)
    "voc-int8": {"vocoder": (R("decoder.F0_conv.*", "fp32"), R("decoder.N_conv.*", "fp32"),
                             R("decoder.asr_res.*", "fp32"), R("decoder.*", "int8"),
                             R("generator.noise_convs.*", "fp32"), R("generator.conv_post.*", "fp32"),
                             R("generator.*", "int8"))},
}


# --- the shipped default (convert/quantize.py RECIPES["int8"], read from there) and candidates smaller
# than it, all three stages each
SHIPPED = None
"""A stage's rules in a variant: the shipped default's for that stage."""
DEFAULT = {"predictor": SHIPPED, "prosody": SHIPPED, "vocoder": SHIPPED}
PREDICTOR_ALBERT_INT8 = (R("text_encoder.embedding.*", "fp32"), R("text_encoder.*_hh_*", "fp16"),
                         R("text_encoder.*", "int8"), R("bert.embeddings.*", "fp32"), R("bert.*", "int8"),
                         R("*", "fp16"))
VARIANTS.update({
    "default": DEFAULT,
    "default-vocoder-int8": {**DEFAULT, "vocoder": VARIANTS["voc-int8"]["vocoder"]},
    "default-prosody-fp16": {**DEFAULT, "prosody": (R("N.*", "int8"), R("*", "fp16"))},
    "default-prosody-fp16-albert-int8": {**DEFAULT, "prosody": (R("N.*", "int8"), R("*", "fp16")),
                                         "predictor": PREDICTOR_ALBERT_INT8},
    "default-prosody-fp16-albert-int8-vocoder-int8": {
        "predictor": PREDICTOR_ALBERT_INT8, "prosody": (R("N.*", "int8"), R("*", "fp16")),
        "vocoder": VARIANTS["voc-int8"]["vocoder"]},
})


def _vocoder_with(*first: Rule) -> tuple[Rule, ...]:
    return (*first, *VARIANTS["voc-int8"]["vocoder"])


VARIANTS.update({
    "voc-decoder-fp16": {"vocoder": _vocoder_with(R("decoder.encode.*", "fp16"), R("decoder.decode.*", "fp16"))},
    "voc-decode3-fp16": {"vocoder": _vocoder_with(R("decoder.decode.3.*", "fp16"))},
    "voc-resblocks-256-fp16": {"vocoder": _vocoder_with(*(R(f"generator.resblocks.{i}.*", "fp16") for i in (0, 1, 2)))},
    "voc-resblocks-128-fp16": {"vocoder": _vocoder_with(*(R(f"generator.resblocks.{i}.*", "fp16") for i in (3, 4, 5)))},
    "voc-noise-res-fp16": {"vocoder": _vocoder_with(R("generator.noise_res.*", "fp16"))},
    "voc-affines-fp16": {"vocoder": _vocoder_with(R("*.fc.weight", "fp16"))},
    "voc-ups-fp32": {"vocoder": _vocoder_with(R("generator.ups.*", "fp32"))},
    "voc-generator-fp16": {"vocoder": _vocoder_with(R("generator.ups.*", "int8"), R("generator.*", "fp16"))},
})

# --- the default's float16 residual blocks at the output rate (its slowest part: float16 weights are
# computed in float32), part by part back to int8
OUTPUT_RATE_BLOCKS = "generator.resblocks.[345]"
VARIANTS.update({
    "default-output-blocks-affines-fp16": {**DEFAULT, "vocoder": _vocoder_with(R(f"{OUTPUT_RATE_BLOCKS}.adain*", "fp16"))},
    "default-output-blocks-convs1-fp16": {**DEFAULT, "vocoder": _vocoder_with(
        R(f"{OUTPUT_RATE_BLOCKS}.adain*", "fp16"), R(f"{OUTPUT_RATE_BLOCKS}.convs1.*", "fp16"))},
    "default-output-blocks-convs2-fp16": {**DEFAULT, "vocoder": _vocoder_with(
        R(f"{OUTPUT_RATE_BLOCKS}.adain*", "fp16"), R(f"{OUTPUT_RATE_BLOCKS}.convs2.*", "fp16"))},
    "default-output-block5-fp16": {**DEFAULT, "vocoder": _vocoder_with(
        R(f"{OUTPUT_RATE_BLOCKS}.adain*", "fp16"), R("generator.resblocks.5.*", "fp16"))},
    "default-output-blocks45-fp16": {**DEFAULT, "vocoder": _vocoder_with(
        R(f"{OUTPUT_RATE_BLOCKS}.adain*", "fp16"), R("generator.resblocks.[45].*", "fp16"))},
})


# --- the reference, once -------------------------------------------------------------------------------


def reference_run(bundles: Path, cases, voice, work: Path, log) -> dict:
    """Per sentence: the reference's durations and cepstra, the floor's MCD, litert-fp32's F0 and
    durations (and transcripts with asr); cached in `work`."""
    key = hashlib.sha256(json.dumps([str(bundles.resolve()), [c.phonemes for c in cases]]).encode()).hexdigest()[:12]
    path = work / f"reference-{key}.npz"
    if path.is_file():
        data = np.load(path, allow_pickle=True)
        return data["reference"].item()
    from kokoro_litert.convert.reference import TorchReference
    from kokoro_litert.runtime.cache import cache_root
    from kokoro_litert.runtime.litert import LiteRTBackend

    from support import asr_judge

    reference = TorchReference(cache_root() / "weights")
    out = {"durations": {}, "cepstra": {}, "floor_mcd": {}, "fp32_f0": {}, "fp32_durations": {}, "heard": {}}
    for case in cases:
        ref = yardstick.torch_speak(reference, case.phonemes, voice, yardstick.REFERENCE_SEED)
        floor = yardstick.torch_speak(reference, case.phonemes, voice, yardstick.OTHER_SEED)
        cepstra = yardstick.mel_cepstra(ref.audio)
        out["durations"][case.id] = ref.durations
        out["cepstra"][case.id] = cepstra
        out["floor_mcd"][case.id] = _mcd(floor.audio, cepstra)
        out["heard"][case.id] = asr_judge.transcribe(ref.audio, yardstick.SAMPLE_RATE)
        log(f"reference {case.id}: floor MCD {out['floor_mcd'][case.id]:.2f} dB")
    backend = LiteRTBackend(bundles, precision="fp32")
    for case in cases:
        spoken = yardstick.litert_speak(backend, case.phonemes, voice, yardstick.OTHER_SEED)
        out["fp32_f0"][case.id], out["fp32_durations"][case.id] = spoken.f0, spoken.durations
    np.savez(path, reference=np.array(out, dtype=object))
    return out


def _mcd(audio: np.ndarray, reference_cepstra: np.ndarray) -> float:
    cepstra = yardstick.mel_cepstra(audio)
    return yardstick.mel_cepstral_distortion(cepstra, reference_cepstra, yardstick.dtw_path(cepstra, reference_cepstra))


# --- a variant's files -------------------------------------------------------------------------------


def write_variant(name: str, rules: dict[str, tuple[Rule, ...] | None], base: Path, folder: Path, modules, log) -> dict:
    """Write the variant's stage files into the sweep folder and list them as precision `name` in its
    manifest; return {stage: bytes} of the files it wrote."""
    from ai_edge_litert.tools import flatbuffer_utils

    from kokoro_litert.buckets.manifest import STAGES, Manifest
    from kokoro_litert.convert import quantize
    from kokoro_litert.runtime.cache import sha256_file

    manifest = json.loads((folder / "manifest.json").read_text())
    fp32 = Manifest.load(base).files_for("fp32")
    # only the fp32 graphs and this variant's files (an earlier variant's are deleted)
    manifest["precisions"] = {"fp32": manifest["precisions"]["fp32"]}
    manifest["sha256"] = {k: v for k, v in manifest["sha256"].items() if (folder / k).is_file()}
    files, sizes = dict(fp32), {}
    for stage, stage_rules in rules.items():
        src = base / fp32[stage]
        model = flatbuffer_utils.read_model(str(src))
        weights = quantize.find_weights(model, modules(stage))
        if stage_rules is SHIPPED:
            stage_rules = quantize.RECIPES["int8"](stage, modules(stage))
        plan = _plan(stage_rules, weights)
        out = folder / f"{stage}.{name}.tflite"
        counts = quantize.write_weights(src, out, plan, model)
        files[stage] = out.name
        sizes[stage] = out.stat().st_size
        manifest["sha256"][out.name] = sha256_file(out)
        log(f"  {name} {stage}: {dict(counts)} -> {sizes[stage] / 1e6:.1f} MB")
    manifest["precisions"][name] = {s: files[s] for s in STAGES}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return sizes


def _plan(rules: tuple[Rule, ...], weights) -> dict[int, str]:
    """quantize.plan_precision's choice, lenient: a rule that finds nothing is fine, and a weight whose
    op the precision does not serve without a float32 copy (KERNELS) stays float32."""
    import fnmatch

    from kokoro_litert.convert.quantize import KERNELS

    plan = {}
    for b, w in weights.items():
        rule = next((r for r in rules if w.parameter and fnmatch.fnmatchcase(w.parameter, r.parameters)), None)
        if rule is None or rule.precision == "fp32" or w.ops - KERNELS[rule.precision]:
            continue
        if rule.precision == "int8" and w.other_uses:
            continue
        plan[b] = rule.precision
    return plan


def sweep_folder(base: Path, work: Path) -> Path:
    """A bundle folder in `work` that links to `base`'s fp32 files, voices and lexicons."""
    folder = work / "bundle"
    if not folder.is_dir():
        folder.mkdir(parents=True)
        from kokoro_litert.buckets.manifest import Manifest

        manifest = json.loads((base / "manifest.json").read_text())
        keep = set(Manifest.load(base).files_for("fp32").values()) | {"voices.bin"} | set(manifest["lexicons"].values())
        for name in keep:
            os.symlink(base / name, folder / name)
        manifest["precisions"] = {"fp32": manifest["precisions"]["fp32"]}
        manifest["sha256"] = {k: v for k, v in manifest["sha256"].items() if k in keep}
        manifest["default_precision"] = "fp32"
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


# --- measuring --------------------------------------------------------------------------------------


def time_vocoder(backend, signature: str, calls: int = 4) -> float:
    """Median seconds of one vocoder call at `signature` (inputs random, every frame real), warmed."""
    from kokoro_litert.runtime.litert import random_inputs

    inputs = random_inputs(backend.bundle.manifest.signature("vocoder", signature), np.random.default_rng(0))
    backend.runner.run("vocoder", signature, **inputs)
    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        backend.runner.run("vocoder", signature, **inputs)
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds))


def measure_variant(folder: Path, precision: str, cases, voice, ref: dict, asr: bool,
                    time_signature: str | None = None) -> dict:
    from kokoro_litert.runtime.litert import LiteRTBackend

    from support import asr_judge

    backend = LiteRTBackend(folder, precision=precision)
    same, f0, bias, mcd, heard = 0, [], [], [], {}
    for case in cases:
        spoken = yardstick.litert_speak(backend, case.phonemes, voice, yardstick.OTHER_SEED)
        same += bool(np.array_equal(spoken.durations, ref["durations"][case.id]))
        if np.array_equal(spoken.durations, ref["fp32_durations"][case.id]):
            f0.append(yardstick.f0_rmse_cents(spoken.f0, ref["fp32_f0"][case.id]))
            both = (spoken.f0 > yardstick.KOKORO_VOICED_HZ) & (ref["fp32_f0"][case.id] > yardstick.KOKORO_VOICED_HZ)
            bias.append(float(np.mean(yardstick.cents(spoken.f0[both], ref["fp32_f0"][case.id][both]))) if both.any() else 0.0)
        mcd.append(_mcd(spoken.audio, ref["cepstra"][case.id]) - ref["floor_mcd"][case.id])
        if asr:
            heard[case.id] = asr_judge.transcribe(spoken.audio, yardstick.SAMPLE_RATE)
    vocoder_s = time_vocoder(backend, time_signature) if time_signature else None
    del backend
    out = {"durations_same": same, "sentences": len(cases), "f0_n": len(f0),
           "f0_mean": float(np.nanmean(f0)) if f0 else None, "f0_worst": float(np.nanmax(f0)) if f0 else None,
           "f0_bias_cents": float(np.mean(bias)) if bias else None,
           "mcd_above_floor": float(np.mean(mcd)), "mcd_above_floor_worst": float(np.max(mcd))}
    if vocoder_s is not None:
        out["vocoder_s"], out["vocoder_signature"] = vocoder_s, time_signature
    if asr:
        texts = [c.text for c in cases]
        out["wer"] = asr_judge.wer(texts, [heard[c.id] for c in cases])
        out["wer_reference"] = asr_judge.wer(texts, [ref["heard"][c.id] for c in cases])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=Path, help="a bundle folder with fp32 graphs (default: the cache's)")
    parser.add_argument("--sentences", type=int, default=30)
    parser.add_argument("--variants", help=f"comma-separated, of: {', '.join(VARIANTS)} (default: all)")
    parser.add_argument("--asr", action="store_true", help="also Whisper's WER (slower)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/kokoro-precision-sweep"))
    parser.add_argument("--json", type=Path, help="append each variant's figures here (JSON lines)")
    parser.add_argument("--time", metavar="SIGNATURE", help="also time the variant's vocoder at this signature "
                        "(e.g. frames_256: median of 4 calls, 2 threads)")
    args = parser.parse_args()

    from kokoro_litert.buckets.ladder import DEFAULT_LADDER
    from kokoro_litert.buckets.manifest import Manifest
    from kokoro_litert.convert.export import _build_stage, cache_key, checkpoint_sha256
    from kokoro_litert.runtime.cache import cache_root
    from kokoro_litert.runtime.voices import load_voice

    cache = cache_root()
    base = (args.bundles or cache / "bundles" / cache_key(checkpoint_sha256(cache / "weights"), DEFAULT_LADDER)).resolve()
    names = args.variants.split(",") if args.variants else list(VARIANTS)
    unknown = set(names) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}")
    work = args.work / hashlib.sha256(str(base).encode()).hexdigest()[:8]
    work.mkdir(parents=True, exist_ok=True)
    folder = sweep_folder(base, work)
    voice = load_voice(yardstick.VOICE, cache / "voices")
    cases = yardstick.load_cases(Manifest.load(base).ladder.max_phonemes, args.sentences)
    log = lambda line: print(line, flush=True)  # noqa: E731
    start = time.perf_counter()
    ref = reference_run(base, cases, voice, work, log)
    log(f"{len(cases)} sentences; reference ready in {time.perf_counter() - start:.0f} s; floor MCD mean "
        f"{np.mean(list(ref['floor_mcd'].values())):.2f} dB")

    built = {}

    def modules(stage):
        if stage not in built:
            built.clear()  # one stage module at a time
            built[stage] = _build_stage(cache / "weights", stage)
        return built[stage]

    rows = []
    fp32_sizes = {s: (base / f).stat().st_size for s, f in Manifest.load(base).files_for("fp32").items()}
    for name in names:
        t0 = time.perf_counter()
        rules = VARIANTS[name]
        sizes = write_variant(name, rules, base, folder, modules, log) if rules else {}
        figures = measure_variant(folder, name if rules else "fp32", cases, voice, ref, args.asr, args.time)
        figures.update(variant=name, mb={s: round(b / 1e6, 1) for s, b in sizes.items()},
                       fp32_mb={s: round(fp32_sizes[s] / 1e6, 1) for s in sizes}, seconds=round(time.perf_counter() - t0))
        rows.append(figures)
        log(_line(figures))
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(figures) + "\n")
        for stage in rules:
            (folder / f"{stage}.{name}.tflite").unlink(missing_ok=True)
        shutil.rmtree(folder / ".xnnpack", ignore_errors=True)
    log("")
    log("| variant | MB (stages changed) | durations same | F0 vs fp32 c mean / worst | MCD - floor dB | WER % "
        f"| vocoder s ({args.time or 'not timed'}) |")
    log("|---|---|---|---|---|---|---|")
    for r in rows:
        log(_row(r))


def _line(r: dict) -> str:
    f0 = "n/a" if r["f0_mean"] is None else f"{r['f0_mean']:.2f} / {r['f0_worst']:.2f} ({r['f0_n']})"
    wer = f"  WER {100 * r['wer']:.1f}% (ref {100 * r['wer_reference']:.1f}%)" if "wer" in r else ""
    bias = "" if r.get("f0_bias_cents") is None else f" bias {r['f0_bias_cents']:+.3f} c"
    timed = f"  vocoder {r['vocoder_signature']} {r['vocoder_s']:.3f} s" if "vocoder_s" in r else ""
    return (f"{r['variant']:34} {r['mb']}  durations {r['durations_same']}/{r['sentences']}  F0 {f0}{bias}  "
            f"MCD-floor {r['mcd_above_floor']:+.2f} dB (worst {r['mcd_above_floor_worst']:+.2f}){wer}{timed}  "
            f"[{r['seconds']} s]")


def _row(r: dict) -> str:
    mb = ", ".join(f"{s} {v}" for s, v in r["mb"].items()) or "-"
    f0 = "n/a" if r["f0_mean"] is None else f"{r['f0_mean']:.2f} / {r['f0_worst']:.2f}"
    wer = f"{100 * r['wer']:.1f}" if "wer" in r else "-"
    timed = f"{r['vocoder_s']:.3f}" if "vocoder_s" in r else "-"
    return (f"| {r['variant']} | {mb} | {r['durations_same']}/{r['sentences']} | {f0} | {r['mcd_above_floor']:+.2f} "
            f"| {wer} | {timed} |")


if __name__ == "__main__":
    main()
