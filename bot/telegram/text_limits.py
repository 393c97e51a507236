"""Telegram's size limits on what the bot sends, and the helpers that keep texts inside.

Telegram measures a text after parsing its entities (HTML tags and `&lt;`-style entities
do not count) in UTF-16 code units: an emoji outside the Basic Multilingual Plane counts
twice. A text over the limit is refused as a whole ("message is too long"), so every
text that carries input of unbounded size (names, answers, reasons, filters, commands)
is cut or budgeted before it is sent.
"""

from __future__ import annotations

import html
import re

MESSAGE_LIMIT = 4096  # a message's text
CAPTION_LIMIT = 1024  # a document's caption
ALERT_LIMIT = 200  # answerCallbackQuery's text
ELLIPSIS = "…"

_TAG = re.compile(r"<[^>]*>")


def tg_len(text: str) -> int:
    """The length Telegram counts: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def visible_len(html_text: str) -> int:
    """The length of an HTML text as Telegram counts it: tags removed, entities decoded."""
    return tg_len(html.unescape(_TAG.sub("", html_text)))


def cut(text: str, limit: int) -> str:
    """`text` if it fits `limit` UTF-16 units, else its start and "…" within the limit.
    Plain text: cut before escaping it for HTML (an entity is never split)."""
    if tg_len(text) <= limit:
        return text
    budget = max(limit - 1, 0)
    out: list[str] = []
    used = 0
    for char in text:
        units = 2 if ord(char) > 0xFFFF else 1
        if used + units > budget:
            break
        out.append(char)
        used += units
    return "".join(out) + ELLIPSIS
