"""Runs the bundle's signatures on LiteRT's CPU runtime (CompiledModel, XNNPACK), in bounded memory.

- One CompiledModel per stage file, created on first use, with an XNNPACK weight cache: the packed
  weights live in a file beside the bundle (`WeightCache`), mmapped, so start-up does not repack
  them and the same weights are held once however many signatures use them.
- All signatures of a model share one activation workspace (XNNPACK's, sized by the largest
  signature run so far): measured on the int8 vocoder, its ten sizes alive together hold 491 MB,
  the 512-frame one alone 443 MB. So each stage keeps one model. XNNPACK grows the workspace by
  allocating the larger one before freeing the old, so growing it from 384 to 512 frames peaked
  160 MB above what stays resident; when a vocoder signature larger than any the model has run
  needs to grow a workspace of REGROW_FRAMES frames or more, the model is re-created first
  (~0.45 s, at most once per vocoder size in a process's life).
- No I/O buffers are kept between calls (kept per signature, they held ~50 MB for the ten vocoder
  sizes): each call writes its inputs into fresh buffers (0.1 ms to create) and has the outputs
  written straight into the arrays it returns (host-memory buffers; no second copy). When the
  caller donates an input (`pipeline.Donated`, the vocoder's har), those arrays are carved from
  its memory once it has been copied in: 5.4 MB less at the 512-frame peak. Inputs and outputs go
  by the names the manifest lists.
- Only the running stage's weights stay mapped into the process: before a stage runs, the pages of
  the other stages' graph and weight-cache files are released from it (`release_mapped_pages`).
  They are clean, read-only file pages, so the kernel keeps them in its page cache (reclaimable)
  and the next call maps them back: measured ~20 ms a chunk (~185 MB re-mapped), 3-4% of the
  synthesis time, for ~140 MB less at the peak (620 -> 481 MB with every signature warmed).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import platform
import re
import tempfile
import threading
import weakref
import zlib
from pathlib import Path

import numpy as np

from kokoro_litert.buckets.manifest import STAGES, Manifest

from .errors import KokoroError
from .pipeline import HOST_ALIGNMENT, Donated, aligned_zeros

XNNPACK_FLAGS = 0x1 | 0x2 | 0x20
"""QS8 and QU8 kernels (the defaults, which any explicit flags replace) and transient indirection
buffers (measured: -28 MB of arena for the 128-frame vocoder)."""

REGROW_FRAMES = 128
"""Vocoder workspace (in frames, ~0.45 MB each) from which growing it re-creates the model."""

_NOISE = re.compile(r"^(INFO|WARNING|VERBOSE): \[|^INFO: Created TensorFlow Lite|^└|^ERROR: \[.*compiler_plugin")
_ENVIRONMENT = None
_RUNNERS: "weakref.WeakSet[StageRunner]" = weakref.WeakSet()


def _environment():
    """One LiteRT environment for every model of the process (created quietly, once)."""
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        from ai_edge_litert.environment import Environment

        with quiet_native_logs():
            _ENVIRONMENT = Environment.create()
    return _ENVIRONMENT


@atexit.register
def _close_quietly() -> None:
    """Release models and the environment before interpreter shutdown, so LiteRT's teardown log
    lines ("DestroyAccelerator ...") stay off stderr too."""
    import gc

    global _ENVIRONMENT
    with quiet_native_logs():
        for runner in list(_RUNNERS):
            runner.close()
        _ENVIRONMENT = None
        gc.collect()


@contextlib.contextmanager
def quiet_native_logs():
    """Keep LiteRT's start-up chatter (plugin discovery, 'Created TensorFlow Lite XNNPACK delegate')
    off stderr; anything else written to stderr meanwhile is passed on afterwards."""
    import sys

    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as capture:
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode(errors="replace").splitlines()
                    if line.strip() and not _NOISE.search(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


def return_freed_memory() -> None:
    """Make glibc's malloc serve and free blocks of 256 KiB or more with mmap, process-wide.

    By default glibc raises that threshold each time a large block is freed, so after the first
    synthesis the host's big numpy temporaries (excitation, STFT, audio) come from the heap, whose
    freed pages stay resident: measured ~250 MB of heap after a warm-up, most of it free. With a
    fixed threshold they are unmapped when freed. No effect (and no error) off glibc."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD


MADV_DONTNEED = 4


@functools.cache
def _madvise():
    import ctypes

    madvise = ctypes.CDLL(None).madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return madvise


def release_mapped_pages(files) -> int:
    """Drop this process's resident pages of these files' read-only mappings (Linux madvise
    MADV_DONTNEED; the page cache keeps them, a later access maps them back). Returns the bytes
    of the mappings released; 0 where this is not Linux or nothing maps them."""
    ids = set()
    for f in files:
        with contextlib.suppress(OSError):
            st = os.stat(f)
            ids.add((os.major(st.st_dev), os.minor(st.st_dev), st.st_ino))
    if not ids:
        return 0
    inodes = [f" {ino} " for _, _, ino in ids]
    released = 0
    try:
        madvise = _madvise()
        with open("/proc/self/maps") as maps:
            lines = maps.read().splitlines()  # read anew each time: mappings come and go
        for line in lines:
            if not any(ino in line for ino in inodes):
                continue  # a quick filter: ~700 lines, a few of them ours
            fields = line.split()
            if len(fields) < 6 or "w" in fields[1]:
                continue  # anonymous, or writable: never drop pages that may hold writes
            major, minor = (int(x, 16) for x in fields[3].split(":"))
            if (major, minor, int(fields[4])) in ids:
                start, end = (int(x, 16) for x in fields[0].split("-"))
                if madvise(start, end - start, MADV_DONTNEED) == 0:
                    released += end - start
    except (OSError, AttributeError, ValueError):
        return released
    return released


def cpu_fingerprint() -> str:
    """What XNNPACK's packing depends on besides the weights: the machine and its ISA extensions
    (the kernel's hardware capability words, as on ARM, and /proc/cpuinfo's flags, as on x86)."""
    import ctypes

    words = []
    with contextlib.suppress(OSError, AttributeError):
        getauxval = ctypes.CDLL(None).getauxval
        getauxval.restype = ctypes.c_ulong
        words = [getauxval(16), getauxval(26)]  # AT_HWCAP, AT_HWCAP2
    flags = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.split(":")[0].strip().lower() in ("flags", "features"):
                flags = line.split(":", 1)[1]
                break
    key = f"{words} {' '.join(sorted(flags.split()))}"
    return f"{platform.machine()}-{zlib.crc32(key.encode()):08x}"


def _litert_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ai-edge-litert")
    except PackageNotFoundError:
        return "unknown"


class WeightCache:
    """Where XNNPACK's packed weights for a bundle's files live, and the proof that they are intact.

    A cache file is named by the graph's sha256 (from the manifest), the ai-edge-litert version
    and the CPU fingerprint, so a stale cache is never opened under another graph, runtime or CPU.
    It is built under a temporary name and renamed into place with a CRC32 sidecar once XNNPACK has
    written it; it is checked against the sidecar when opened (XNNPACK itself rebuilds a truncated
    file but would run silently on flipped bytes). The folder is `<bundle>/.xnnpack` when writable,
    else `<cache root>/xnnpack`; with neither, models run without a cache (more memory, slower start).
    """

    def __init__(self, bundle: Path, manifest: Manifest, fallback_dir: Path | None = None):
        self.manifest = manifest
        self.suffix = f"{_litert_version()}-{cpu_fingerprint()}"
        self.folder = self._writable(bundle / ".xnnpack") or (self._writable(fallback_dir) if fallback_dir else None)
        self.problems: list[str] = []

    @staticmethod
    def _writable(folder: Path) -> Path | None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".probe", delete=True)
            probe.close()
            return folder
        except OSError:
            return None

    def path(self, file_name: str) -> Path | None:
        if self.folder is None:
            return None
        sha = self.manifest.sha256.get(file_name, "unknown")[:16]
        return self.folder / f"{Path(file_name).stem}-{sha}-{self.suffix}.xnnpack"

    def open(self, file_name: str) -> tuple[str, Path | None]:
        """(path to give XNNPACK, temporary path to publish after creation or None)."""
        final = self.path(file_name)
        if final is None:
            return "", None
        if final.is_file():
            if self._intact(final):
                return str(final), None
            self.problems.append(f"the weight cache {final.name} was corrupt and is rebuilt")
            with contextlib.suppress(OSError):
                final.unlink()
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
        os.close(fd)
        os.unlink(tmp)  # XNNPACK creates it
        return tmp, Path(tmp)

    def publish(self, file_name: str, tmp: Path) -> None:
        final = self.path(file_name)
        try:
            crc = _crc32(tmp)
            sidecar = final.with_suffix(".crc32")
            sidecar.with_suffix(".part").write_text(f"{crc:08x} {tmp.stat().st_size}\n")
            os.replace(tmp, final)
            os.replace(sidecar.with_suffix(".part"), sidecar)
        except OSError as e:
            self.problems.append(f"could not keep the weight cache in {final.parent} ({e.strerror})")
            with contextlib.suppress(OSError):
                tmp.unlink()

    @staticmethod
    def _intact(path: Path) -> bool:
        try:
            crc, size = path.with_suffix(".crc32").read_text().split()
            return path.stat().st_size == int(size) and _crc32(path) == int(crc, 16)
        except (OSError, ValueError):
            return False


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            crc = zlib.crc32(block, crc)
    return crc


def _host_array(shape, dtype) -> np.ndarray:
    """Zeros whose data starts on a HOST_ALIGNMENT boundary."""
    return aligned_zeros(int(np.prod(shape)) * np.dtype(dtype).itemsize).view(dtype).reshape(shape)


def _host_buffer(array: np.ndarray):
    from ai_edge_litert.tensor_buffer import TensorBuffer

    assert array.ctypes.data % HOST_ALIGNMENT == 0 and array.flags.c_contiguous
    return TensorBuffer.create_from_host_memory(array)


def _output_arrays(sig: "_Signature", donated: Donated | None) -> dict[str, np.ndarray]:
    """Arrays for a call's outputs: carved from a donated input's memory while they fit (each
    start HOST_ALIGNMENT-aligned), else fresh."""
    out, offset = {}, 0
    pool = donated.pool if donated is not None else np.empty(0, np.uint8)
    for name in sig.output_names:
        t = sig.spec.outputs[name]
        nbytes = int(np.prod(t.shape)) * np.dtype(t.dtype).itemsize
        offset += -offset % HOST_ALIGNMENT
        if offset + nbytes <= pool.size:
            out[name] = pool[offset:offset + nbytes].view(t.dtype).reshape(t.shape)
            offset += nbytes
        else:
            out[name] = _host_array(t.shape, t.dtype)
    return out


class _Signature:
    """One signature's index, I/O names and shapes."""

    def __init__(self, model, name: str, spec):
        self.model = model
        self.index = model.get_signature_index(name)
        order = model.get_signature_list()[name]
        self.input_names, self.output_names = list(order["inputs"]), list(order["outputs"])
        self.spec = spec
        self.runs = 0


class StageRunner:
    """`run(stage, signature, **inputs) -> outputs` over one bundle folder's files for a precision."""

    def __init__(self, folder: Path, manifest: Manifest, files: dict[str, str], threads: int,
                 weight_cache: WeightCache | None, release_idle_weights: bool = True):
        self.folder, self.manifest, self.files = Path(folder), manifest, files
        self.threads = threads
        self.release_idle_weights = release_idle_weights
        self.weight_cache = weight_cache
        self._models: dict[str, object] = {}
        self._signatures: dict[tuple[str, str], _Signature] = {}
        self._lock = threading.Lock()
        self.creations: dict[str, int] = {stage: 0 for stage in STAGES}
        self._vocoder_frames_run = 0  # the largest vocoder signature the current model has run
        self._mapped_stage: str | None = None  # the stage whose files may be resident
        _RUNNERS.add(self)

    def close(self) -> None:
        """Release every model and arena (the runner re-creates them if used again)."""
        with self._lock:
            for stage in list(self._models):
                self.release(stage)

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()  # quietly: LiteRT logs its teardown

    @staticmethod
    def options(threads: int, cache_path: str = ""):
        """LiteRT CompiledModel options: CPU (XNNPACK) with these threads, flags and weight cache file."""
        from ai_edge_litert.compiled_model import CpuOptions, HardwareAccelerator, Options

        return Options(hardware_accelerators=HardwareAccelerator.CPU,
                       cpu_options=CpuOptions(num_threads=threads, xnnpack_flags=XNNPACK_FLAGS,
                                              xnnpack_weight_cache_path=cache_path))

    def model(self, stage: str):
        """A stage's CompiledModel, created (and its weight cache built or checked) on first use."""
        if stage not in self._models:
            from ai_edge_litert.compiled_model import CompiledModel

            file_name = self.files[stage]
            cache_path, tmp = self.weight_cache.open(file_name) if self.weight_cache else ("", None)
            try:
                environment = _environment()
                with quiet_native_logs():
                    model = CompiledModel.from_file(str(self.folder / file_name), environment=environment,
                                                    options=self.options(self.threads, cache_path))
            except RuntimeError as e:
                raise KokoroError(f"LiteRT cannot load {self.folder / file_name} ({' '.join(str(e).split())[:200]}).",
                                  "Convert the bundles again with `kokoro-litert convert`.") from e
            if tmp is not None and tmp.is_file():
                self.weight_cache.publish(file_name, tmp)
            if self.release_idle_weights:
                release_mapped_pages([self.folder / file_name])  # read while creating, barely after
            self._models[stage] = model
            self.creations[stage] += 1
        return self._models[stage]

    def release(self, stage: str) -> None:
        """Drop a stage's model (and its workspace); it is re-created on next use."""
        with quiet_native_logs():
            for key in [k for k in self._signatures if k[0] == stage]:
                del self._signatures[key]
            model = self._models.pop(stage, None)
            if stage == "vocoder":
                self._vocoder_frames_run = 0
            if model is not None:
                model.close()
                del model

    def _signature(self, stage: str, name: str) -> _Signature:
        key = (stage, name)
        if stage == "vocoder" and _frames(name) > self._vocoder_frames_run:
            if self._vocoder_frames_run >= REGROW_FRAMES:
                self.release("vocoder")  # frees the old workspace before the larger one is allocated
            self._vocoder_frames_run = _frames(name)
        if key not in self._signatures:
            spec = self.manifest.signature(stage, name)
            model = self.model(stage)
            self._signatures[key] = _Signature(model, name, spec)
        return self._signatures[key]

    def stage_files(self, stage: str) -> list[Path]:
        """The files a stage's model maps: its graph and, if there is one, its weight cache."""
        files = [self.folder / self.files[stage]]
        cache = self.weight_cache.path(self.files[stage]) if self.weight_cache else None
        return files + ([cache] if cache else [])

    def _release_other_stages(self, stage: str) -> None:
        if self.release_idle_weights and self._mapped_stage not in (None, stage):
            release_mapped_pages([f for other in self._models if other != stage for f in self.stage_files(other)])
        self._mapped_stage = stage

    def run(self, stage: str, signature: str, **inputs) -> dict[str, np.ndarray]:
        """One signature call; inputs are cast to the manifest's dtypes and checked against its shapes."""
        with self._lock:
            self._release_other_stages(stage)
            sig = self._signature(stage, signature)
            if set(inputs) != set(sig.input_names):
                raise ValueError(f"{stage}/{signature} takes {sorted(sig.input_names)}, got {sorted(inputs)}")
            arrays = []
            for name in sig.input_names:
                t = sig.spec.inputs[name]
                value = np.ascontiguousarray(inputs[name], dtype=t.dtype)
                if value.shape != t.shape:
                    raise ValueError(f"{stage}/{signature} input {name} must be {t.shape}, got {value.shape}")
                arrays.append(value)
            donated = next((v for v in inputs.values() if isinstance(v, Donated) and v.pool is not None), None)
            # The first call sets up the accelerator and the buffers' environment, which logs.
            with quiet_native_logs() if sig.runs == 0 else contextlib.nullcontext():
                # Inputs in managed buffers: a host-memory buffer carries no shape, which LiteRT
                # refuses for an input ("cannot auto-resize"); outputs are written in place.
                ins = sig.model.create_input_buffers(sig.index)
                for buffer, value in zip(ins, arrays):
                    buffer.write(value)
                out = _output_arrays(sig, donated)  # copied in: a donated input's memory is free
                outs = [_host_buffer(out[name]) for name in sig.output_names]
                try:
                    sig.model.run_by_index(sig.index, ins, outs)
                finally:
                    for buffer in ins + outs:  # before the arrays they point into can go
                        buffer.destroy()
            sig.runs += 1
            return out


def _frames(signature: str) -> int:
    return int(signature.rsplit("_", 1)[1])
