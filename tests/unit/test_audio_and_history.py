from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from voxloop.audio import (
    Audio,
    decode_audio,
    decode_file,
    read_wav,
    to_srt,
    to_vtt,
    wav_bytes,
    write_wav,
)
from voxloop.dialogue.history import Conversation
from voxloop.engines.types import Segment
from voxloop.errors import AudioDecodeError


def test_wav_roundtrip_and_decode_resamples(tmp_path: Path) -> None:
    x = (0.5 * np.sin(np.linspace(0, 200, 22050))).astype(np.float32)
    write_wav(tmp_path / "a.wav", Audio(x, 22050))
    back = read_wav(tmp_path / "a.wav")
    assert back.sample_rate == 22050 and np.allclose(back.samples, x, atol=1e-3)
    dec = decode_file(tmp_path / "a.wav", 16000)
    assert dec.sample_rate == 16000 and abs(dec.duration - 1.0) < 0.01


@pytest.mark.parametrize("content,reason", [(b"", "empty"), (b"this is not audio at all" * 10, "decode"),
                                            (b"RIFF\x00\x00\x00\x00WAVEfmt ", "decode")])
def test_bad_audio_gets_one_line_error_naming_the_file(tmp_path: Path, content: bytes, reason: str) -> None:
    f = tmp_path / "bad.wav"
    f.write_bytes(content)
    with pytest.raises(AudioDecodeError) as e:
        decode_file(f)
    assert str(f) in e.value.message and "\n" not in e.value.message


def test_missing_file() -> None:
    with pytest.raises(AudioDecodeError, match="no such file"):
        decode_file("/nonexistent/x.wav")


def test_decode_in_memory_wav() -> None:
    data = wav_bytes(Audio(np.zeros(8000, np.float32), 8000))
    assert decode_audio(data, 16000).duration == pytest.approx(1.0, abs=0.01)


def test_srt_and_vtt_are_well_formed() -> None:
    segs = [Segment(0.0, 1.5, "Hello."), Segment(1.4, 3.25, "World."), Segment(3.3, 3.3, "  ")]
    srt = to_srt(segs)
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,500\nHello.")
    times = re.findall(r"(\d\d):(\d\d):(\d\d)[,.](\d\d\d)", srt + to_vtt(segs))
    assert len(times) == 8
    assert to_vtt(segs).startswith("WEBVTT")
    assert "00:00:01.500 --> 00:00:03.250" in to_vtt(segs)  # overlap clipped: monotonic


def test_history_budget_keeps_system_and_newest() -> None:
    conv = Conversation("system prompt")
    for i in range(50):
        conv.add("user", f"question {i} " * 5)
        conv.add("assistant", f"answer {i} " * 5)
    msgs = conv.messages(200, lambda t: len(t.split()))
    assert msgs[0].role == "system" and msgs[1].role == "user"
    assert "answer 49" in msgs[-1].content
    assert sum(len(m.content.split()) for m in msgs) <= 200 + 10


def test_history_window_keeps_its_start_until_it_outgrows_the_budget() -> None:
    """Trimming drops many old turns at once, so the prompt's prefix (the model's KV cache)
    stays the same for the turns in between instead of changing every turn."""
    count = lambda t: len(t.split())  # noqa: E731
    conv = Conversation("system prompt")
    firsts, sizes = [], []
    for i in range(40):
        conv.add("user", f"question {i} " * 5)
        conv.add("assistant", f"answer {i} " * 5)
        msgs = conv.messages(200, count)
        firsts.append(msgs[1].content)
        sizes.append(sum(count(m.content) + 4 for m in msgs))
    changes = sum(a != b for a, b in zip(firsts, firsts[1:], strict=False))
    assert 3 <= changes <= 12  # every ~4 turns (100 tokens freed, 28 added a turn), not on every turn
    assert max(sizes) <= 200 and min(sizes[10:]) >= 200 * 0.4


def test_truncate_keeps_heard_text() -> None:
    conv = Conversation()
    item = conv.add("assistant", "a long reply that was cut")
    assert conv.truncate(item.id, "a long")
    assert conv.get(item.id) is not None and conv.get(item.id).text == "a long"  # type: ignore[union-attr]


def test_subtitle_cues_cut_at_sentences_and_length() -> None:
    from voxloop.audio.subtitles import subtitle_cues
    from voxloop.engines.types import Word

    text = "Hello there. This is a long sentence that keeps going on and on without any end in sight at all"
    words = tuple(Word(i * 0.5, i * 0.5 + 0.4, " " + w) for i, w in enumerate(text.split()))
    cues = subtitle_cues([Segment(0, 20, "x", words=words)], max_chars=40, max_seconds=5)
    assert cues[0].text == "Hello there."
    assert all(len(c.text) <= 40 and c.end - c.start <= 5 for c in cues)
    assert [c.start for c in cues] == sorted(c.start for c in cues)


def test_decoding_stops_past_max_seconds() -> None:
    from voxloop.audio.decode import AudioTooLong

    data = wav_bytes(Audio(np.zeros(16000 * 5, np.float32), 16000))
    with pytest.raises(AudioTooLong) as e:
        decode_audio(data, 16000, name="long.wav", max_seconds=2)
    assert e.value.http_status == 413 and "long.wav" in e.value.message
    assert decode_audio(data, 16000, max_seconds=10).duration == pytest.approx(5.0, abs=0.01)
