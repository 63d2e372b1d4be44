"""Every REST field, fuzzed (hypothesis) against the app with fake engines: a client mistake is
a 4xx with OpenAI's error shape, never a 5xx, and good requests still work afterwards."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.fuzz import JSON, SECRET_BODY, SPEECH_BODY, TRANSCRIPTION_FIELDS  # noqa: E402
from tests.unit.test_rest_transcriptions import client, make_app, tones  # noqa: E402

APP = make_app()
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def answer_ok(r: httpx.Response) -> None:
    assert r.status_code < 500, f"{r.status_code}: {r.text[:300]}"
    if r.status_code >= 400:
        error = r.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"]


def post(path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        async with client(APP) as c:
            r = await c.post(path, **kwargs)
            await r.aread()
            return r

    return asyncio.run(go())


@FUZZ
@given(SPEECH_BODY)
def test_speech_bodies(body: Any) -> None:
    answer_ok(post("/v1/audio/speech", content=json.dumps(body), headers={"Content-Type": "application/json"}))


@FUZZ
@given(st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
def test_speech_raw_bodies(raw: bytes) -> None:
    answer_ok(post("/v1/audio/speech", content=raw, headers={"Content-Type": "application/json"}))


@FUZZ
@given(TRANSCRIPTION_FIELDS, st.sampled_from([b"", b"RIFF", b"\x00" * 64, tones(0.3)]))
def test_transcription_forms(fields: dict[str, str], audio: bytes) -> None:
    answer_ok(post("/v1/audio/transcriptions", data=fields, files={"file": ("a.wav", audio)}))


@FUZZ
@given(st.binary(max_size=200), st.sampled_from(["multipart/form-data; boundary=x", "multipart/form-data",
                                                 "application/x-www-form-urlencoded", "text/plain"]))
def test_malformed_multipart(raw: bytes, content_type: str) -> None:
    answer_ok(post("/v1/audio/transcriptions", content=b"--x\r\n" + raw, headers={"Content-Type": content_type}))


@FUZZ
@given(SECRET_BODY | JSON)
def test_client_secret_bodies(body: Any) -> None:
    answer_ok(post("/v1/realtime/client_secrets", content=json.dumps(body),
                   headers={"Content-Type": "application/json"}))


def test_deep_json_is_a_400_and_good_requests_still_work() -> None:
    deep = b'{"model": "tts-1", "input": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    r = post("/v1/audio/speech", content=deep, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    good = post("/v1/audio/speech", json={"model": "tts-1", "input": "hello there", "response_format": "pcm"})
    assert good.status_code == 200 and good.content


async def test_rest_work_waits_for_its_lane_and_never_takes_more() -> None:
    app = make_app(rest_jobs=1)
    lane = app.state.voxloop.rest_jobs
    await lane.acquire()  # the lane is busy (another upload)
    async with client(app) as c:
        speech = asyncio.ensure_future(c.post("/v1/audio/speech", json={"model": "tts-1", "input": "hi there",
                                                                        "response_format": "pcm"}))
        upload = asyncio.ensure_future(c.post("/v1/audio/transcriptions", data={"model": "whisper-1"},
                                              files={"file": ("a.wav", tones(0.3))}))
        for _ in range(50):
            await asyncio.sleep(0)
        assert not speech.done() and not upload.done()
        lane.release()
        r1, r2 = await speech, await upload
    assert r1.status_code == 200 and r2.status_code == 200
    assert not lane.locked()


async def test_a_body_that_stops_arriving_gets_a_408(monkeypatch: pytest.MonkeyPatch) -> None:
    """A mutated Content-Length (more declared than sent) hung until the client gave up."""
    from voxloop.server import rest_common

    monkeypatch.setattr(rest_common, "BODY_IDLE_S", 0.05)
    monkeypatch.setattr(rest_common, "_DRAIN_SECONDS", 0.05)
    app = make_app()
    sent: list[dict[str, Any]] = []
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b'{"model": "tts-1", ', "more_body": True}
        await asyncio.Event().wait()  # the rest never comes
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/audio/speech", "raw_path": b"/v1/audio/speech",
             "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
             "headers": [(b"host", b"localhost"), (b"content-type", b"application/json"),
                         (b"content-length", b"1000")]}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 408 and json.loads(body)["error"]["code"] == "request_timeout"


async def test_control_characters_never_reach_the_voice() -> None:
    """Found against the real server: a NUL in 'input' made Piper fail (502)."""
    from tests.unit.test_rest_transcriptions import FakeStack

    stack = FakeStack()
    app = make_app(stack)
    async with client(app) as c:
        r = await c.post("/v1/audio/speech", json={"model": "tts-1", "input": "hi\x00 there\x07", "response_format": "pcm"})
        only = await c.post("/v1/audio/speech", json={"model": "tts-1", "input": "\x00\x01"})
    assert r.status_code == 200 and all("\x00" not in t and "\x07" not in t for t, _ in stack.tts.calls)
    assert only.status_code == 400 and only.json()["error"]["param"] == "input"


async def test_live_decodes_go_before_queued_rest_pieces() -> None:
    """REST decodes are background work of the shared scheduler: a live turn waits for the piece
    being decoded at most, never for the rest of an upload."""
    from voxloop.session.transcriber import ASRScheduler

    order: list[str] = []
    gate = asyncio.Event()

    class Engine:
        async def transcribe(self, audio: Any, options: Any) -> str:
            order.append(audio)
            await gate.wait()
            return str(audio)

    scheduler = ASRScheduler(Engine(), slots=1)  # type: ignore[arg-type]
    first = asyncio.ensure_future(scheduler.transcribe("rest-1", None, background=True))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    rest = asyncio.ensure_future(scheduler.transcribe("rest-2", None, background=True))  # type: ignore[arg-type]
    partial = asyncio.ensure_future(scheduler.transcribe("partial", None, final=False))  # type: ignore[arg-type]
    live = asyncio.ensure_future(scheduler.transcribe("live-final", None))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(first, rest, partial, live)
    assert order == ["rest-1", "live-final", "partial", "rest-2"]
