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
- A stage may run on LiteRT's GPU accelerator instead (`gpu_stages`; `accelerator="gpu"` puts the
  vocoder there): ops the GPU delegate takes run on the GPU, the rest on XNNPACK. A GPU model holds
  one signature (`extract_signature`: the delegate copies the weights per signature), in float16,
  the GPU's default as on phones, but for the vocoder's head (conv_post, exp, sin), which a second
  GPU model computes in float32 (`split_head`: in float16 it cost 4 dB of MCD). Where no GPU can be
  created (no Vulkan driver, no GPU accelerator in the wheel), the stage falls back to the CPU with
  one warning line. What the delegate took is kept per signature (`gpu_placements`), read from its
  log, the only place LiteRT reports it (`CompiledModel.is_fully_accelerated()` said True for a
  vocoder with 433 of 1,229 ops on the CPU).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import platform
import re
import sys
import tempfile
import threading
import warnings
import weakref
import zlib
from pathlib import Path

import numpy as np

from kokoro_litert.buckets.manifest import STAGES, Manifest

from .errors import KokoroError
from .gpu import (
    GPU_LOG_NOISE,
    GPU_PARTITION_LINE,
    GpuPlacement,
    extract_signature,
    parse_gpu_placements,
    prepare_gpu_environment,
    signature_subgraphs,
    split_head,
    split_in_pieces,
    subgraph_op_counts,
)
from .pipeline import HOST_ALIGNMENT, Donated, aligned_zeros

XNNPACK_FLAGS = 0x1 | 0x2 | 0x20
"""QS8 and QU8 kernels (the defaults, which any explicit flags replace) and transient indirection
buffers (measured: -28 MB of arena for the 128-frame vocoder)."""

REGROW_FRAMES = 128
"""Vocoder workspace (in frames, ~0.33 MB each: 167 MB at 512) from which growing it re-creates the model."""
SOFTWARE_GPU_FRAMES = 64
"""On a software GPU (lavapipe: ~0.45 s per vocoder frame on two cores) a vocoder body longer than
this runs as pieces of about this many frames' work each: LiteRT gives up on a GPU call after 120 s."""

_NOISE = re.compile(r"^(INFO|WARNING|VERBOSE): \[|^INFO: Created TensorFlow Lite|^└|^ERROR: \[.*compiler_plugin")
# What the GPU accelerator (Dawn over Vulkan) logs while it creates a model, delegation lines included:
# kept off stderr and parsed into GpuPlacement.
_GPU_NOISE = re.compile(_NOISE.pattern + GPU_LOG_NOISE)
_ENVIRONMENT = None
_GPU_ADAPTER: str | None = None  # what Dawn selected, from the log of the process's first GPU model
_RUNNERS: weakref.WeakSet[StageRunner] = weakref.WeakSet()


def litert_environment():
    """One LiteRT environment for every model of the process (created quietly, once; released quietly
    at exit)."""
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
    if _ENVIRONMENT is None:
        return
    with quiet_native_logs():
        for runner in list(_RUNNERS):
            runner.close()
        _ENVIRONMENT = None
        gc.collect()
    _drop_teardown_lines()


_TEARDOWN = b"DestroyAccelerator"


def _drop_teardown_lines() -> None:
    """Route the rest of this process's stderr through a child process that drops LiteRT's
    "DestroyAccelerator" lines and passes everything else on.

    The tensor buffers' LiteRT environment is a static C++ object: it is destroyed, and logs, after
    the interpreter has finished, where no Python code can run. The child exits when this process
    does (end of the pipe)."""
    with contextlib.suppress(OSError, AttributeError):
        sys.stderr.flush()
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():  # fork-with-threads warnings (Python 3.12, JAX): the child
            warnings.simplefilter("ignore")  # takes no lock, it only reads, writes and exits
            child = os.fork()
        if child == 0:  # the child: plain reads and writes only, then _exit
            os.close(write_end)
            pending = b""
            try:
                while chunk := os.read(read_end, 65536):
                    *lines, pending = (pending + chunk).split(b"\n")
                    kept = b"".join(line + b"\n" for line in lines if _TEARDOWN not in line)
                    if kept:
                        os.write(2, kept)
                if pending and _TEARDOWN not in pending:
                    os.write(2, pending)
            finally:
                os._exit(0)
        os.close(read_end)
        os.dup2(write_end, 2)
        os.close(write_end)


@contextlib.contextmanager
def capture_native_logs(noise: re.Pattern = _NOISE, stdout: bool = False):
    """Capture what native code writes to stderr (fd 2) meanwhile, and to stdout (fd 1) too with
    `stdout`; yields a list that holds its lines once the block ends. Lines matching `noise` stay
    off stderr, the others are passed on (to stderr).

    stdout: LiteRT's GPU accelerator prints a line to C's stdout when it looks for OpenCL, which
    would land in the audio of `say -o -`."""
    sys.stderr.flush()
    sys.stdout.flush()
    lines: list[str] = []
    fds = (2, 1) if stdout else (2,)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        saved = [os.dup(fd) for fd in fds]
        for fd in fds:
            os.dup2(capture.fileno(), fd)
        try:
            yield lines
        finally:
            if stdout:
                _flush_c_streams()
            for fd, old in zip(fds, saved):
                os.dup2(old, fd)
                os.close(old)
            capture.seek(0)
            lines.extend(line for line in capture.read().decode(errors="replace").splitlines() if line.strip())
            kept = [line for line in lines if not noise.search(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


def _flush_c_streams() -> None:
    """fflush(NULL): write out what native code left in C's stdio buffers."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def quiet_native_logs():
    """Keep LiteRT's start-up chatter (plugin discovery, 'Created TensorFlow Lite XNNPACK delegate')
    off stderr; anything else written to stderr meanwhile is passed on afterwards."""
    with capture_native_logs():
        yield


def warn(message: str) -> None:
    """One warning line on stderr (the CLI's own form)."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


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
    file but would run silently on flipped bytes). The sidecar also records the file's inode, mtime
    and ctime as they were when its CRC last matched: while they are unchanged, nothing has written
    to the file since (a write moves ctime, which no one can set back), so it is not read again
    (0.14 s of every cold start for the default's 140 MB of caches). The folder is
    `<bundle>/.xnnpack` when writable, else `<cache root>/xnnpack`; with neither, models run without
    a cache (more memory, slower start).
    """

    def __init__(self, bundle: Path, manifest: Manifest, fallback_dir: Path | None = None):
        self.manifest = manifest
        self.suffix = f"{_litert_version()}-{cpu_fingerprint()}"
        self.folder = self.writable(bundle / ".xnnpack") or (self.writable(fallback_dir) if fallback_dir else None)
        self.problems: list[str] = []

    @staticmethod
    def writable(folder: Path) -> Path | None:
        """The folder, created if need be, when files can be written into it; else None."""
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
            os.replace(tmp, final)
            _write_sidecar(final, crc)
        except OSError as e:
            self.problems.append(f"could not keep the weight cache in {final.parent} ({e.strerror})")
            with contextlib.suppress(OSError):
                tmp.unlink()

    @staticmethod
    def _intact(path: Path) -> bool:
        try:
            crc, size, *stamp = path.with_suffix(".crc32").read_text().split()
            st = path.stat()
            if st.st_size != int(size):
                return False
            if stamp == _stamp(st):
                return True
            if _crc32(path) != int(crc, 16):
                return False
        except (OSError, ValueError):
            return False
        with contextlib.suppress(OSError):
            _write_sidecar(path, int(crc, 16))  # checked now: the next start need not read it
        return True


def _stamp(st: os.stat_result) -> list[str]:
    """What changes whenever a file is written or replaced."""
    return [str(st.st_ino), str(st.st_mtime_ns), str(st.st_ctime_ns)]


def _write_sidecar(path: Path, crc: int) -> None:
    """`<cache>.crc32`: "crc size inode mtime ctime" of the cache file as it is now (the JVM runner
    reads the first two)."""
    sidecar = path.with_suffix(".crc32")
    part = sidecar.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")  # two starting processes: no mix
    st = path.stat()
    part.write_text(" ".join([f"{crc:08x}", str(st.st_size), *_stamp(st)]) + "\n")
    os.replace(part, sidecar)


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


def _output_arrays(sig: _Signature, donated: Donated | None) -> dict[str, np.ndarray]:
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


class _PipedModel:
    """One signature run as GPU models one after the other (a body, or its pieces, then the float32
    head), behind the few CompiledModel methods the runner calls. The signature's inputs go to
    every model that reads them; the tensors between models go through host memory."""

    def __init__(self, parts: list):
        self.parts = parts
        (self.name,) = parts[0].get_signature_list()
        self.io = [part.get_signature_list()[self.name] for part in parts]
        made = {name for io in self.io[:-1] for name in io["outputs"]}
        self.inputs = list(dict.fromkeys(name for io in self.io for name in io["inputs"] if name not in made))
        self.outputs = list(self.io[-1]["outputs"])
        self.between = [[(name, tuple(details["shape"]), details["dtype"])
                         for name, details in part.get_output_tensor_details(self.name).items()]
                        for part in parts[:-1]]

    def get_signature_list(self) -> dict:
        return {self.name: {"inputs": self.inputs, "outputs": self.outputs}}

    def get_signature_index(self, name: str) -> int:
        return 0 if name == self.name else -1

    def create_input_buffers(self, index: int) -> list:
        return [_HeldInput() for _ in self.inputs]

    def run_by_index(self, index: int, inputs: list, outputs: list) -> None:
        values = {name: held.value for name, held in zip(self.inputs, inputs)}
        for part, io, between in zip(self.parts, self.io, [*self.between, None]):
            ins = part.create_input_buffers(0)
            outs = outputs
            if between is not None:
                values.update({name: _host_array(shape, dtype) for name, shape, dtype in between})
                outs = [_host_buffer(values[name]) for name in io["outputs"]]
            try:
                for name, buffer in zip(io["inputs"], ins):
                    buffer.write(values[name])
                part.run_by_index(0, ins, outs)
            finally:
                for buffer in ins + (outs if between is not None else []):
                    buffer.destroy()

    def close(self) -> None:
        for part in self.parts:
            part.close()


class _HeldInput:
    """What `_PipedModel.create_input_buffers` hands out: it keeps the array written to it."""

    value = None

    def write(self, value: np.ndarray) -> None:
        self.value = value

    def destroy(self) -> None:
        self.value = None


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
                 weight_cache: WeightCache | None, release_idle_weights: bool = True,
                 gpu_stages: tuple[str, ...] = (), gpu_float32: bool = False, gpu_folder: Path | None = None,
                 gpu_head_float32: tuple[str, ...] = ("vocoder",)):
        """gpu_stages: the stages to run on LiteRT's GPU accelerator (ops it rejects stay on the
        CPU); gpu_float32: make the GPU compute in float32 (its default is float16, as on phones);
        gpu_folder: where single-signature copies of their graphs are kept (`extract_signature`;
        None: a GPU model holds every signature of its file); gpu_head_float32: the stages whose
        head (`split_head`) the GPU computes in float32 when the rest is in float16 (needs gpu_folder)."""
        self.folder, self.manifest, self.files = Path(folder), manifest, files
        self.threads = threads
        self.release_idle_weights = release_idle_weights
        self.weight_cache = weight_cache
        unknown = set(gpu_stages) - set(STAGES)
        if unknown:
            raise ValueError(f"unknown stage(s) {sorted(unknown)} for the GPU; expected some of {STAGES}")
        self.gpu_stages = tuple(gpu_stages)
        self.gpu_float32 = gpu_float32
        self.gpu_placements: dict[str, dict[str, GpuPlacement]] = {}
        """stage -> signature -> where its ops run, for each stage created on the GPU (empty where
        the delegate's log could not be read)."""
        self.gpu_fallback: str | None = None
        """Why the GPU stages run on the CPU instead (set, and warned once, when no GPU could be created)."""
        self.gpu_folder = gpu_folder
        self.gpu_head_float32 = tuple(gpu_head_float32)
        self._model_signature: dict[str, str | None] = {}  # stage -> the one signature its GPU model holds
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

    @staticmethod
    def gpu_options(threads: int, float32: bool = False):
        """LiteRT CompiledModel options: the GPU accelerator, with XNNPACK (these threads, no weight
        cache: the GPU holds the delegated weights) for the ops it rejects.

        GpuOptions(constant_tensor_sharing=True) would share weights between signatures; in
        ai-edge-litert 2.3.0 it crashes model creation (SIGSEGV, even on a one-op graph)."""
        from ai_edge_litert.compiled_model import GpuOptions, HardwareAccelerator, Options

        return Options(hardware_accelerators=HardwareAccelerator.GPU | HardwareAccelerator.CPU,
                       cpu_options=StageRunner.options(threads).cpu_options,
                       gpu_options=GpuOptions(enforce_f32=float32))

    @property
    def gpu_adapter(self) -> str | None:
        """The GPU LiteRT selected, as Dawn names it ("llvmpipe (LLVM 15.0.6, 256 bits), arch=software,
        ..., adapterType=CPU / Software" for Mesa's software driver); None until a GPU model exists."""
        return _GPU_ADAPTER

    @property
    def software_gpu(self) -> bool:
        """The GPU is a software one (Mesa's lavapipe on the CPU): its timings say nothing of a GPU's."""
        return _GPU_ADAPTER is not None and "Software" in _GPU_ADAPTER

    def on_gpu(self, stage: str) -> bool:
        """Whether the stage's model is (to be) created on the GPU accelerator."""
        return stage in self.gpu_stages and self.gpu_fallback is None

    def _gpu_graphs(self, stage: str, signature: str | None) -> tuple[Path, Path | None]:
        """The files a stage's GPU model is created from: the folder's GPU variant of `signature`
        (body and head), `signature` alone (extracted once into gpu_folder), or the stage's whole
        file (no signature asked, nowhere to write, or a graph with loop bodies); and, where the
        head is computed in float32, the head's file (the first is then the body's; see `split_head`)."""
        path = self.folder / self.files[stage]
        shipped = self.manifest.gpu.get(stage, {}).get(signature)
        if shipped:  # the folder carries this signature's GPU variant (`kokoro-litert export --gpu`)
            return self.folder / shipped["body"], self.folder / shipped["head"]
        if signature is None or self.gpu_folder is None:
            return path, None
        sha = self.manifest.sha256.get(self.files[stage], "unknown")[:16]
        single = self.gpu_folder / f"{path.stem}-{sha}-{signature}.tflite"
        body, head = single.with_suffix(".body.tflite"), single.with_suffix(".head.tflite")
        split = stage in self.gpu_head_float32 and not self.gpu_float32
        try:
            if split and body.is_file() and head.is_file():
                return body, head
            if not single.is_file() and not extract_signature(path, signature, single):
                return path, None
            if split and split_head(single, body, head):
                single.unlink()  # the two parts hold everything it did
                return body, head
            return single, None
        except OSError:
            return path, None

    def _gpu_model(self, path: Path, float32: bool):
        """(a model of `path` on the GPU accelerator, {signature: GpuPlacement}); (None, {}) after one
        warning when no GPU can be created here."""
        from ai_edge_litert.compiled_model import CompiledModel

        prepare_gpu_environment()
        reason = None
        with capture_native_logs(_GPU_NOISE, stdout=True) as lines:
            try:
                model = CompiledModel.from_file(str(path), environment=litert_environment(),
                                                options=self.gpu_options(self.threads, float32))
            except RuntimeError as e:
                model, reason = None, " ".join(str(e).split())[:160]
        adapter_failure = next((line.split("] ", 1)[-1] for line in lines if "Failed to initialize WebGPU" in line),
                               None)
        if model is not None and not any(GPU_PARTITION_LINE in line for line in lines):
            model.close()
            model, reason = None, "LiteRT delegated nothing to a GPU (no GPU accelerator in this ai-edge-litert?)"
        if model is None:
            self.gpu_fallback = adapter_failure or reason or "unknown error"
            warn(f"no GPU could be created ({self.gpu_fallback}); running {', '.join(self.gpu_stages)} on the CPU")
            return None, {}
        global _GPU_ADAPTER
        adapter = next((line.split("Selected adapter: ", 1)[1] for line in lines if "Selected adapter: " in line), None)
        _GPU_ADAPTER = adapter or _GPU_ADAPTER  # logged once per process, with the first GPU model
        order = sorted(signature_subgraphs(path).items(), key=lambda kv: kv[1])
        counts = subgraph_op_counts(path)
        placements = parse_gpu_placements(lines, [counts[index] for _, index in order])
        return model, dict(zip((name for name, _ in order), placements)) if placements else {}

    def _create_on_gpu(self, stage: str, signature: str | None):
        """The stage's model on the GPU (None: no GPU here), its placements recorded. The float32
        head is created first: it tells whether the GPU is a software one, where a long body runs
        in pieces (`SOFTWARE_GPU_FRAMES`)."""
        path, head_path = self._gpu_graphs(stage, signature)
        head = head_placements = None
        if head_path is not None:
            head, head_placements = self._gpu_model(head_path, float32=True)
            if head is None:
                return None
        parts, placements = [], None
        for piece in self._software_gpu_pieces(stage, signature, path):
            model, piece_placements = self._gpu_model(piece, self.gpu_float32)
            if model is None:
                for made in parts + [head]:
                    if made is not None:
                        made.close()
                return None
            parts.append(model)
            placements = piece_placements if placements is None else {
                name: p.then(piece_placements[name]) for name, p in placements.items() if name in piece_placements}
        if head is not None:
            parts.append(head)
            placements = {name: p.then(head_placements[name], float32_head=True)
                          for name, p in placements.items() if name in head_placements}
        self.gpu_placements.setdefault(stage, {}).update(placements)
        self._model_signature[stage] = signature if path != self.folder / self.files[stage] else None
        return parts[0] if len(parts) == 1 else _PipedModel(parts)

    def _software_gpu_pieces(self, stage: str, signature: str | None, path: Path) -> list[Path]:
        """The files of a GPU body: itself, or on a software GPU and above SOFTWARE_GPU_FRAMES
        frames, its pieces (`split_in_pieces`, cut once into gpu_folder)."""
        frames = _frames(signature) if signature and signature.startswith("frames_") else 0
        if not self.software_gpu or frames <= SOFTWARE_GPU_FRAMES or self.gpu_folder is None:
            return [path]
        count = -(-frames // SOFTWARE_GPU_FRAMES)
        # A shipped body's name is the same in every folder: its manifest checksum tells them apart
        # (a body cut at load time carries its source's checksum in its name already).
        shipped = self.manifest.sha256.get(path.name, "")[:16]
        stem = f"{path.stem}-{shipped}" if shipped else path.stem
        pieces = [self.gpu_folder / f"{stem}.piece{k + 1}of{count}.tflite" for k in range(count)]
        try:
            if not all(piece.is_file() for piece in pieces):
                split_in_pieces(path, count, pieces)
        except OSError:
            return [path]
        return pieces

    def model(self, stage: str, signature: str | None = None):
        """A stage's CompiledModel, created (and its weight cache built or checked) on first use.
        signature: on the GPU, a model of that signature alone (see `extract_signature`)."""
        if stage not in self._models:
            from ai_edge_litert.compiled_model import CompiledModel

            file_name = self.files[stage]
            model = tmp = None
            try:
                if self.on_gpu(stage):
                    model = self._create_on_gpu(stage, signature)
                if model is None:
                    cache_path, tmp = self.weight_cache.open(file_name) if self.weight_cache else ("", None)
                    environment = litert_environment()
                    with quiet_native_logs():
                        model = CompiledModel.from_file(str(self.folder / file_name), environment=environment,
                                                        options=self.options(self.threads, cache_path))
                    self._model_signature[stage] = None
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
            self._model_signature.pop(stage, None)
            if stage == "vocoder":
                self._vocoder_frames_run = 0
            if model is not None:
                model.close()
                del model

    def _signature(self, stage: str, name: str) -> _Signature:
        key = (stage, name)
        if self.on_gpu(stage):
            # One signature per GPU model (its weights are copied per signature): another one re-creates it.
            if stage in self._models and self._model_signature.get(stage) not in (None, name):
                self.release(stage)
        elif stage == "vocoder" and _frames(name) > self._vocoder_frames_run:
            if self._vocoder_frames_run >= REGROW_FRAMES:
                self.release("vocoder")  # frees the old workspace before the larger one is allocated
            self._vocoder_frames_run = _frames(name)
        if key not in self._signatures:
            spec = self.manifest.signature(stage, name)
            model = self.model(stage, name)
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
            on_gpu = self.on_gpu(stage)
            first_call_logs = capture_native_logs(_GPU_NOISE, stdout=True) if on_gpu else quiet_native_logs()
            with first_call_logs if sig.runs == 0 else contextlib.nullcontext():
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
