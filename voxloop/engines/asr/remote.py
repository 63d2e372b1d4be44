"""Any OpenAI-compatible ``/v1/audio/transcriptions`` server as an ASR backend.

``openai:http://127.0.0.1:9000/v1`` posts 16 kHz WAV as multipart with
``response_format=verbose_json`` and maps the reply to a :class:`Transcript`. Network
failures raise :class:`BackendUnavailable`; an HTTP error raises :class:`BackendError`
carrying the server's own message.
"""

from __future__ import annotations

import logging
from typing import Any

from voxloop.audio.pcm import Audio
from voxloop.audio.wav import wav_bytes
from voxloop.engines.base import ASREngine
from voxloop.engines.http import ApiKey, http_error
from voxloop.engines.types import ASR_SAMPLE_RATE, Segment, TranscribeOptions, Transcript, Word
from voxloop.errors import BackendError, BackendUnavailable, InvalidRequest, MissingDependency

__all__ = ["RemoteASR", "language_code"]

logger = logging.getLogger(__name__)

# Whisper's language names, as OpenAI's verbose_json reports them ("english" -> "en").
_LANGUAGES = dict(
    pair.split(":")
    for pair in (
        "en:english zh:chinese de:german es:spanish ru:russian ko:korean fr:french ja:japanese "
        "pt:portuguese tr:turkish pl:polish ca:catalan nl:dutch ar:arabic sv:swedish it:italian "
        "id:indonesian hi:hindi fi:finnish vi:vietnamese he:hebrew uk:ukrainian el:greek ms:malay "
        "cs:czech ro:romanian da:danish hu:hungarian ta:tamil no:norwegian th:thai ur:urdu "
        "hr:croatian bg:bulgarian lt:lithuanian la:latin mi:maori ml:malayalam cy:welsh sk:slovak "
        "te:telugu fa:persian lv:latvian bn:bengali sr:serbian az:azerbaijani sl:slovenian "
        "kn:kannada et:estonian mk:macedonian br:breton eu:basque is:icelandic hy:armenian "
        "ne:nepali mn:mongolian bs:bosnian kk:kazakh sq:albanian sw:swahili gl:galician "
        "mr:marathi pa:punjabi si:sinhala km:khmer sn:shona yo:yoruba so:somali af:afrikaans "
        "oc:occitan ka:georgian be:belarusian tg:tajik sd:sindhi gu:gujarati am:amharic "
        "yi:yiddish lo:lao uz:uzbek fo:faroese ht:haitian_creole ps:pashto tk:turkmen "
        "nn:nynorsk mt:maltese sa:sanskrit lb:luxembourgish my:myanmar bo:tibetan tl:tagalog "
        "mg:malagasy as:assamese tt:tatar haw:hawaiian ln:lingala ha:hausa ba:bashkir "
        "jw:javanese su:sundanese yue:cantonese"
    ).split()
)
_CODES = {name.replace("_", " "): code for code, name in _LANGUAGES.items()}


def language_code(value: str | None, default: str = "en") -> str:
    """``"english"`` or ``"en"`` -> ``"en"``; unknown values pass through lower-cased."""
    if not value:
        return default
    v = value.strip().lower()
    return _CODES.get(v, v)


class RemoteASR(ASREngine):
    """``openai:<base url>``: e.g. ``openai:http://127.0.0.1:9000/v1``.

    ``api_key`` is sent as a bearer token; ``api_key_source`` says where it came from (or, with
    no key, how to set one) in the error a 401/403 raises.
    """

    name = "openai"

    def __init__(
        self,
        arg: str | None = None,
        *,
        model: str = "whisper-1",
        api_key: str | None = None,
        api_key_source: str | None = None,
        timeout: float = 60.0,
        workers: int = 4,
    ) -> None:
        if not arg or not arg.startswith(("http://", "https://")):
            raise InvalidRequest(
                "the openai ASR backend needs a base URL, e.g. openai:http://127.0.0.1:9000/v1",
                param="asr",
            )
        if timeout <= 0:
            raise InvalidRequest("timeout must be > 0", param="timeout")
        super().__init__(workers=workers)
        self.base_url = arg.rstrip("/")
        self.model = model
        self._auth = ApiKey(api_key, api_key_source)
        self._timeout = timeout
        self._client: Any = None

    def _load(self) -> None:
        try:
            import httpx
        except ImportError as e:  # pragma: no cover - httpx is a core dependency
            raise MissingDependency(
                "the openai ASR backend needs httpx: pip install voxloop"
            ) from e
        self._client = httpx.Client(timeout=self._timeout, headers=self._auth.headers)

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "url": self.base_url, "model": self.model}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        super().close()

    def transcribe_sync(
        self, audio: Audio, options: TranscribeOptions = TranscribeOptions()
    ) -> Transcript:
        import httpx

        self.prewarm()
        audio16 = audio.to(ASR_SAMPLE_RATE)
        granularities = ["segment", "word"] if options.word_timestamps else ["segment"]
        data: dict[str, Any] = {
            "model": self.model,
            "response_format": "verbose_json",
            "timestamp_granularities[]": granularities,
        }
        if options.language:
            data["language"] = options.language
        prompt = _prompt(options)
        if prompt:
            data["prompt"] = prompt
        url = f"{self.base_url}/audio/transcriptions"
        files = {"file": ("audio.wav", wav_bytes(audio16), "audio/wav")}
        try:
            response = self._client.post(url, data=data, files=files)
        except httpx.TimeoutException as e:
            raise BackendUnavailable(
                f"ASR server {self.base_url} timed out after {self._timeout:g} s"
            ) from e
        except httpx.HTTPError as e:
            raise BackendUnavailable(f"ASR server {self.base_url} unreachable: {e}") from e
        if response.status_code >= 400:
            raise http_error(
                response.status_code, response.content, f"ASR server {self.base_url}", self._auth
            )
        try:
            body = response.json()
        except ValueError:
            body = {"text": response.text}
        if not isinstance(body, dict) or "text" not in body:
            raise BackendError(
                f"ASR server {self.base_url} sent an unexpected reply: {response.text[:200]!r}"
            )
        return _to_transcript(body, audio16.duration, options)


def _prompt(options: TranscribeOptions) -> str:
    words = ", ".join(w.strip() for w in options.hotwords if w.strip())
    return " ".join(p for p in (words, (options.prompt or "").strip()) if p)


def _to_transcript(
    body: dict[str, Any], audio_duration: float, options: TranscribeOptions
) -> Transcript:
    text = str(body.get("text") or "").strip()
    duration = float(body.get("duration") or audio_duration)
    language = language_code(body.get("language"), options.language or "en")
    words = [
        Word(
            float(w.get("start", 0.0)),
            float(w.get("end", 0.0)),
            str(w.get("word", "")),
            float(w.get("probability", 1.0)),
        )
        for w in body.get("words") or []
        if isinstance(w, dict)
    ]
    raw = [s for s in body.get("segments") or [] if isinstance(s, dict)]
    spans = [(float(s.get("start", 0.0)), float(s.get("end", 0.0))) for s in raw]
    owned: list[list[Word]] = [[] for _ in raw]
    for w in words:  # each word to the first segment that has not ended by its midpoint
        mid = (w.start + w.end) / 2
        idx = next((i for i, (_, end) in enumerate(spans) if mid <= end), len(spans) - 1)
        if idx >= 0:
            owned[idx].append(w)
    segments = [
        Segment(
            start,
            end,
            str(s.get("text", "")).strip(),
            tuple(ws),
            float(s.get("avg_logprob", 0.0)),
            float(s.get("no_speech_prob", 0.0)),
        )
        for s, (start, end), ws in zip(raw, spans, owned, strict=True)
    ]
    if not segments and text:
        segments.append(Segment(0.0, duration, text, tuple(words)))
    return Transcript(text=text, language=language, duration=duration, segments=tuple(segments))
