"""Helpers for A2T tests: real audio files served by the fake Bot API, voice-note
updates, word error rate, and the models shipped by PyPI packages."""

from __future__ import annotations

import csv
import re
import subprocess
import tempfile
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

from tests import factories as f
from tests.fakes import FakeBotAPI

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent
WHISPER_BASE = REPO / ".cache" / "models" / "whisper-base"
JFK_PHRASE = "ask not what your country can do for you"


@cache
def references() -> dict[str, str]:
    with (DATA / "manifest.tsv").open(newline="") as handle:
        return {
            row["file"]: row["reference_text"] for row in csv.DictReader(handle, delimiter="\t")
        }


def normalise(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[^\w\s']", " ", text).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = normalise(reference), normalise(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(
                previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)
            )
        previous = current
    return previous[-1] / max(1, len(ref))


def hit_rate(reference: str, hypothesis: str) -> float:
    """Share of the reference's words found in the transcript, in order, in %: the
    longest common subsequence of words (optimal, so text that repeats itself, as
    the benchmark's long notes do, is not misaligned)."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    return 100 * _common_subsequence(ref, hyp) / max(1, len(ref))


def _common_subsequence(a: list[str], b: list[str]) -> int:
    """LCS length, bit-parallel (Hyyrö 2004): one big-integer step per word of `b`."""
    masks: dict[str, int] = {}
    for i, word in enumerate(a):
        masks[word] = masks.get(word, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for word in b:
        m = masks.get(word, 0)
        u = v & m
        v = ((v + u) | (v & ~m)) & full
    return len(a) - bin(v).count("1")


def lj_minute_reference() -> str:
    """The reference text of `lj_speech_minute()`."""
    return " ".join(references()[f"lj_LJ001-{n:04d}.wav"] for n in range(1, 10))


def voice_note(
    api: FakeBotAPI,
    data: bytes,
    *,
    user: dict[str, Any],
    chat: dict[str, Any],
    duration: int = 11,
    file_unique_id: str | None = None,
    kind: str = "voice",
    **message_extra: Any,
) -> dict[str, Any]:
    """Register the bytes at the fake API and build the message update carrying them."""
    file = api.add_file(data, file_unique_id=file_unique_id)
    media = {
        "file_id": file["file_id"],
        "file_unique_id": file["file_unique_id"],
        "file_size": len(data),
    }
    if kind == "voice":
        extra = {"voice": f.voice(duration=duration, **media)}
    elif kind == "audio":
        extra = {"audio": f.audio(duration=duration, **media)}
    elif kind == "video_note":
        extra = {"video_note": f.video_note(duration=duration, **media)}
    else:
        extra = {"document": f.document(mime_type="audio/ogg", file_name="memo.ogg", **media)}
    message = f.message(from_user=user, chat=chat, **extra, **message_extra)
    return f.message_update(message)


def audio_bytes(name: str) -> bytes:
    return (DATA / name).read_bytes()


def telegram_voice_note(*input_args: str) -> bytes:
    """Encode ffmpeg input(s) the way Telegram sends voice notes: OGG/Opus, mono, 48 kHz."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "note.ogg"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                *input_args,
                "-c:a",
                "libopus",
                "-b:a",
                "32k",
                "-ac",
                "1",
                "-ar",
                "48000",
                str(out),
            ],
            check=True,
        )
        return out.read_bytes()


def jfk_repeated(times: int) -> bytes:
    return telegram_voice_note("-stream_loop", str(times - 1), "-i", str(DATA / "jfk.ogg"))


def lj_speech_minute() -> bytes:
    """~58 s of varied real speech: LJ Speech clips 0001-0009 as one voice note."""
    clips = sorted(DATA.glob("lj_LJ001-000[1-9].wav"))
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "clips.txt"
        listing.write_text("".join(f"file '{clip}'\n" for clip in clips))
        return telegram_voice_note("-f", "concat", "-safe", "0", "-i", str(listing))
