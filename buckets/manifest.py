"""The bundle manifest: manifest.json written by `convert` beside the .tflite files, read by `runtime`.

It carries everything the host needs besides the graphs: the phoneme vocabulary; which signature
serves which bucket, with the exact input/output names, shapes and dtypes (read back from the
converted files); the DSP constants the bundles were built for; the learned 9 -> 1 merge of the
harmonic source (the host's sine source runs outside the graphs); and provenance (checkpoint
sha256, converter and tool versions).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kokoro_litert.buckets.ladder import Bucket

FORMAT = "kokoro-litert-bundles"
FORMAT_VERSION = 1
STAGES = ("predictor", "prosody", "vocoder")


DEFAULT_PRECISION = "int8"
"""int8 generator convs in the vocoder: ~2x faster vocoder, spectrogram correlation ~0.998 to
PyTorch; "fp32" is the faithful one (0.99999). See convert/quantize.py."""


class ManifestError(ValueError):
    """manifest.json is missing, malformed, or from an incompatible converter."""


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int, ...]
    dtype: str
    """numpy dtype name, e.g. "float32", "int32"."""


@dataclass(frozen=True)
class SignatureSpec:
    name: str
    """Signature key in the stage's .tflite (`Interpreter.get_signature_runner(name)`)."""
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]


@dataclass(frozen=True)
class BucketSpec:
    bucket: Bucket
    predictor: SignatureSpec
    prosody: SignatureSpec
    vocoder: SignatureSpec

    def signature(self, stage: str) -> SignatureSpec:
        return getattr(self, stage)


@dataclass(frozen=True)
class Manifest:
    converter_version: str
    checkpoint_sha256: str
    files: dict[str, str]
    """stage -> float32 file name relative to the manifest ("predictor" -> "predictor.tflite")."""
    buckets: tuple[BucketSpec, ...]
    dsp: dict[str, float | int]
    """DSP constants the bundles assume (sample rate, n_fft, hop, samples per frame, source params)."""
    sine_source_weight: tuple[float, ...]
    """Generator.m_source.l_linear.weight [1, 9] flattened: merges the 9 harmonic sines."""
    sine_source_bias: float
    """Generator.m_source.l_linear.bias [1]."""
    versions: dict[str, str] = field(default_factory=dict)
    vocab: dict[str, int] = field(default_factory=dict)
    """Phoneme symbol -> token id (config.json "vocab") of the checkpoint the bundles came from."""
    variants: dict[str, dict[str, str]] = field(default_factory=dict)
    """precision ("int8") -> the stage files that differ from `files` ({"vocoder": "vocoder.int8.tflite"})."""
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    @property
    def precisions(self) -> tuple[str, ...]:
        return ("fp32", *sorted(self.variants))

    def files_for(self, precision: str) -> dict[str, str]:
        """stage -> file for a precision: "fp32" (the converted graphs) or one of `variants`."""
        if precision == "fp32":
            return dict(self.files)
        if precision not in self.variants:
            raise ManifestError(f"these bundles have no {precision!r} variant (they have {', '.join(self.precisions)}): "
                                "convert them again with this version of kokoro-litert, or pick another precision")
        return {**self.files, **self.variants[precision]}

    @property
    def ladder(self) -> tuple[Bucket, ...]:
        return tuple(sorted(b.bucket for b in self.buckets))

    def spec(self, bucket: Bucket) -> BucketSpec:
        for b in self.buckets:
            if b.bucket == bucket:
                return b
        raise KeyError(f"bucket {bucket} is not in this bundle; it holds {[b.name for b in self.ladder]}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def from_dict(cls, raw: dict) -> "Manifest":
        if raw.get("format") != FORMAT:
            raise ManifestError(f"not a {FORMAT} manifest (format={raw.get('format')!r})")
        if raw.get("format_version") != FORMAT_VERSION:
            raise ManifestError(
                f"manifest format version {raw.get('format_version')} is not {FORMAT_VERSION}: "
                "convert the bundles again with this version of kokoro-litert"
            )

        def sig(d: dict) -> SignatureSpec:
            def tensors(m: dict) -> dict[str, TensorSpec]:
                return {k: TensorSpec(tuple(v["shape"]), v["dtype"]) for k, v in m.items()}

            return SignatureSpec(d["name"], tensors(d["inputs"]), tensors(d["outputs"]))

        buckets = tuple(
            BucketSpec(Bucket(**b["bucket"]), *(sig(b[s]) for s in STAGES)) for b in raw["buckets"]
        )
        return cls(
            converter_version=raw["converter_version"],
            checkpoint_sha256=raw["checkpoint_sha256"],
            files=dict(raw["files"]),
            buckets=buckets,
            dsp=dict(raw["dsp"]),
            sine_source_weight=tuple(raw["sine_source_weight"]),
            sine_source_bias=float(raw["sine_source_bias"]),
            versions=dict(raw.get("versions", {})),
            vocab={str(k): int(v) for k, v in raw.get("vocab", {}).items()},
            variants={str(k): dict(v) for k, v in raw.get("variants", {}).items()},
        )

    @classmethod
    def load(cls, path: str | Path) -> "Manifest":
        path = Path(path)
        if path.is_dir():
            path = path / "manifest.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ManifestError(f"no manifest at {path}: run the converter (convert_bundles) first") from e
        except json.JSONDecodeError as e:
            raise ManifestError(f"{path} is not valid JSON ({e}): convert the bundles again") from e
        try:
            return cls.from_dict(raw)
        except (KeyError, TypeError) as e:
            raise ManifestError(f"{path} is missing or has a malformed field ({e}): convert the bundles again") from e
