"""eSpeak NG through its command-line program: no model, robotic but tiny and fast."""

from __future__ import annotations

import io
import logging
import re
import shutil
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from typing import IO, cast

from voxloop.audio.pcm import Float32Array, pcm16_to_float, resample
from voxloop.engines.base import TTSEngine
from voxloop.engines.types import Capabilities, TTSOptions
from voxloop.errors import BackendError, InvalidRequest, MissingDependency

__all__ = ["EspeakTTS"]

logger = logging.getLogger(__name__)

DEFAULT_OPTIONS = TTSOptions()

BASE_RATE = 175  # espeak-ng's default words per minute
_VOICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+.\-/]*")
_READ = 8192


class EspeakTTS(TTSEngine):
    """``espeak:VOICE`` (e.g. ``espeak:en-us``, ``espeak:en+f3``). Output is 22050 Hz."""

    name = "espeak"
    sample_rate = 22050

    def __init__(self, arg: str | None = None, *, workers: int = 2, binary: str = "espeak-ng") -> None:
        path = shutil.which(binary)
        if path is None:
            raise MissingDependency(f"the espeak backend needs the {binary!r} program: apt-get install espeak-ng")
        super().__init__(workers=workers)
        self.binary = path
        self.voice = self._check_voice(arg or "en-us")
        self.capabilities = Capabilities(streaming=True, languages=("en",), sample_rate=self.sample_rate)

    @staticmethod
    def _check_voice(voice: str) -> str:
        if not _VOICE.fullmatch(voice):
            raise InvalidRequest(f"invalid espeak-ng voice name {voice!r}", param="voice")
        return voice

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "voice": self.voice, "binary": self.binary}

    def _command(self, options: TTSOptions) -> list[str]:
        voice = self._check_voice(options.voice) if options.voice else self.voice
        rate = min(max(round(BASE_RATE * options.speed), 80), 450)  # espeak-ng's accepted range
        return [self.binary, "--stdout", "-b", "1", "-v", voice, "-s", str(rate), "--stdin"]

    def synthesize_sync(self, text: str, options: TTSOptions = DEFAULT_OPTIONS) -> Iterator[Float32Array]:
        """Yield float32 chunks as espeak-ng writes them; closing the iterator kills it."""
        if not text.strip():
            return
        try:
            proc = subprocess.Popen(
                self._command(options), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as e:
            raise BackendError(f"cannot run {self.binary}: {e}") from e
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        feeder = threading.Thread(target=_feed, args=(proc.stdin, text.encode()), daemon=True)
        feeder.start()
        try:
            reader = cast(io.BufferedReader, proc.stdout)
            yield from self._decode(lambda: reader.read1(_READ))
            proc.wait(timeout=10)
            if proc.returncode != 0:
                detail = proc.stderr.read().decode(errors="replace").strip()
                raise BackendError(f"espeak-ng failed (exit {proc.returncode}): {detail or 'no message'}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                stream.close()
            feeder.join(timeout=1)

    def _decode(self, read: Callable[[], bytes]) -> Iterator[Float32Array]:
        """Parse espeak-ng's streamed WAV (its size fields are placeholders) into float32 chunks."""
        header = b""
        while b"data" not in header[12:] or len(header) < header.find(b"data", 12) + 8:
            more = read()
            if not more:
                return  # no audio at all (the exit status tells why)
            header += more
        rate = self._wav_rate(header)
        body = header[header.find(b"data", 12) + 8 :]
        odd = b""
        while True:
            data = odd + body
            cut = len(data) - len(data) % 2
            odd = data[cut:]
            if cut:
                samples = pcm16_to_float(data[:cut])
                yield samples if rate == self.sample_rate else resample(samples, rate, self.sample_rate)
            body = read()
            if not body:
                return

    @staticmethod
    def _wav_rate(header: bytes) -> int:
        at = header.find(b"fmt ")
        if not header.startswith(b"RIFF") or at < 0 or len(header) < at + 16:
            raise BackendError("espeak-ng did not write a WAV header")
        channels, rate = struct.unpack_from("<HI", header, at + 10)
        if channels != 1:
            raise BackendError(f"espeak-ng wrote {channels} channels, expected 1")
        return int(rate)


def _feed(pipe: IO[bytes], data: bytes) -> None:
    """Write the text on a thread so a long input never deadlocks against the output pipe."""
    try:
        pipe.write(data)
    except (BrokenPipeError, ValueError, OSError):
        pass  # espeak-ng exited (or was killed) before reading everything
    finally:
        try:
            pipe.close()
        except OSError:
            pass

