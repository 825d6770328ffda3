"""Assemble (once, cached) an arm64 Python 3.11 that runs this repo's runtime under qemu-aarch64.

    python tests/aarch64/assemble.py            # prints the assembled folders as shell assignments

Runs on the x86 host with the standard library only; needs what tests/aarch64/setup.sh installs
(dpkg's arm64 architecture for `apt-get download`; qemu-aarch64-static to check the result).

Three layers, each in its own folder under `<cache>/aarch64/` (cache: $KOKORO_LITERT_CACHE, else
$XDG_CACHE_HOME/kokoro-litert, else ~/.cache/kokoro-litert), each rebuilt only when its key changes:

- `rootfs-<key>`: Debian bookworm arm64 (what Raspberry Pi OS 64-bit is built on): python3.11 and
  libstdc++6 (ai-edge-litert's libLiteRt.so needs it) with their Depends/Pre-Depends closure,
  `apt-get download`ed and unpacked with `dpkg-deb -x`. Keyed by every package's version, so a
  Debian point release rebuilds it.
- `site-<key>`: the runtime's dependencies as aarch64 cp311 wheels from PyPI (`pip install --target
  --platform manylinux_2_X_aarch64 --only-binary=:all:`), the same versions as the host Python that
  runs this script (so ARM and x86 runs compare like with like). Keyed by the pyproject's base
  dependencies and those versions.
- `project-<key>`: this repo's package, built as a wheel and installed with no extras and no
  dependencies (the device install: no torch). Keyed by the package's source files, so an edit to
  runtime/ reinstalls it (a few seconds).

Then one import of the whole runtime under qemu proves the layers fit together (a missing shared
library fails here, with the library's name, not in a test).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORMAT = "4"
"""Bump when the layout below changes: every key includes it."""

ROOT_PACKAGES = ("python3.11", "libstdc++6")
"""The arm64 packages asked for; the rest is their dependency closure."""
GLIBC_MINOR = 36
"""bookworm's glibc is 2.36: wheels tagged manylinux_2_17 .. manylinux_2_36 run on it."""
PLATFORMS = ("manylinux2014_aarch64", *(f"manylinux_2_{m}_aarch64" for m in range(GLIBC_MINOR, 16, -1)))
PYTHON_VERSION = "3.11"
PROJECT_SOURCES = ("pyproject.toml", "buckets", "dsp", "runtime", "convert")
"""What the installed package is built from (convert/ is in the wheel but never imported here)."""
CPUS = {
    # qemu -cpu model -> the /proc/cpuinfo entry of the Raspberry Pi built on that core (as those
    # boards print it) and the board. The features line matches what a Pi's kernel reports.
    "cortex-a72": ("Raspberry Pi 4 Model B (BCM2711)", "108.00", "fp asimd evtstrm crc32 cpuid", "0x0", "0xd08", "3"),
    "cortex-a76": ("Raspberry Pi 5 Model B (BCM2712)", "108.00", "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics "
                   "fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp", "0x4", "0xd0b", "1"),
    "cortex-a53": ("Raspberry Pi Zero 2 W / 3 (BCM2837)", "38.40", "fp asimd evtstrm crc32 cpuid", "0x0", "0xd03", "4"),
}
"""Why a fake /proc/cpuinfo: qemu-user 7.2 passes the host's x86 /proc/cpuinfo through to the guest,
and the CPU detection linked into ai-edge-litert's libraries (pytorch/cpuinfo: its "failed to parse
processor information from /proc/cpuinfo" is in libLiteRt.so) cannot parse it and dereferences
NULL: every model load segfaulted. qemu resolves a guest path inside its -L folder first, so a
`proc/cpuinfo` there shadows the host's; the processor count follows the host's /sys, which the
guest also sees. Real boards need none of this."""
WEBGPU_LIBRARY = "libLiteRtWebGpuAccelerator.so"
WEBGPU_NEEDS = {"aes", "atomics", "crc32", "asimddp", "fphp", "asimdhp", "asimdrdm", "lrcpc", "sha2"}
"""/proc/cpuinfo names of what that library checks at load (its fail-fast list: aes lse crc dotprod
fp16 rdm rcpc sha2); a Raspberry Pi 5 has them all, a Pi 4 none but crc32."""
NO_WEBGPU = "pi4"
"""Suffix of the site layer with the Raspberry Pi 4 step applied."""
SMOKE = ("import kokoro_litert.runtime.cli, kokoro_litert.runtime.litert, kokoro_litert.runtime.text.espeak, "
         "ai_edge_litert.compiled_model, numpy, scipy.signal, sys; "
         "assert 'torch' not in sys.modules; print(sys.version.split()[0], numpy.__version__)")


def cache_root() -> Path:
    if os.environ.get("KOKORO_LITERT_CACHE"):
        return Path(os.environ["KOKORO_LITERT_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "kokoro-litert"


def log(msg: str) -> None:
    print(f"aarch64: {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise SystemExit(f"aarch64: {shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.strip()[-2000:]}")
    return proc.stdout


def digest(*parts: str) -> str:
    return hashlib.sha256("\n".join((FORMAT, *parts)).encode()).hexdigest()[:16]


# ---- Debian arm64 ----------------------------------------------------------------------------

def _records(packages: list[str]) -> dict[str, dict[str, str]]:
    """apt's candidate records for arm64 (or architecture-independent) packages, by name."""
    records = _parse_records(run(["apt-cache", "show", "--no-all-versions", *(f"{p}:arm64" for p in packages)]))
    rest = [p for p in packages if p not in records]
    if rest:  # apt names architecture-independent packages without the :arm64 qualifier
        proc = subprocess.run(["apt-cache", "show", "--no-all-versions", *rest], capture_output=True, text=True)
        records.update({k: v for k, v in _parse_records(proc.stdout).items() if v.get("Architecture") == "all"})
    return records


def _parse_records(out: str) -> dict[str, dict[str, str]]:
    records = {}
    for block in out.split("\n\n"):
        fields, key = {}, None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" in fields:
            records[fields["Package"]] = fields
    return records


def _apt_lists_stamp() -> str:
    lists = sorted(Path("/var/lib/apt/lists").glob("*binary-arm64_Packages*"))
    if not lists:
        raise SystemExit("aarch64: no arm64 package lists: run bash tests/aarch64/setup.sh")
    return " ".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in lists)


def debian_closure(memo: Path) -> dict[str, tuple[str, str]]:
    """package -> (version, architecture): ROOT_PACKAGES and what they Depend/Pre-Depend on.

    The first alternative of each dependency is taken. Architecture-independent packages that are
    reached (media-types, gcc-12-base, readline-common, ...) are data and are included, but their
    own dependencies are not followed: they lead to dpkg, perl and tar, tools a Python program does
    not run. The result is remembered until apt's arm64 lists change (apt-cache takes seconds)."""
    stamp = digest(_apt_lists_stamp(), *ROOT_PACKAGES)
    with contextlib.suppress(OSError, ValueError, KeyError):
        saved = json.loads(memo.read_text())
        if saved["stamp"] == stamp:
            return {k: tuple(v) for k, v in saved["packages"].items()}
    seen: dict[str, tuple[str, str]] = {}
    todo = set(ROOT_PACKAGES)
    while todo:
        records = _records(sorted(todo))
        missing = todo - set(records)
        if missing:
            raise SystemExit(f"aarch64: apt has no arm64 candidate for {', '.join(sorted(missing))}")
        todo = set()
        for name, fields in records.items():
            seen[name] = (fields["Version"], fields["Architecture"])
            if fields["Architecture"] == "all":
                continue
            for key in ("Pre-Depends", "Depends"):
                for dep in filter(None, (d.strip() for d in fields.get(key, "").split(","))):
                    first = dep.split("|")[0].strip()
                    todo.add(re.split(r"[\s(:]", first, maxsplit=1)[0])
        todo -= set(seen)
    packages = dict(sorted(seen.items()))
    memo.write_text(json.dumps({"stamp": stamp, "packages": packages}, indent=1))
    return packages


def build_rootfs(folder: Path, packages: dict[str, tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".debs-") as debs:
        names = [f"{p}={v}" if arch == "all" else f"{p}:arm64={v}" for p, (v, arch) in packages.items()]
        log(f"downloading {len(names)} bookworm arm64 packages")
        run(["apt-get", "download", "-q", *names], cwd=debs)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
        for deb in sorted(Path(debs).glob("*.deb")):
            run(["dpkg-deb", "-x", str(deb), str(tmp)])
        (tmp / "packages.json").write_text(json.dumps(packages, indent=1))
        tmp.rename(folder)


# ---- PyPI aarch64 wheels -----------------------------------------------------------------------

def runtime_requirements() -> list[str]:
    """The pyproject's base dependencies (the device install: no extras)."""
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]


def host_pins(requirements: list[str]) -> list[str]:
    """name==version for the requirements' closure as installed in the host Python (what the x86
    side of every comparison runs); unpinned when the host does not have a package."""
    pins, todo, seen = [], [re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0] for r in requirements], set()
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        pins.append(f"{dist.metadata['Name']}=={dist.version}")
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            todo.append(re.split(r"[<>=!~\[; (]", req, maxsplit=1)[0])
    return sorted(pins, key=str.lower)


def pip_target(target: Path, args: list[str], constraints: list[str] | None = None) -> None:
    platforms = [a for p in PLATFORMS for a in ("--platform", p)]
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as cons:
        cons.write("\n".join(constraints or []) + "\n")
        cons.flush()
        run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile",
             "--target", str(target), *platforms, "--python-version", PYTHON_VERSION, "--implementation", "cp",
             "--abi", "cp311", "--only-binary=:all:", "-c", cons.name, *args])


def build_site(folder: Path, requirements: list[str], pins: list[str]) -> None:
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    log(f"installing aarch64 wheels: {', '.join(pins) or ', '.join(requirements)}")
    pip_target(tmp, requirements, pins)
    (tmp / "requirements.json").write_text(json.dumps({"requirements": requirements, "pins": pins}, indent=1))
    tmp.rename(folder)


def project_key() -> str:
    h = hashlib.sha256()
    for top in PROJECT_SOURCES:
        path = REPO / top
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()
                                                      and "__pycache__" not in p.parts)
        for f in files:
            h.update(str(f.relative_to(REPO)).encode() + b"\0" + f.read_bytes())
    return digest(h.hexdigest())


def build_project(folder: Path) -> None:
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".wheel-") as wheels, \
            tempfile.TemporaryDirectory(prefix="kokoro-litert-src-") as src:
        # Build from a copy of the sources: setuptools writes build/ and *.egg-info into the tree.
        for top in PROJECT_SOURCES + ("README.md",):
            path = REPO / top
            (shutil.copy2 if path.is_file() else
             lambda a, b: shutil.copytree(a, b, ignore=shutil.ignore_patterns("__pycache__")))(path, Path(src) / top)
        run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps",
             "--no-build-isolation", "-w", wheels, src])
        wheel = next(Path(wheels).glob("kokoro_litert-*.whl"))
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
        pip_target(tmp, ["--no-deps", str(wheel)])
        tmp.rename(folder)


# ---- the whole --------------------------------------------------------------------------------

def _replace_layer(root: Path, prefix: str, key: str, build) -> Path:
    folder = root / f"{prefix}-{key}"
    if not folder.is_dir():
        build(folder)
        for old in root.glob(f"{prefix}-*"):  # earlier keys: stale
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)
    return folder


def qemu_python(rootfs: Path, site: Path, project: Path) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run the arm64 Python under qemu (QEMU_CPU picks the CPU)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
    env.update(PYTHONPATH=f"{project}:{site}", PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1",
               PYTHONUNBUFFERED="1")
    return ["qemu-aarch64-static", "-L", str(rootfs), str(rootfs / "usr/bin/python3.11")], env


def host_cpus() -> list[int]:
    """The CPU numbers /sys/devices/system/cpu/possible lists ('0-1' -> [0, 1])."""
    cpus = []
    for part in Path("/sys/devices/system/cpu/possible").read_text().strip().split(","):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def cpu_view(root: Path, rootfs: Path, cpu: str) -> Path:
    """A folder for qemu's -L that is the Debian rootfs (symlinks) plus a /proc/cpuinfo for `cpu`."""
    if cpu not in CPUS:
        raise SystemExit(f"aarch64: no Raspberry Pi /proc/cpuinfo for QEMU_CPU={cpu}; use one of {', '.join(CPUS)}")
    board, bogomips, features, variant, part, revision = CPUS[cpu]
    text = "".join(f"processor\t: {n}\nBogoMIPS\t: {bogomips}\nFeatures\t: {features}\nCPU implementer\t: 0x41\n"
                   f"CPU architecture: 8\nCPU variant\t: {variant}\nCPU part\t: {part}\nCPU revision\t: {revision}\n\n"
                   for n in host_cpus()) + f"Model\t\t: {board}\n"
    view = root / f"view-{cpu}-{digest(rootfs.name, text)}"
    if not view.is_dir():
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{view.name}-"))
        for entry in rootfs.iterdir():
            (tmp / entry.name).symlink_to(entry)
        (tmp / "proc").mkdir()
        (tmp / "proc" / "cpuinfo").write_text(text)
        tmp.rename(view)
    return view


def without_webgpu(root: Path, site: Path) -> Path:
    """`site` minus ai_edge_litert/libLiteRtWebGpuAccelerator.so (hard links, so no extra disk).

    What the README's Raspberry Pi 4 step does to a device install: that library (ai-edge-litert
    2.1.6 to 2.3.0, aarch64 wheels) is built for ARMv8.2 with crypto and dot product and checks it
    when loaded ("FATAL ERROR: This binary was compiled with aes enabled, but this feature is not
    available on this processor (go/sigill-fail-fast)", then SIGILL). LiteRT loads it while creating
    a CompiledModel even when only the CPU is asked for, falling back to a bare-name dlopen that
    finds it beside the runtime whatever Environment runtime_path says; the runtime never uses a GPU."""
    folder = root / f"{site.name}-{NO_WEBGPU}"
    if not folder.is_dir():
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{folder.name}-"))
        shutil.copytree(site, tmp, copy_function=os.link, dirs_exist_ok=True)
        (tmp / "ai_edge_litert" / WEBGPU_LIBRARY).unlink()
        tmp.rename(folder)
    return folder


def needs_pi4_step(cpu: str) -> bool:
    """True when `cpu` lacks a feature the WebGPU accelerator library insists on."""
    return not WEBGPU_NEEDS <= set(CPUS[cpu][2].split())


def assemble(cpu: str, stock: bool = False) -> dict[str, Path]:
    """The layers for `cpu`; unless `stock`, with the Raspberry Pi 4 install step applied where the
    CPU needs it (see without_webgpu)."""
    root = cache_root() / "aarch64"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent callers wait for one assembly
        packages = debian_closure(root / "debian-closure.json")
        rootfs = _replace_layer(root, "rootfs", digest(json.dumps(packages)), lambda f: build_rootfs(f, packages))
        requirements = runtime_requirements()
        pins = host_pins(requirements)
        site = _replace_layer(root, "site", digest(*requirements, *pins, *PLATFORMS),
                              lambda f: build_site(f, requirements, pins))
        project = _replace_layer(root, "project", project_key(), build_project)
        for old in [*root.glob("view-*"), *root.glob(f"site-*-{NO_WEBGPU}")]:  # left from replaced layers
            if not ((old / "usr").exists() if old.name.startswith("view-") else
                    old.name.startswith(site.name)):
                shutil.rmtree(old, ignore_errors=True)
        view = cpu_view(root, rootfs, cpu)
        if needs_pi4_step(cpu) and not stock:
            site = without_webgpu(root, site)
        stamp = project / f".imports-{view.name}-{site.name}"
        if not stamp.is_file():
            cmd, env = qemu_python(view, site, project)
            log(f"checking the runtime imports under qemu-aarch64 -cpu {cpu}")
            proc = subprocess.run([*cmd, "-c", SMOKE], capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                raise SystemExit(f"aarch64: the runtime does not import under qemu:\n{proc.stderr.strip()[-3000:]}")
            log(f"python {proc.stdout.strip()}")
            stamp.write_text("")
    return {"ROOTFS": view, "DEBIAN": rootfs, "SITE": site, "PROJECT": project}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", default=os.environ.get("QEMU_CPU") or "cortex-a72",
                        help=f"the qemu CPU model to run ({', '.join(CPUS)}; default: $QEMU_CPU, else cortex-a72)")
    parser.add_argument("--stock", action="store_true",
                        help="the wheels as pip installs them, without the Raspberry Pi 4 step (see without_webgpu)")
    args = parser.parse_args()
    for key, path in assemble(args.cpu, args.stock).items():
        print(f"AARCH64_{key}={shlex.quote(str(path))}")


if __name__ == "__main__":
    main()
