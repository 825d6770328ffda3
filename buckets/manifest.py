"""The bundle manifest: manifest.json, written by `convert` beside the .tflite files, read by every host.

A bundle folder is self-contained: the three stage graphs (per precision), `voices.bin`, and this
manifest, which carries everything a host needs besides the graphs:

- `precisions`: precision -> stage -> file ("int8" -> "vocoder" -> "vocoder.int8.tflite"), and
  `default_precision`; `sha256` of every file the manifest names, which is every file of the folder
  besides manifest.json (it also keys the XNNPACK weight cache);
- the ladder (`buckets`, `vocoder_frames`) and, per stage and signature, the exact input/output
  names, shapes and dtypes (read back from the converted files; feed and read by name);
- `dsp`: the constants the bundles were built for, and the learned 9 -> 1 merge of the harmonic
  source (`sine_source_weight`, `sine_source_bias`; the host's sine source runs outside the graphs);
- `vocab`: phoneme symbol -> token id; `voices`: the voice names, in the order of `voices.bin`;
- `lexicons`: accent ("a" American, "b" British) -> the portable lexicon file (format in
  runtime/text/__init__.py), for hosts without the Python front-end's data (the Android demo);
- `gpu` (optional; `kokoro-litert export --gpu` writes it): stage -> signature -> {"body": file,
  "head": file}, the GPU variant of a stage for hosts that cannot cut graphs themselves (the JVM and
  Android runners). Each file holds that one signature: the body takes the signature's inputs and
  outputs `head_input_<i>`; the head (computed in float32 on the GPU) takes those and gives the
  signature's outputs. On the GPU the stage runs at these sizes only (`gpu_ladder`);
- provenance: checkpoint sha256, converter and tool versions.

voices.bin: little-endian float32, [len(voices), VOICE_ROWS, STYLE_DIM] (510 x 256 per voice, in
the order `voices` lists them): row n-1 is a voice's style for an utterance of n phonemes.

A folder may hold any subset of what `convert` writes, as long as its manifest names only that:
`kokoro-litert export` (runtime/deploy.py) writes one precision, some voices and the lexicons of
their languages, with a manifest in this same format.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kokoro_litert.buckets import STYLE_DIM, VOICE_ROWS
from kokoro_litert.buckets.ladder import Bucket, Ladder, vocoder_signature

FORMAT = "kokoro-litert-bundles"
FORMAT_VERSION = 2
STAGES = ("predictor", "prosody", "vocoder")
VOICES_FILE = "voices.bin"
VOICE_BYTES = VOICE_ROWS * STYLE_DIM * 4  # 522,240 per voice

DEFAULT_PRECISION = "int8"
"""The precision `say` uses without --precision (see convert/quantize.py for what it quantizes)."""


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
    """Signature key in the stage's .tflite (`get_signature_runner(name)`, `get_signature_index(name)`)."""
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]


@dataclass(frozen=True)
class Manifest:
    converter_version: str
    checkpoint_sha256: str
    precisions: dict[str, dict[str, str]]
    """precision -> stage -> file name relative to the manifest."""
    default_precision: str
    sha256: dict[str, str]
    """file name -> sha256 of every file the manifest names (graphs, voices, lexicons)."""
    buckets: tuple[Bucket, ...]
    """(tokens, frames) buckets of the predictor and prosody."""
    vocoder_frames: tuple[int, ...]
    signatures: dict[str, dict[str, SignatureSpec]]
    """stage -> signature name -> I/O spec."""
    dsp: dict[str, float | int]
    """DSP constants the bundles assume (sample rate, n_fft, hop, samples per frame, source params)."""
    sine_source_weight: tuple[float, ...]
    """Generator.m_source.l_linear.weight [1, 9] flattened: merges the 9 harmonic sines."""
    sine_source_bias: float
    """Generator.m_source.l_linear.bias [1]."""
    vocab: dict[str, int]
    """Phoneme symbol -> token id (config.json "vocab") of the checkpoint the bundles came from."""
    voices: tuple[str, ...]
    """Voice names in the order of voices.bin."""
    lexicons: dict[str, str] = field(default_factory=dict)
    """accent -> portable lexicon file name (runtime/text/__init__.py documents the format)."""
    gpu: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    """stage -> signature -> {"body": file, "head": file}: the stage's GPU variant (see the module doc)."""
    versions: dict[str, str] = field(default_factory=dict)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    @property
    def ladder(self) -> Ladder:
        return Ladder(self.buckets, self.vocoder_frames)

    @property
    def file_names(self) -> set[str]:
        """Every file the manifest names: each precision's graphs, voices.bin, the lexicons."""
        graphs = {name for files in self.precisions.values() for name in files.values()}
        gpu = {name for signatures in self.gpu.values() for parts in signatures.values() for name in parts.values()}
        return graphs | gpu | {VOICES_FILE} | set(self.lexicons.values())

    def gpu_ladder(self, stage: str = "vocoder") -> Ladder | None:
        """The ladder with the vocoder at the sizes of its GPU variant; None without one."""
        sizes = [int(name.rsplit("_", 1)[1]) for name in self.gpu.get(stage, {})]
        return Ladder(self.buckets, tuple(sizes)) if sizes else None

    def files_for(self, precision: str) -> dict[str, str]:
        """stage -> file for a precision."""
        if precision not in self.precisions:
            raise ManifestError(f"these bundles have no {precision!r} precision (they have "
                                f"{', '.join(sorted(self.precisions))}): pick one of those, or convert them "
                                "again with this version of kokoro-litert")
        return dict(self.precisions[precision])

    def signature(self, stage: str, name: str) -> SignatureSpec:
        try:
            return self.signatures[stage][name]
        except KeyError:
            raise ManifestError(f"the {stage} stage has no signature {name!r} (it has "
                                f"{', '.join(self.signatures.get(stage, {}))})") from None

    def predictor_signature(self, bucket: Bucket) -> SignatureSpec:
        return self.signature("predictor", bucket.predictor_signature)

    def prosody_signature(self, bucket: Bucket) -> SignatureSpec:
        return self.signature("prosody", bucket.prosody_signature)

    def vocoder_signature(self, frames: int) -> SignatureSpec:
        return self.signature("vocoder", vocoder_signature(frames))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n"

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def from_dict(cls, raw: dict) -> "Manifest":
        if not isinstance(raw, dict):
            raise ManifestError(f"a manifest is a JSON object, this one is a {type(raw).__name__}")
        if raw.get("format") != FORMAT:
            raise ManifestError(f"not a {FORMAT} manifest (format={raw.get('format')!r})")
        if raw.get("format_version") != FORMAT_VERSION:
            raise ManifestError(
                f"manifest format version {raw.get('format_version')} is not {FORMAT_VERSION}: "
                "convert the bundles again with this version of kokoro-litert"
            )

        def tensors(m: dict) -> dict[str, TensorSpec]:
            return {k: TensorSpec(tuple(int(s) for s in v["shape"]), str(v["dtype"])) for k, v in m.items()}

        signatures = {stage: {name: SignatureSpec(name, tensors(d["inputs"]), tensors(d["outputs"]))
                              for name, d in raw["signatures"][stage].items()} for stage in STAGES}
        manifest = cls(
            converter_version=str(raw["converter_version"]),
            checkpoint_sha256=str(raw["checkpoint_sha256"]),
            precisions={str(p): {s: str(raw["precisions"][p][s]) for s in STAGES} for p in raw["precisions"]},
            default_precision=str(raw["default_precision"]),
            sha256={str(k): str(v) for k, v in raw["sha256"].items()},
            buckets=tuple(Bucket(int(b["tokens"]), int(b["frames"])) for b in raw["buckets"]),
            vocoder_frames=tuple(int(f) for f in raw["vocoder_frames"]),
            signatures=signatures,
            dsp=dict(raw["dsp"]),
            sine_source_weight=tuple(float(v) for v in raw["sine_source_weight"]),
            sine_source_bias=float(raw["sine_source_bias"]),
            vocab={str(k): int(v) for k, v in raw["vocab"].items()},
            voices=tuple(str(v) for v in raw["voices"]),
            lexicons={str(k): str(v) for k, v in raw.get("lexicons", {}).items()},
            gpu={str(stage): {str(sig): {"body": str(parts["body"]), "head": str(parts["head"])}
                              for sig, parts in signatures.items()}
                 for stage, signatures in raw.get("gpu", {}).items()},
            versions={str(k): str(v) for k, v in raw.get("versions", {}).items()},
        )
        if manifest.default_precision not in manifest.precisions:
            raise ManifestError(f"default_precision {manifest.default_precision!r} is not one of the precisions")
        unlisted = sorted(manifest.file_names - set(manifest.sha256))
        if unlisted:
            raise ManifestError(f"sha256 has no checksum for {', '.join(unlisted)}")
        missing = [f"{stage}/{sig}" for b in manifest.buckets
                   for stage, sig in (("predictor", b.predictor_signature), ("prosody", b.prosody_signature))
                   if sig not in manifest.signatures[stage]]
        missing += [f"vocoder/{vocoder_signature(f)}" for f in manifest.vocoder_frames
                    if vocoder_signature(f) not in manifest.signatures["vocoder"]]
        missing += [f"{stage}/{sig} (gpu)" for stage, signatures in manifest.gpu.items() for sig in signatures
                    if sig not in manifest.signatures.get(stage, {})]
        if missing:
            raise ManifestError(f"the ladder names signatures the manifest does not describe: {', '.join(missing)}")
        manifest.ladder  # validates the ladder itself
        manifest.gpu_ladder()  # and the GPU vocoder's sizes (they must hold the largest bucket)
        return manifest

    @classmethod
    def load(cls, path: str | Path) -> "Manifest":
        path = Path(path)
        if path.is_dir():
            path = path / "manifest.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ManifestError(f"no manifest at {path}: this is not a bundle folder (run `kokoro-litert convert`)") from e
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ManifestError(f"{path} is not valid JSON ({e}): convert the bundles again") from e
        try:
            return cls.from_dict(raw)
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, ManifestError):
                raise
            raise ManifestError(f"{path} is missing or has a malformed field ({e}): convert the bundles again") from e
