"""`kokoro-litert`: fetch weights, convert bundles, list voices, phonemize text and speak it.

Heavy imports (torch, the model) happen inside the subcommands so `--help` stays instant.
Every user error is a `KokoroError`: one line on stderr with the remedy, exit status 2. Logs and
progress go to stderr; stdout carries only what a command outputs (a folder, a list, raw PCM).

`say --bundles DIR` and `voices --bundles DIR` use nothing but that folder (no checkpoint, no
conversion code, no torch). Without --bundles they use the cache's converted bundles, fetching the
weights and converting them first when missing (that needs the `convert` extra).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .cache import cache_root
from .errors import KokoroError
from .gpu import ACCELERATORS


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _add_cache_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="where weights, voices and bundles live (default: $KOKORO_LITERT_CACHE, "
                        "else $XDG_CACHE_HOME/kokoro-litert)")


def cmd_fetch(args) -> int:
    from kokoro_litert.convert.fetch import FetchOptions, fetch

    t0 = time.perf_counter()
    result = fetch(FetchOptions(cache_dir=cache_root(args.cache_dir), checkpoint=args.checkpoint, onnx=args.onnx,
                                config=args.config, voices=args.voices, hub=not args.no_hub, force=args.force))
    _log(f"done in {time.perf_counter() - t0:.1f} s: weights from {result.weights_source}; "
         f"voices from {result.voices_source}")
    print(result.weights_dir)
    return 0


def cmd_voices(args) -> int:
    """One line per voice: name, language code, language (tab-separated)."""
    from kokoro_litert.runtime.text.languages import language_of_voice

    if args.bundles:
        from kokoro_litert.runtime.bundle import Bundle

        names = Bundle.open(args.bundles).voices.names()
    else:
        from kokoro_litert.runtime.voices import list_voices

        vdir = cache_root(args.cache_dir) / "voices"
        names = list_voices(vdir)
        if not names:
            raise KokoroError(f"No voices in {vdir}.", "Run `kokoro-litert fetch` first, or pass --bundles DIR.")
    for name in names:
        lang = language_of_voice(name)
        print(f"{name}\t{lang.code}\t{lang.label}" if lang else f"{name}\t-\t(language unknown: pass --lang)")
    return 0


def cmd_phonemize(args) -> int:
    from kokoro_litert.runtime.text import phonemize
    from kokoro_litert.runtime.text.languages import language

    lang = language(args.lang)
    result = phonemize(_read_text(args), lang=lang.code, fallback=args.fallback, lexicon=_user_lexicon(args))
    for warning in result.warnings:
        _log(f"warning: {warning}")
    if args.normalized:
        _log(f"normalized: {result.normalized}")
    print(result.phonemes)
    return 0


_LANG_HELP = ("language: a (en-us), b (en-gb), e (es), f (fr-fr), h (hi), i (it), j (ja), p (pt-br), z (zh); "
              "a code or a name")


def _user_lexicon(args):
    """The --lexicon file, loaded (a KokoroError naming the bad line), or None."""
    if not getattr(args, "lexicon", None):
        return None
    from kokoro_litert.runtime.text.user_lexicon import UserLexicon

    return UserLexicon.load(args.lexicon)


def _add_lexicon_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lexicon", type=Path, help="your pronunciations: a TSV of word<TAB>phonemes (or "
                   "lang<TAB>word<TAB>phonemes) in Kokoro's alphabet; they win over the built-in ones")


def _add_accelerator_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--accelerator", choices=ACCELERATORS, default="cpu",
                   help="gpu: the vocoder on LiteRT's GPU accelerator, the rest on the CPU (falls back to the "
                        "CPU, with one warning, where no GPU can be created). Default: %(default)s")


def _add_fallback_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fallback", choices=["espeak", "spell"], default="espeak",
                   help="words outside the lexicon: espeak-ng (default) or spelled letter by letter (as the "
                        "Android demo reads them)")


def _read_text(args) -> str:
    if getattr(args, "text_file", None):
        try:
            return Path(args.text_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise KokoroError(f"Cannot read {args.text_file}: {e}.", "Pass a readable UTF-8 text file.") from e
    if args.text is not None:
        return args.text
    if not sys.stdin.isatty():
        return sys.stdin.read()
    raise KokoroError("No text given.", "Pass TEXT, --text-file FILE, or pipe text on stdin.")


def _stdin_pieces():
    """Standard input as it arrives (whatever one read returns), decoded as UTF-8."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while data := os.read(sys.stdin.fileno(), 4096):
        if piece := decoder.decode(data):
            yield piece
    if tail := decoder.decode(b"", final=True):
        yield tail


def _check_output(path: Path, option: str) -> None:
    """Fail before any synthesis when `path` cannot be written (it is a folder, or its folder is not one)."""
    if path.is_dir():
        problem = "it is a directory"
    elif not path.parent.is_dir():
        problem = f"{path.parent} is not a folder" if path.parent.exists() else f"there is no folder {path.parent}"
    elif not os.access(path.parent, os.W_OK):
        problem = f"{path.parent} is not writable"
    else:
        return
    raise KokoroError(f"Cannot write {path}: {problem}.",
                      f"Pass {option} with a file name in an existing, writable folder.")


def _progress_bar(done: int, total: int) -> None:
    if total > 1 and sys.stderr.isatty():
        width = 30
        filled = int(width * done / total)
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} chunks", end="", file=sys.stderr, flush=True)
        if done == total:
            print(file=sys.stderr)
    elif total > 1:
        _log(f"chunk {done}/{total}")


def _convert_extra() -> None:
    """Fail in one line when the conversion tools (the `convert` extra: torch, litert-torch) are absent."""
    import importlib.util

    missing = [m for m in ("torch", "litert_torch", "kokoro") if importlib.util.find_spec(m) is None]
    if missing:
        raise KokoroError(f"No bundle folder given, and converting one needs {', '.join(missing)}, which is not installed.",
                          "Pass --bundles DIR (a folder from `kokoro-litert convert`), or "
                          "`pip install 'kokoro-litert[convert]'` to fetch and convert here.")


def _ensure_weights(cache: Path) -> None:
    _convert_extra()
    from kokoro_litert.convert.fetch import FetchOptions, fetch, have_weights

    if not have_weights(cache) or not (cache / "voices").is_dir():
        _log("weights or voices missing: fetching them first")
        fetch(FetchOptions(cache_dir=cache))


def _ladder(spec: str | None):
    from kokoro_litert.buckets.ladder import DEFAULT_LADDER, parse_ladder

    try:
        return parse_ladder(spec) if spec else DEFAULT_LADDER
    except ValueError as e:
        raise KokoroError(f"Bad --buckets: {e}.", "Write buckets as '32x128,64x256;48,64,128,256'.") from e


def _bundles_dir(cache: Path, buckets: str | None = None, jobs: int | None = None) -> Path:
    """The converted bundles for the cached weights, converting them on first use."""
    _ensure_weights(cache)
    from kokoro_litert.convert.export import cached_bundles

    return cached_bundles(cache / "weights", cache, _ladder(buckets), jobs=jobs, log=_log)


def torch_reference(cache: Path, threads: int | None = None):
    """The PyTorch reference backend (the convert extra), fetching the weights first if needed."""
    _ensure_weights(cache)
    from kokoro_litert.convert.reference import TorchReference

    if threads:
        import torch

        torch.set_num_threads(threads)
    return TorchReference(cache / "weights")


def _backend(args, cache: Path):
    if args.backend == "torch":
        return torch_reference(cache, args.threads)
    from kokoro_litert.runtime.litert import LiteRTBackend

    return LiteRTBackend(args.bundles or _bundles_dir(cache), threads=args.threads, precision=args.precision,
                         accelerator=args.accelerator)


def cmd_convert(args) -> int:
    cache = cache_root(args.cache_dir)
    if args.out:
        _ensure_weights(cache)
        from kokoro_litert.convert.export import convert_bundles

        convert_bundles(cache / "weights", args.out, _ladder(args.buckets), jobs=args.jobs,
                        log=_log, voices_dir=cache / "voices")
        print(args.out)
    else:
        print(_bundles_dir(cache, args.buckets, args.jobs))
    return 0


def cmd_say(args) -> int:
    import json

    from kokoro_litert.runtime.api import Kokoro, speakable
    from kokoro_litert.runtime.checks import check_language, check_speed, check_voice, default_voice
    from kokoro_litert.runtime.text.languages import language
    from kokoro_litert.runtime.wav import WavStream, to_pcm16

    bundle = None
    if args.backend == "litert" and args.bundles:
        from kokoro_litert.runtime.bundle import Bundle

        bundle = Bundle.open(args.bundles)  # checked before any graph loads
    if args.voice is None:  # a named language brings its own voice; a folder may hold only a few
        args.voice = default_voice(bundle.voices.names() if bundle else None,
                                   language(args.lang) if args.lang is not None else None)
    lang = check_language(args.lang, check_voice(args.voice))
    check_speed(args.speed)
    to_stdout = args.output in (None, "-")
    if args.output is None and sys.stdout.isatty():
        raise KokoroError("No output given and stdout is a terminal.", "Pass -o OUT.wav, or pipe stdout for raw PCM.")
    if args.phonemes is not None and not args.phonemes.strip():
        raise KokoroError("The phoneme string is empty.",
                          "Pass Kokoro phonemes, e.g. --phonemes \"həlˈO wˈɜɹld\", or text instead.")
    # --stream with text on a pipe: read it as it arrives, and speak each sentence once it is complete.
    live = args.stream and args.phonemes is None and args.text is None and not args.text_file \
        and not sys.stdin.isatty()
    text = None if args.phonemes is not None or live else _read_text(args)
    if not to_stdout:
        _check_output(Path(args.output), "-o")
    if args.timestamps:
        _check_output(args.timestamps, "--timestamps")
    # Unspeakable text fails here, in one line, before weights, voices or a backend are touched.
    lexicon = _user_lexicon(args)
    phonemized = speakable(text, lang, args.fallback, lexicon) if text is not None else None
    cache = cache_root(args.cache_dir)
    if bundle is not None:
        voices, vocab = bundle.voices, bundle.manifest.vocab
        args.bundles = bundle
    else:
        _ensure_weights(cache)
        voices = cache / "voices"
        vocab = json.loads((cache / "weights" / "config.json").read_text(encoding="utf-8"))["vocab"]
    # Check the voice and the phonemes before building a backend, which may convert bundles first.
    from kokoro_litert.runtime.voices import load_voice

    load_voice(args.voice, voices)
    if args.phonemes is not None:
        from kokoro_litert.runtime.vocab import phoneme_ids

        phoneme_ids(args.phonemes.strip(), vocab)
    backend = _backend(args, cache)
    tts = Kokoro(backend, backend.bundle.voices if hasattr(backend, "bundle") else voices)
    progress = None if args.stream else _progress_bar  # --stream logs each chunk as it goes out instead
    if args.phonemes is not None:
        chunks = tts.stream_phonemes(args.phonemes.strip(), args.voice, args.speed, args.seed, progress)
    elif live:
        chunks = tts.stream(_stdin_pieces(), args.voice, args.speed, lang, args.seed,
                            warn=lambda m: _log(f"warning: {m}"), lexicon=lexicon)
    else:
        chunks = tts.stream(phonemized, args.voice, args.speed, lang, args.seed,
                            warn=lambda m: _log(f"warning: {m}"), progress=progress)
    t0 = time.perf_counter()
    first_audio = None
    words = []
    samples = 0

    def consume(sink) -> None:
        nonlocal first_audio, samples
        for chunk in chunks:
            first_audio = first_audio or time.perf_counter() - t0
            sink(chunk.audio)
            samples += chunk.audio.size
            words.extend({"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3)} for w in chunk.words)
            if args.stream:
                _log(f"chunk {chunk.index + 1}: {chunk.audio.size / 24000:.2f} s of audio out after "
                     f"{time.perf_counter() - t0:.2f} s")

    if to_stdout:
        consume(lambda audio: (sys.stdout.buffer.write(to_pcm16(audio)), sys.stdout.buffer.flush()))
    else:
        with WavStream(args.output) as wav:
            consume(wav.write)
    if args.timestamps:
        from kokoro_litert.runtime.cache import atomic_write

        with atomic_write(args.timestamps, "w") as f:
            json.dump(words, f, ensure_ascii=False, indent=1)
    elapsed = time.perf_counter() - t0
    seconds = samples / 24000
    _log(f"{seconds:.2f} s of audio in {elapsed:.2f} s (RTF {elapsed / max(seconds, 1e-9):.2f}, first audio after "
         f"{first_audio or 0:.2f} s, backend {args.backend})" + ("" if to_stdout else f" -> {args.output}"))
    return 0


def _frame_list(text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not all(p.isdigit() for p in parts):
        raise KokoroError(f"--gpu {text!r} is not a list of vocoder sizes.", "Pass frame counts, e.g. --gpu 128,256,512.")
    return tuple(int(p) for p in parts)


def cmd_export(args) -> int:
    from kokoro_litert.runtime.deploy import export_folder

    source = args.bundles or _bundles_dir(cache_root(args.cache_dir))
    export_folder(source, args.out, precision=args.precision, voices=args.voices, log=_log,
                  gpu_frames=None if args.gpu is None else _frame_list(args.gpu))
    print(args.out)
    return 0


def cmd_bench(args) -> int:
    from kokoro_litert.runtime.bench import CASES, bench
    from kokoro_litert.runtime.text.languages import language

    cases = args.cases.split(",")
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        raise KokoroError(f"Unknown bench case(s) {unknown}.", f"Choose from {', '.join(CASES)}.")
    lang = language(args.lang)
    if args.report:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise KokoroError("--report draws its plots with matplotlib, which is not installed.",
                              "pip install 'kokoro-litert[report]' (or drop --report and use --json).")
    backends = args.backend.split(",")
    cache = cache_root(args.cache_dir)
    bundles = args.bundles
    if bundles is None and any(b.startswith("litert") for b in backends):
        bundles = _bundles_dir(cache)
    bench(backends, cases, str(bundles) if bundles else None, str(args.cache_dir) if args.cache_dir else None,
          args.threads, str(args.json) if args.json else None, str(args.report) if args.report else None,
          cold_runs=args.cold_runs, lang=lang.code, voice=args.voice, log=print)
    return 0


def cmd_serve(args) -> int:
    from kokoro_litert.runtime.server import serve

    # The server binds its ports first, then asks for the bundles (converting them on first use).
    return serve(args, find_bundles=lambda: _bundles_dir(cache_root(args.cache_dir)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kokoro-litert", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fetch", help="get the real Kokoro-82M weights and voices into the cache")
    _add_cache_arg(p)
    p.add_argument("--checkpoint", type=Path, help="official kokoro-v1_0.pth, or its folder (with config.json, voices/)")
    p.add_argument("--onnx", type=Path, help="a kokoro-onnx export to import (kokoro-v1.0[.fp16|.int8].onnx)")
    p.add_argument("--config", type=Path, help="config.json to use with --onnx or a bare .pth")
    p.add_argument("--voices", type=Path, help="folder of .pt/.bin voices, or kokoro-onnx voices-v1.0.bin")
    p.add_argument("--no-hub", action="store_true", help="skip the Hugging Face cache and hub")
    p.add_argument("--force", action="store_true", help="re-import even if the cache has weights")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("convert", help="convert the weights into LiteRT bundles (cached by checkpoint hash)")
    _add_cache_arg(p)
    p.add_argument("--out", type=Path, help="output folder (default: the cache's bundles/<key>)")
    p.add_argument("--buckets", help="TOKENSxFRAMES,...;VOCODER_FRAMES,... "
                   "(default: 32x128,64x256,128x512;48,64,96,128,160,192,256,320,384,512)")
    p.add_argument("--jobs", type=int, default=None, help="worker processes: 1 (about 2.7 GB at the peak) or 2 (default with 2+ cores and 6 GB available: "
                   "about 4.3 GB, 40%% less time)")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("export", help="write a folder to deploy: one precision, the chosen voices, their lexicons")
    _add_cache_arg(p)
    p.add_argument("--out", type=Path, required=True, help="the folder to write (new, or empty)")
    p.add_argument("--bundles", type=Path, help="the bundle folder to export from (default: the cache's, "
                   "converted on first use)")
    p.add_argument("--precision", default=None, help="the one precision to ship (default: the folder's default)")
    p.add_argument("--voices", default=None, help="comma-separated voice names to ship, e.g. af_heart,bf_emma "
                   "(default: all; list them with `kokoro-litert voices`)")
    p.add_argument("--gpu", nargs="?", const="", default=None, metavar="FRAMES",
                   help="also ship the vocoder cut for LiteRT's GPU accelerator, for the JVM and Android runners "
                   "(the Python runtime cuts it itself): at these comma-separated vocoder sizes, e.g. 128,256,512 "
                   "(default: those three; the largest bucket's is always added); ~60 MB per size at int8")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("voices", help="list the voices of a bundle folder (or of the cache)")
    _add_cache_arg(p)
    p.add_argument("--bundles", type=Path, help="a bundle folder (default: the fetch cache's voices)")
    p.set_defaults(func=cmd_voices)

    p = sub.add_parser("phonemize", help="print the Kokoro phonemes of a text (one line)")
    p.add_argument("text", nargs="?")
    p.add_argument("--text-file", type=Path)
    p.add_argument("--lang", default="a", help=_LANG_HELP + " (default: a)")
    p.add_argument("--normalized", action="store_true", help="also log the normalized text (stderr)")
    _add_lexicon_arg(p)
    _add_fallback_arg(p)
    p.set_defaults(func=cmd_phonemize)

    p = sub.add_parser("say", help="speak text (or --phonemes) to a 24 kHz WAV")
    _add_cache_arg(p)
    p.add_argument("text", nargs="?", help="text to speak (else --text-file or stdin)")
    p.add_argument("--text-file", type=Path)
    p.add_argument("--phonemes", help="Kokoro phonemes to speak instead of text")
    p.add_argument("-o", "--output", help="output WAV; '-' or omitted with a pipe: raw 16-bit PCM on stdout")
    p.add_argument("--voice", default=None, help="name, .bin/.pt path, or blend 'af_heart:0.7,bf_emma:0.3' "
                   "(default: af_heart, or the --lang language's own voice)")
    p.add_argument("--speed", type=float, default=1.0, help="0.5 to 2.0")
    p.add_argument("--seed", type=int, default=0, help="excitation noise seed (output is deterministic)")
    p.add_argument("--lang", default=None, help=_LANG_HELP + " (default: the voice's, from its first letter)")
    _add_fallback_arg(p)
    _add_lexicon_arg(p)
    p.add_argument("--backend", choices=["litert", "torch"], default="litert",
                   help="litert: the converted bundles (converted on first use); torch: the upstream reference")
    p.add_argument("--bundles", type=Path, help="a bundle folder; nothing else is read (default: the cache's, "
                   "converted on first use)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    p.add_argument("--precision", default=None,
                   help="a precision the bundle folder has, e.g. int8 (fast) or fp32 (closest to PyTorch); "
                        "default: the folder's default")
    _add_accelerator_arg(p)
    p.add_argument("--timestamps", type=Path, help="write word start/end times (JSON) here")
    p.add_argument("--stream", action="store_true",
                   help="log one line per chunk as it goes out; text on a pipe is read as it arrives and each "
                        "sentence spoken once complete (audio is written chunk by chunk either way: raw PCM "
                        "flushed per chunk, or the WAV under a temporary name until the end)")
    p.set_defaults(func=cmd_say)

    p = sub.add_parser("bench", help="this device's real-time factor, first audio, memory and start-up, "
                       "beside the peers when installed")
    _add_cache_arg(p)
    p.add_argument("--backend", default="litert,onnx",
                   help="comma-separated: litert (the bundle's default precision), litert-<precision> "
                        "(e.g. litert-fp32), litert-gpu (the vocoder on the GPU accelerator); peers, used when installed: onnx (kokoro-onnx + onnxruntime), "
                        "torch (PyTorch reference). Default: %(default)s")
    p.add_argument("--lang", default="a", help=_LANG_HELP + ": the built-in text's language (default: a)")
    p.add_argument("--voice", default=None, help="the voice (default: the language's own, e.g. af_heart, ef_dora)")
    p.add_argument("--bundles", type=Path, help="the bundle folder to measure (default: the cache's)")
    p.add_argument("--cold-runs", type=int, default=3, help="fresh-process runs per cold figure (0: skip)")
    p.add_argument("--report", type=Path, help="also write report.json, summary.md and PNG plots into this folder")
    p.add_argument("--cases", default="short,paragraph,long", help="short (12 words), paragraph (120), long (600), article (3000)")
    p.add_argument("--threads", type=int, default=None, help="threads per backend (default: all cores)")
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("serve", help="a local speech server: OpenAI-compatible HTTP and Wyoming (Home Assistant)")
    _add_cache_arg(p)
    p.add_argument("--host", default="127.0.0.1", help="HTTP address (default: loopback only)")
    p.add_argument("--port", type=int, default=8880, help="HTTP port (default: %(default)s)")
    p.add_argument("--wyoming", default=None, help="also serve Wyoming at this URI, e.g. tcp://127.0.0.1:10200")
    p.add_argument("--bundles", type=Path, help="a bundle folder (default: the cache's, converted on first use)")
    p.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY' on HTTP (default: "
                   "$KOKORO_LITERT_API_KEY if set, else none)")
    p.add_argument("--queue", type=int, default=8, help="requests waiting for synthesis before 503 (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    p.add_argument("--precision", default=None, help="a precision the bundle folder has (default: its default)")
    _add_accelerator_arg(p)
    _add_lexicon_arg(p)
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KokoroError as e:
        _log(f"error: {e}")
        return 2
    except KeyboardInterrupt:
        _log("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
