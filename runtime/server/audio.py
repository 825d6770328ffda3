"""Float chunks in, bytes of one audio format out, chunk by chunk: what the server writes to a client.

    encoder = encoder_for("mp3")        # or wav, pcm, flac, opus, aac
    for chunk in chunks:
        body.write(encoder.write(chunk.audio))   # bytes ready so far (may be b"")
    body.write(encoder.finish())

Formats (OpenAI's names): `pcm` raw 16-bit little-endian mono at 24 kHz; `wav` the same in a RIFF
header; `mp3` (LAME), `opus` (Ogg Opus, libopus), `aac` (ADTS), `flac`, all through PyAV's bundled
FFmpeg, which writes each container to a non-seekable sink as packets come, so they stream.

A WAV header holds the data length. `wav_file=True` waits for the end and writes the exact sizes;
a streamed WAV (the default) cannot know them and writes 0xFFFFFFFF, the "length unknown" value
that streaming WAV writers use and readers (Python's wave, libsndfile, FFmpeg) read to the end of.
"""

from __future__ import annotations

import struct

import numpy as np

from kokoro_litert.buckets import SAMPLE_RATE
from kokoro_litert.runtime.wav import to_pcm16

SAMPLE_WIDTH = 2  # bytes: 16-bit PCM for pcm and wav
CHANNELS = 1
WAV_UNKNOWN_SIZE = 0xFFFFFFFF
OGG_PAGE_DURATION_US = 100_000  # flush an Ogg page every 0.1 s instead of FFmpeg's 1 s, so opus streams

MEDIA_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
"""Every response_format the server writes, with its Content-Type."""

# response_format -> (FFmpeg container, encoder, container options)
_AV_FORMATS = {
    "mp3": ("mp3", "libmp3lame", {}),
    "opus": ("ogg", "libopus", {"page_duration": str(OGG_PAGE_DURATION_US)}),
    "aac": ("adts", "aac", {}),
    "flac": ("flac", "flac", {}),
}


def wav_header(data_bytes: int | None) -> bytes:
    """A 44-byte RIFF/WAVE header for 16-bit mono at 24 kHz; None: length unknown (streamed)."""
    riff = WAV_UNKNOWN_SIZE if data_bytes is None else 36 + data_bytes
    data = WAV_UNKNOWN_SIZE if data_bytes is None else data_bytes
    block = SAMPLE_WIDTH * CHANNELS
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, CHANNELS, SAMPLE_RATE, SAMPLE_RATE * block, block, 8 * SAMPLE_WIDTH)
            + b"data" + struct.pack("<I", data))


class PcmEncoder:
    def write(self, samples: np.ndarray) -> bytes:
        return to_pcm16(samples)

    def finish(self) -> bytes:
        return b""


class WavEncoder:
    def __init__(self, wav_file: bool):
        self.wav_file = wav_file
        self._parts: list[bytes] = []
        self._started = False

    def write(self, samples: np.ndarray) -> bytes:
        pcm = to_pcm16(samples)
        if self.wav_file:
            self._parts.append(pcm)
            return b""
        if not self._started:
            self._started = True
            return wav_header(None) + pcm
        return pcm

    def finish(self) -> bytes:
        if self.wav_file:
            data = b"".join(self._parts)
            self._parts.clear()
            return wav_header(len(data)) + data
        return b"" if self._started else wav_header(None)


class _Sink:
    """A write-only, non-seekable file for PyAV: what the muxer wrote since the last `take`."""

    def __init__(self):
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def seekable(self) -> bool:
        return False

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


class AvEncoder:
    """mp3, opus, aac or flac through PyAV (FFmpeg), encoding each chunk as it comes."""

    def __init__(self, response_format: str):
        import av

        container_format, codec, options = _AV_FORMATS[response_format]
        self._av = av
        self._sink = _Sink()
        self._container = av.open(self._sink, mode="w", format=container_format, options=options)
        self._stream = self._container.add_stream(codec, rate=SAMPLE_RATE, layout="mono")
        # A 16-bit encoder (flac, libopus) gets our own 16-bit samples, so flac is bit-exact to pcm and
        # wav; the others take floats (PyAV converts them to the codec's sample format).
        self._s16 = self._stream.codec_context.format.name == "s16"
        self._pts = 0

    def write(self, samples: np.ndarray) -> bytes:
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        if samples.size:
            if self._s16:
                frame = self._av.AudioFrame.from_ndarray(np.frombuffer(to_pcm16(samples), "<i2")[None, :],
                                                         format="s16", layout="mono")
            else:
                frame = self._av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = self._pts
            self._pts += samples.size
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        return self._sink.take()

    def finish(self) -> bytes:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return self._sink.take()

    def close(self) -> None:
        """Free the codec when a response ends early (the client went away)."""
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - nothing to report to a client that is gone
            pass


def encoder_for(response_format: str, wav_file: bool = False):
    """An encoder for one response; `response_format` must be a key of MEDIA_TYPES."""
    if response_format == "pcm":
        return PcmEncoder()
    if response_format == "wav":
        return WavEncoder(wav_file)
    return AvEncoder(response_format)
