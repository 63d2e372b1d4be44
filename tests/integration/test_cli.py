"""The ``voxloop`` CLI with the real embedded models, as a user runs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.models
ROOT = Path(__file__).resolve().parents[2]


def voxloop(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "voxloop.cli.main", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=300)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def test_transcribe_jfk(eval_speech: Path) -> None:
    r = voxloop("transcribe", str(eval_speech / "en/jfk.wav"))
    assert r.returncode == 0, r.stderr
    assert words(r.stdout) == words("And so my fellow Americans, ask not what your country can do for you, "
                                    "ask what you can do for your country.")


def test_say_then_transcribe_roundtrip(tmp_path: Path) -> None:
    out = tmp_path / "hello.wav"
    r = voxloop("say", "The quick brown fox jumps over the lazy dog.", "-o", str(out), "--speed", "1.2")
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 10000
    r = voxloop("transcribe", str(out), "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout.strip().splitlines()[0])
    assert set(doc) >= {"file", "text", "language", "duration", "segments"}
    assert "quick brown fox" in doc["text"].lower()
    seg = doc["segments"][0]
    assert {"start", "end", "text", "words"} <= set(seg) and seg["words"]


def test_subtitles_parse_back_with_monotonic_times(eval_speech: Path, tmp_path: Path) -> None:
    for fmt in ("srt", "vtt"):
        out = tmp_path / f"osr.{fmt}"
        r = voxloop("transcribe", str(eval_speech / "en/OSR_us_000_0034_8k.wav"), "--format", fmt, "-o", str(out))
        assert r.returncode == 0, r.stderr
        text = out.read_text()
        stamps = re.findall(r"(\d\d):(\d\d):(\d\d)[,.](\d\d\d) --> (\d\d):(\d\d):(\d\d)[,.](\d\d\d)", text)
        assert len(stamps) >= 3
        flat = []
        for s in stamps:
            a = int(s[0]) * 3600 + int(s[1]) * 60 + int(s[2]) + int(s[3]) / 1000
            b = int(s[4]) * 3600 + int(s[5]) * 60 + int(s[6]) + int(s[7]) / 1000
            assert b > a
            flat += [a, b]
        assert flat == sorted(flat)
        assert (fmt == "vtt") == text.startswith("WEBVTT")


def test_bad_inputs_get_one_line_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.mp3"
    junk.write_text("definitely not audio\n" * 50)
    r = voxloop("transcribe", str(empty), str(junk), "/no/such/file.wav")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr
    errors = [line for line in lines if line.startswith("voxloop: error:")]
    assert len(errors) == 3
    assert str(empty) in errors[0] and str(junk) in errors[1] and "/no/such/file.wav" in errors[2]


def test_user_mistakes_exit_nonzero_without_traceback(tmp_path: Path) -> None:
    for args in (["say", "", "-o", str(tmp_path / "x.wav")], ["transcribe", "x.wav", "--asr", "nope"],
                 ["say", "hi", "-o", str(tmp_path / "y.wav"), "--speed", "9"]):
        r = voxloop(*args)
        assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.strip().startswith("voxloop: error:")


def test_models_and_help() -> None:
    r = voxloop("models")
    assert r.returncode == 0 and "whisper" in r.stdout and "default" in r.stdout
    for sub in ("transcribe", "say", "chat", "models", "serve", "demo"):
        assert voxloop(sub, "--help").returncode == 0


def test_chat_streams_a_reply_and_speaks_it(tmp_path: Path) -> None:
    out = tmp_path / "chat.wav"
    r = voxloop("chat", "--speak", str(out), "--max-tokens", "30", stdin="Say hello.\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()
    assert out.stat().st_size > 1000


def test_transcribe_with_a_vocabulary(tmp_path: Path) -> None:
    wav = tmp_path / "drug.wav"
    assert voxloop("say", "The patient takes atorvastatin and lisinopril every day.", "-o", str(wav)).returncode == 0
    vocab = tmp_path / "drugs.txt"
    vocab.write_text("# cardiology\natorvastatin\nlisinopril\nmetformin\n")
    r = voxloop("transcribe", str(wav), "--vocabulary", str(vocab))
    assert r.returncode == 0, r.stderr
    assert "atorvastatin" in r.stdout.lower() and "lisinopril" in r.stdout.lower()
    r = voxloop("transcribe", str(wav), "--vocabulary", str(tmp_path / "missing.txt"))
    assert r.returncode == 1 and "missing.txt" in r.stderr and "Traceback" not in r.stderr
