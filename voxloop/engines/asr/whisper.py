"""Whisper on CTranslate2, called directly with a reduced encoder window for short audio.

Why not faster-whisper's ``WhisperModel``: it pads every call to 30 s, which costs about
0.5 s per call for tiny.en on a 2-core CPU. Here short audio is padded *with silence in
the waveform* only up to ``window_s`` (10 s by default, then the next multiple of it up to
30 s), which is ~4x faster for a 5 s utterance at equal accuracy. Audio longer than 30 s
is cut at quiet points into pieces of at most 30 s, and their transcripts are joined.

No invented text on silence or noise: near-silent audio is never decoded, and a result
with Whisper's no-speech signature (``no_speech_prob > 0.6`` and ``avg_logprob < -1``)
is dropped.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from voxloop.audio.pcm import Audio, Float32Array
from voxloop.engines.asr.align import finalize_words, time_words
from voxloop.engines.asr.features import (
    FRAMES_PER_SECOND,
    HOP_LENGTH,
    MAX_WINDOW_S,
    SAMPLE_RATE,
    choose_window,
    log_mel_spectrogram,
    split_at_quiet_points,
)
from voxloop.engines.asr.rules import (
    NoSpeechRule,
    find_repetition_loop,
    is_near_silent,
    is_no_speech,
)
from voxloop.engines.asr.tokens import WhisperTokenizer
from voxloop.engines.asr.weights import (
    ModelSource,
    assemble_split_model,
    default_cache_dir,
    resolve_model,
)
from voxloop.engines.base import ASREngine
from voxloop.engines.types import Capabilities, Segment, TranscribeOptions, Transcript, Word
from voxloop.errors import BackendError, BackendUnavailable, InvalidRequest

__all__ = ["NoSpeechRule", "WhisperASR"]

logger = logging.getLogger(__name__)

_MAX_POSITIONS = 448  # the decoder's text context
_MAX_PROMPT_TOKENS = _MAX_POSITIONS // 2 - 1
_CUT_SEARCH_S = 5.0  # look this far back from 30 s for a quiet cut
_FALLBACK_BEAM = 5


class WhisperASR(ASREngine):
    """Batch Whisper: ``whisper`` (tiny.en), ``whisper:base``, ``whisper:small`` or ``whisper:/dir``."""

    name = "whisper"

    def __init__(
        self,
        arg: str | None = None,
        *,
        workers: int = 1,
        cpu_threads: int = 0,
        compute_type: str = "int8",
        window_s: float = 10.0,
        cache_dir: str | Path | None = None,
        device: str = "cpu",
        no_speech: NoSpeechRule = NoSpeechRule(),
    ) -> None:
        if workers < 1:
            raise InvalidRequest("workers must be >= 1", param="workers")
        if cpu_threads < 0:
            raise InvalidRequest("cpu_threads must be >= 0", param="cpu_threads")
        if not 1.0 <= window_s <= MAX_WINDOW_S:
            raise InvalidRequest("window_s must be between 1 and 30 seconds", param="window_s")
        self._source: ModelSource = resolve_model(
            arg, Path(cache_dir) if cache_dir else default_cache_dir()
        )
        super().__init__(workers=workers)
        self._workers = workers
        self._cpu_threads = cpu_threads
        self._compute_type = compute_type
        self._device = device
        self.window_s = float(window_s)
        self.no_speech = no_speech
        self._model: Any = None
        self._tokenizer: WhisperTokenizer | None = None
        self._n_mels = 80
        self._path = self._source.path
        if self._source.name.endswith(".en"):
            self.capabilities = Capabilities(
                streaming=False, languages=("en",), sample_rate=SAMPLE_RATE
            )

    # ------------------------------------------------------------------ loading

    def _load(self) -> None:
        try:
            import ctranslate2
        except ImportError as e:
            raise BackendUnavailable(
                "the whisper backend needs ctranslate2: pip install 'voxloop[embedded]'"
            ) from e
        path = assemble_split_model(self._source)
        try:
            model = ctranslate2.models.Whisper(
                str(path),
                device=self._device,
                compute_type=self._compute_type,
                inter_threads=self._workers,
                intra_threads=self._cpu_threads,
            )
        except (RuntimeError, ValueError, OSError) as e:
            raise BackendUnavailable(f"cannot load whisper model from {path}: {e}") from e
        tokenizer = WhisperTokenizer(path / "tokenizer.json", bool(model.is_multilingual))
        self._n_mels = int(getattr(model, "n_mels", 80) or 80)
        languages: tuple[str, ...] = ("en",)
        if model.is_multilingual:
            languages = tokenizer.languages(_config(path).get("lang_ids", [])) or ("en",)
        self.capabilities = Capabilities(
            streaming=False, languages=languages, sample_rate=SAMPLE_RATE
        )
        self._path, self._model, self._tokenizer = path, model, tokenizer
        logger.info(
            "whisper %s loaded from %s (%s, %d worker(s))",
            self._source.name,
            path,
            self._compute_type,
            self._workers,
        )

    def describe(self) -> dict[str, str]:
        return {
            "backend": self.name,
            "model": self._source.name,
            "source": self._source.source,
            "path": str(self._path),
            "compute_type": self._compute_type,
            "window_s": f"{self.window_s:g}",
        }

    # ------------------------------------------------------------------ transcription

    def transcribe_sync(
        self, audio: Audio, options: TranscribeOptions = TranscribeOptions()
    ) -> Transcript:
        if options.beam_size < 1:
            raise InvalidRequest("beam_size must be >= 1", param="beam_size")
        self.prewarm()
        samples = np.asarray(audio.to(SAMPLE_RATE).samples, dtype=np.float32)
        duration = len(samples) / SAMPLE_RATE
        language = self._requested_language(options)
        if len(samples) <= MAX_WINDOW_S * SAMPLE_RATE:
            pieces = [(0, len(samples))]
        else:
            pieces = split_at_quiet_points(
                samples, int(MAX_WINDOW_S * SAMPLE_RATE), int(_CUT_SEARCH_S * SAMPLE_RATE)
            )
        segments: list[Segment] = []
        for start, end in pieces:
            segment, language = self._decode(
                samples[start:end], start / SAMPLE_RATE, options, language
            )
            if segment is not None:
                segments.append(segment)
        return _transcript(segments, language, duration)

    def batch_key(self, audio: Audio, options: TranscribeOptions) -> Hashable | None:
        """Decodes batch when their first attempt is one ``generate`` call: a known language,
        at most 30 s, and equal window, beam and prompt length (CTranslate2 wants equal prompts)."""
        if not self._loaded or options.beam_size < 1 or audio.duration > MAX_WINDOW_S:
            return None
        try:
            language = self._requested_language(options)
        except InvalidRequest:
            return None  # decoded alone, where it gets its error
        if language is None:
            return None  # detection first: not batched
        prompt = self._prompt(language, options.hotwords, options.prompt)
        window = choose_window(audio.duration, self.window_s, full=options.window == "full")
        return (window, options.beam_size, len(prompt))

    def transcribe_batch_sync(
        self, items: Sequence[tuple[Audio, TranscribeOptions]]
    ) -> list[Transcript]:
        """Every clip's first attempt in one ``generate`` (the encoder runs clip by clip);
        retries (a decoding loop), the no-speech rule and word timing then go clip by clip."""
        self.prewarm()
        keys = {self.batch_key(audio, options) for audio, options in items}
        if len(items) < 2 or len(keys) != 1 or None in keys:
            return super().transcribe_batch_sync(items)
        head, head_options = items[0]  # equal keys: every clip has this window and beam
        window = choose_window(head.duration, self.window_s, full=head_options.window == "full")
        clips = [np.asarray(a.to(SAMPLE_RATE).samples, dtype=np.float32) for a, _ in items]
        languages = [self._requested_language(o) for _, o in items]
        live = [i for i, c in enumerate(clips) if not is_near_silent(c, self.no_speech.silence_rms)]
        firsts: dict[int, _Decoded | None] = {}
        if len(live) > 1:
            runs = self._generate_batch(
                [clips[i] for i in live], window, head_options.beam_size,
                [items[i][1] for i in live], [languages[i] for i in live],
            )
            firsts = dict(zip(live, runs, strict=True))
        results: list[Transcript] = []
        for i, (_, options) in enumerate(items):
            segment, language = self._decode(
                clips[i], 0.0, options, languages[i], first=firsts.get(i)
            )
            segments = [segment] if segment is not None else []
            results.append(_transcript(segments, language, len(clips[i]) / SAMPLE_RATE))
        return results

    def _requested_language(self, options: TranscribeOptions) -> str | None:
        assert self._tokenizer is not None
        lang = options.language.strip().lower() if options.language else None
        if not self._tokenizer.multilingual:
            if lang not in (None, "en"):
                raise InvalidRequest(
                    f"model {self._source.name} transcribes English only, not {lang!r}",
                    param="language",
                )
            return "en"
        if lang is not None:
            self._tokenizer.language_token(lang)  # validates
        return lang

    def _decode(
        self,
        samples: Float32Array,
        offset: float,
        options: TranscribeOptions,
        language: str | None,
        first: _Decoded | None = None,
    ) -> tuple[Segment | None, str | None]:
        """Transcribe one piece of at most 30 s; ``None`` when it holds no speech.

        A decoding loop (a phrase repeated over and over) is retried with the full 30 s
        window, then with beam search, then without the prompt: the reduced window is a
        speed-up, never a cost in words. A loop that survives all of them is cut.
        ``first`` is the first attempt when a batch already ran it.
        """
        duration = len(samples) / SAMPLE_RATE
        if is_near_silent(samples, self.no_speech.silence_rms):
            return None, language
        window = choose_window(duration, self.window_s, full=options.window == "full")
        attempts = [(window, options.beam_size, options)]
        if window < MAX_WINDOW_S:
            attempts.append((MAX_WINDOW_S, options.beam_size, options))
        if options.beam_size < _FALLBACK_BEAM:
            attempts.append((MAX_WINDOW_S, _FALLBACK_BEAM, options))
        if options.prompt or options.hotwords:  # a prompt can be what the model parrots
            attempts.append(
                (MAX_WINDOW_S, _FALLBACK_BEAM, replace(options, prompt=None, hotwords=()))
            )
        for attempt, (window, beam, opts) in enumerate(attempts, 1):
            if attempt == 1 and first is not None:
                run = first
            else:
                run = self._generate(samples, window, beam, opts, language)
            language = run.language
            if is_no_speech(run.no_speech_prob, run.avg_logprob, run.text, self.no_speech):
                logger.debug(
                    "no speech (p=%.2f, logprob=%.2f): dropped %r",
                    run.no_speech_prob,
                    run.avg_logprob,
                    run.text,
                )
                return None, language
            loop = find_repetition_loop(run.tokens)
            if loop is None:
                break
            if attempt == len(attempts):  # keep what came before the loop and one repeat
                logger.debug("decoding loop at token %d in every attempt: cut", loop[0])
                run = self._truncated(run, loop[0] + loop[1])
            else:
                logger.debug("decoding loop with a %g s window, beam %d: retrying", window, beam)
        if not run.text:
            return None, language
        words: tuple[Word, ...] = ()
        if options.word_timestamps:
            words = self._align(run, len(samples), offset, duration)
        segment = Segment(
            start=round(offset, 3),
            end=round(offset + duration, 3),
            text=run.text,
            words=words,
            avg_logprob=round(run.avg_logprob, 4),
            no_speech_prob=round(run.no_speech_prob, 4),
        )
        return segment, language

    def _generate(
        self,
        samples: Float32Array,
        window: float,
        beam: int,
        options: TranscribeOptions,
        language: str | None,
    ) -> _Decoded:
        import ctranslate2

        model, tok = self._model, self._tokenizer
        assert model is not None and tok is not None
        features = log_mel_spectrogram(samples, self._n_mels, pad_to=int(window * SAMPLE_RATE))
        try:
            encoded = model.encode(ctranslate2.StorageView.from_array(features[None]))
            if language is None:
                language = str(model.detect_language(encoded)[0][0][0])[2:-2]
            prompt = self._prompt(language, options.hotwords, options.prompt)
            result = model.generate(
                encoded,
                [list(prompt)],
                beam_size=beam,
                max_length=min(_MAX_POSITIONS, len(prompt) + _token_budget(len(samples))),
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=[-1],
            )[0]
        except RuntimeError as e:
            raise BackendError(f"whisper inference failed: {e}") from e
        return self._decoded(encoded, result, language)

    def _generate_batch(
        self,
        clips: list[Float32Array],
        window: float,
        beam: int,
        options: list[TranscribeOptions],
        languages: list[str | None],
    ) -> list[_Decoded | None]:
        """The first attempt of several clips at once (equal window, beam, prompt length).
        ``None`` for a clip that reached its own token budget: alone it would have been cut
        there, so it is decoded alone to get exactly that result."""
        import ctranslate2

        model, tok = self._model, self._tokenizer
        assert model is not None and tok is not None
        pad = int(window * SAMPLE_RATE)
        prompts = [
            self._prompt(lang or "en", o.hotwords, o.prompt)
            for o, lang in zip(options, languages, strict=True)
        ]
        limits = [
            min(_MAX_POSITIONS, len(p) + _token_budget(len(c)))
            for p, c in zip(prompts, clips, strict=True)
        ]
        try:
            # the encoder one clip at a time (a batch of them is no faster: compute-bound, and
            # slower from B=8 on), the decoder for all at once (where batching pays)
            encoded = [
                model.encode(
                    ctranslate2.StorageView.from_array(
                        log_mel_spectrogram(c, self._n_mels, pad_to=pad)[None]
                    )
                )
                for c in clips
            ]
            together = np.concatenate([np.asarray(e) for e in encoded])
            results = model.generate(
                ctranslate2.StorageView.from_array(together),
                [list(p) for p in prompts],
                beam_size=beam,
                max_length=max(limits),
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=[-1],
            )
        except RuntimeError as e:
            raise BackendError(f"whisper inference failed: {e}") from e
        runs: list[_Decoded | None] = []
        for i, result in enumerate(results):
            if len(result.sequences_ids[0]) >= limits[i] - len(prompts[i]) - 1:
                runs.append(None)
                continue
            runs.append(self._decoded(encoded[i], result, languages[i] or "en"))
        return runs

    def _decoded(self, encoded: Any, result: Any, language: str) -> _Decoded:
        tok = self._tokenizer
        assert tok is not None
        sequence = list(result.sequences_ids[0])
        tokens = [t for t in sequence if t < tok.eot]
        n = len(sequence)
        avg_logprob = float(result.scores[0]) * n / (n + 1) if result.scores else 0.0
        text = tok.decode(tokens).strip()
        return _Decoded(encoded, tokens, text, avg_logprob, float(result.no_speech_prob), language)

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one engine per process, kept for its lifetime
    def _prompt(self, language: str, hotwords: tuple[str, ...], context: str | None) -> tuple[int, ...]:
        """The decoder prompt, tokenized once per (language, hotwords, context): a stream's
        partials and final share one, and ``batch_key`` runs on the event loop for each decode."""
        assert self._tokenizer is not None
        return tuple(self._tokenizer.prompt(language, hotwords, context, _MAX_PROMPT_TOKENS))

    def _truncated(self, run: _Decoded, keep: int) -> _Decoded:
        assert self._tokenizer is not None
        tokens = run.tokens[:keep]
        text = self._tokenizer.decode(tokens).strip()
        return _Decoded(
            run.encoded, tokens, text, run.avg_logprob, run.no_speech_prob, run.language
        )

    def _align(
        self, run: _Decoded, n_samples: int, offset: float, duration: float
    ) -> tuple[Word, ...]:
        tok = self._tokenizer
        assert tok is not None
        num_frames = max(1, min(int(MAX_WINDOW_S * FRAMES_PER_SECOND), -(-n_samples // HOP_LENGTH)))
        try:
            result = self._model.align(
                run.encoded, tok.sot_sequence(run.language), [run.tokens], num_frames
            )[0]
        except RuntimeError as e:
            raise BackendError(f"whisper word alignment failed: {e}") from e
        words, word_tokens = tok.split_words([*run.tokens, tok.eot], run.language)
        timed = time_words(
            words, word_tokens, list(result.alignments), list(result.text_token_probs)
        )
        return finalize_words(timed, offset, duration)


@dataclass(frozen=True, slots=True)
class _Decoded:
    encoded: Any  # ctranslate2.StorageView, reused for alignment
    tokens: list[int]
    text: str
    avg_logprob: float
    no_speech_prob: float
    language: str


def _transcript(segments: list[Segment], language: str | None, duration: float) -> Transcript:
    text = " ".join(s.text for s in segments)
    return Transcript(
        text=text, language=language or "en", duration=duration, segments=tuple(segments)
    )


def _token_budget(n_samples: int) -> int:
    """Tokens to allow for ``n_samples`` of audio: about twice the fastest real speech
    (~6 tokens/s), so a decoding loop or an invented continuation stops early."""
    return int(12 * n_samples / SAMPLE_RATE) + 24


def _config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
