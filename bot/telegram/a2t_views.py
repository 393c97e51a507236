"""How transcription jobs look in Telegram: status, progress and result texts,
their keyboards, and .txt/.srt files. Shared: the bot's voice feature (bot/telegram/a2t/)
and the workers render them, so it sits at the top of bot/telegram, in no feature's
folder. No aiogram here (the worker never loads it): keyboards are the Bot API's JSON,
their buttons' data packed as `A2TCallback` packs it (bot/telegram/callbacks.py parses
it; a test holds the two together)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.i18n import _
from bot.repositories.jobs import JobView
from bot.services.transcription import QueueStatus
from bot.texts import clock

# An inline keyboard as the Bot API takes it.
Markup = dict[str, Any]

# Telegram allows 4096 characters a message; keep room for the header and footer.
MESSAGE_LIMIT = 4096
PROGRESS_PREVIEW = 600


def queued_text(position: int) -> str:
    return _("🎙 Queued for transcription, position {position}.").format(position=position)


def progress_text(percent: float, partial: str) -> str:
    head = _("⏳ Transcribing… {percent}%").format(percent=int(percent))
    if not partial:
        return head
    preview = partial if len(partial) <= PROGRESS_PREVIEW else "…" + partial[-PROGRESS_PREVIEW:]
    return f"{head}\n\n{preview}"


def cancelled_text() -> str:
    return _("✖️ Transcription cancelled.")


def failed_text(reason: str) -> str:
    """`reason`: already in the reader's language."""
    return _("⚠️ I could not transcribe this. {reason}").format(reason=reason)


class A2TAction(StrEnum):
    CANCEL = "x"
    TXT = "t"
    SRT = "s"
    RERUN = "r"


def a2t_data(action: A2TAction, job_id: int, language: str = "") -> str:
    """A button's callback data, as `A2TCallback(action, job_id, language).pack()`."""
    return f"a2t:{action.value}:{job_id}:{language}"


def _button(text: str, action: A2TAction, job_id: int, language: str = "") -> dict[str, str]:
    return {"text": text, "callback_data": a2t_data(action, job_id, language)}


def cancel_keyboard(job_id: int) -> Markup:
    return {"inline_keyboard": [[_button(_("Cancel"), A2TAction.CANCEL, job_id)]]}


def result_footer(
    job: JobView, now: datetime | None = None, delayed_after: timedelta | None = None
) -> str:
    """Language and duration; with `now` and `delayed_after`, a note when it is late."""
    footer = f"🗣 {job.language or '?'} · ⏱ {clock(job.audio_duration_s)}"
    late = (now - job.received_at) if now else timedelta(0)
    if delayed_after is not None and late > delayed_after:
        footer += "\n" + _("⏰ Delayed: the voice note arrived {ago} ago.").format(ago=_ago(late))
    return footer


def result_messages(job: JobView, footer: str) -> list[str]:
    """The transcript as one or more messages, split at word boundaries."""
    text = (job.text or "").strip() or _("(no speech recognised)")
    budget = MESSAGE_LIMIT - len(footer) - 2
    chunks = split_text(text, budget)
    chunks[-1] = f"{chunks[-1]}\n\n{footer}"
    return chunks


def result_keyboard(job: JobView, languages: list[str], multilingual: bool) -> Markup:
    rows = [[_button("📄 .txt", A2TAction.TXT, job.id), _button("🕑 .srt", A2TAction.SRT, job.id)]]
    if multilingual:
        others = [lang for lang in languages if lang != job.language][:4]
        if others:
            rows.append([_button(f"↻ {lang}", A2TAction.RERUN, job.id, lang) for lang in others])
    return {"inline_keyboard": rows}


def split_text(text: str, limit: int) -> list[str]:
    """Split at whitespace so that no chunk exceeds `limit`; a single word longer
    than the limit is cut (nothing else can be done with it)."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = rest.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = rest.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    chunks.append(rest)
    return chunks


def transcript_txt(job: JobView) -> bytes:
    return ((job.text or "").strip() + "\n").encode()


def transcript_srt(job: JobView) -> bytes:
    lines: list[str] = []
    segments = job.segments or [
        {"start": 0.0, "end": job.audio_duration_s or 0.0, "text": job.text or ""}
    ]
    for index, segment in enumerate(segments, start=1):
        start, end = _srt_time(segment["start"]), _srt_time(segment["end"])
        lines += [str(index), f"{start} --> {end}", str(segment["text"]).strip(), ""]
    return "\n".join(lines).encode()


def _srt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return _("{minutes} min").format(minutes=minutes)
    return _("{hours} h").format(hours=minutes // 60)


def queue_status_text(queues: list[QueueStatus], now: datetime) -> str:
    """/a2t_status: per queue, jobs waiting and running, the oldest wait, live workers;
    a warning for a queue whose jobs nothing alive will take."""
    lines = [_("Transcription queues:")]
    for q in queues:
        wait = clock((now - q.oldest_queued_at).total_seconds()) if q.oldest_queued_at else "–"
        workers = (
            _("runs inside the bot")
            if q.live_workers is None
            else _("{count} live workers").format(count=q.live_workers)
        )
        lines.append(
            _("• {queue}: {queued} waiting (oldest {wait}), {running} running; {workers}").format(
                queue=q.queue, queued=q.queued, wait=wait, running=q.running, workers=workers
            )
        )
    for q in queues:
        if q.stuck:
            lines.append(
                _("⚠️ {queue}: jobs are waiting and no live worker serves this queue.").format(
                    queue=q.queue
                )
            )
    return "\n".join(lines)
