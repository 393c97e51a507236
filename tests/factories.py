"""Builders for the update JSON Telegram sends (plain dicts; keyword overrides everywhere).

Every ``*_update`` carries an ``update_id`` from a process-wide counter so the dict parses with
``aiogram.types.Update.model_validate`` as is; ``FakeBotAPI.push_update`` keeps it when it is
above every id pushed so far and assigns the next one otherwise.
"""

from __future__ import annotations

import re
import secrets
import time
from itertools import count
from typing import Any

from tests.fakes.bot_api import chat_member_json

JSON = dict[str, Any]

_user_ids = count(10_001)
# Far apart, so the fake API can number the bot's own messages in between.
_message_ids = count(1000, 1000)
_update_ids = count(1)
_COMMAND = re.compile(r"^/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?")


def _now() -> int:
    return int(time.time())


def _file_ids(prefix: str, file_id: str | None, file_unique_id: str | None) -> JSON:
    return {
        "file_id": file_id or f"{prefix}{secrets.token_urlsafe(24)}",
        "file_unique_id": file_unique_id or f"AgAD{secrets.token_urlsafe(8)}",
    }


def _compact(obj: JSON) -> JSON:
    return {k: v for k, v in obj.items() if v is not None}


# --------------------------------------------------------------------------- users & chats
def user(
    id: int | None = None,
    first_name: str = "Test",
    *,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = "en",
    is_premium: bool | None = None,
    is_bot: bool = False,
) -> JSON:
    user_id = next(_user_ids) if id is None else id
    return _compact(
        {
            "id": user_id,
            "is_bot": is_bot,
            "first_name": first_name,
            "last_name": last_name,
            "username": username if username is not None else f"user{user_id}",
            "language_code": language_code,
            "is_premium": is_premium,
        }
    )


def private_chat(user: JSON) -> JSON:
    fields = ("first_name", "last_name", "username")
    return {"id": user["id"], "type": "private", **{k: user[k] for k in fields if k in user}}


def group_chat(
    id: int = -1_001_234_567_890,
    title: str = "Test Group",
    *,
    username: str | None = None,
    is_forum: bool | None = None,
    type: str = "supergroup",
) -> JSON:
    chat = {"id": id, "type": type, "title": title, "username": username, "is_forum": is_forum}
    return _compact(chat)


# --------------------------------------------------------------------------- messages
def message(
    text: str | None = None,
    *,
    from_user: JSON | None = None,
    chat: JSON | None = None,
    message_id: int | None = None,
    date: int | None = None,
    reply_to: JSON | None = None,
    forward_origin: JSON | None = None,
    **extra: Any,
) -> JSON:
    """A Message; a leading /command gets its bot_command entity unless entities are given."""
    from_user = from_user or user()
    msg: JSON = {
        "message_id": next(_message_ids) if message_id is None else message_id,
        "from": from_user,
        "chat": chat or private_chat(from_user),
        "date": _now() if date is None else date,
    }
    if text is not None:
        msg["text"] = text
        if (match := _COMMAND.match(text)) and "entities" not in extra:
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": match.end()}]
    if reply_to is not None:
        msg["reply_to_message"] = {k: v for k, v in reply_to.items() if k != "reply_to_message"}
    if forward_origin is not None:
        msg["forward_origin"] = forward_origin
    msg.update(extra)
    return msg


def forward_origin_user(sender: JSON, date: int | None = None) -> JSON:
    return {"type": "user", "sender_user": sender, "date": _now() if date is None else date}


def voice(
    file_id: str | None = None,
    file_unique_id: str | None = None,
    duration: int = 3,
    mime_type: str = "audio/ogg",
    file_size: int | None = 4096,
) -> JSON:
    ids = _file_ids("AwACAgIAAxkBAAI", file_id, file_unique_id)
    return _compact({**ids, "duration": duration, "mime_type": mime_type, "file_size": file_size})


def audio(
    file_id: str | None = None,
    file_unique_id: str | None = None,
    duration: int = 30,
    mime_type: str = "audio/mpeg",
    file_size: int | None = 65536,
    *,
    file_name: str | None = "audio.mp3",
    title: str | None = None,
    performer: str | None = None,
) -> JSON:
    ids = _file_ids("CQACAgIAAxkBAAI", file_id, file_unique_id)
    fields = {"duration": duration, "mime_type": mime_type, "file_size": file_size}
    return _compact(
        {**ids, **fields, "file_name": file_name, "title": title, "performer": performer}
    )


def video_note(
    file_id: str | None = None,
    file_unique_id: str | None = None,
    duration: int = 5,
    length: int = 240,
    file_size: int | None = 65536,
) -> JSON:
    ids = _file_ids("DQACAgIAAxkBAAI", file_id, file_unique_id)
    return _compact({**ids, "length": length, "duration": duration, "file_size": file_size})


def document(
    file_id: str | None = None,
    file_unique_id: str | None = None,
    file_name: str | None = "file.txt",
    mime_type: str | None = "text/plain",
    file_size: int | None = 1024,
) -> JSON:
    ids = _file_ids("BQACAgIAAxkBAAI", file_id, file_unique_id)
    return _compact({**ids, "file_name": file_name, "mime_type": mime_type, "file_size": file_size})


# --------------------------------------------------------------------------- updates
def _update(kind: str, payload: JSON, update_id: int | None) -> JSON:
    return {"update_id": next(_update_ids) if update_id is None else update_id, kind: payload}


def message_update(msg: JSON, *, update_id: int | None = None) -> JSON:
    return _update("message", msg, update_id)


def edited_message_update(
    msg: JSON, *, edit_date: int | None = None, update_id: int | None = None
) -> JSON:
    edited = {**msg, "edit_date": _now() if edit_date is None else edit_date}
    return _update("edited_message", edited, update_id)


def callback_query_update(
    from_user: JSON,
    message: JSON | None,
    data: str | None,
    id: str | None = None,
    *,
    chat_instance: str = "-1234567890123456789",
    update_id: int | None = None,
) -> JSON:
    query = {
        "id": id or str(secrets.randbelow(10**18)),
        "from": from_user,
        "message": message,
        "chat_instance": chat_instance,
        "data": data,
    }
    return _update("callback_query", _compact(query), update_id)


def invite_link(creator: JSON, *, link: str | None = None, **extra: Any) -> JSON:
    return {
        "invite_link": link or f"https://t.me/+{secrets.token_urlsafe(12)}",
        "creator": creator,
        "creates_join_request": False,
        "is_primary": False,
        "is_revoked": False,
        **extra,
    }


def chat_join_request_update(
    chat: JSON,
    from_user: JSON,
    user_chat_id: int | None = None,
    bio: str | None = None,
    invite_link: JSON | None = None,
    *,
    date: int | None = None,
    update_id: int | None = None,
) -> JSON:
    request = {
        "chat": chat,
        "from": from_user,
        "user_chat_id": from_user["id"] if user_chat_id is None else user_chat_id,
        "date": _now() if date is None else date,
        "bio": bio,
        "invite_link": invite_link,
    }
    return _update("chat_join_request", _compact(request), update_id)


def chat_member(user: JSON, status: str = "member", **extra: Any) -> JSON:
    """ChatMember JSON for any status (creator/administrator/member/restricted/left/kicked)."""
    return chat_member_json(user, status, **extra)


def _member_change(
    kind: str,
    chat: JSON,
    from_user: JSON,
    old_member: JSON,
    new_member: JSON,
    date: int | None,
    update_id: int | None,
    extra: JSON,
) -> JSON:
    change = {
        "chat": chat,
        "from": from_user,
        "date": _now() if date is None else date,
        "old_chat_member": old_member,
        "new_chat_member": new_member,
        **extra,
    }
    return _update(kind, change, update_id)


def chat_member_update(
    chat: JSON,
    from_user: JSON,
    old_member: JSON,
    new_member: JSON,
    *,
    date: int | None = None,
    update_id: int | None = None,
    **extra: Any,
) -> JSON:
    args = (chat, from_user, old_member, new_member, date, update_id, extra)
    return _member_change("chat_member", *args)


def my_chat_member_update(
    chat: JSON,
    from_user: JSON,
    old_member: JSON,
    new_member: JSON,
    *,
    date: int | None = None,
    update_id: int | None = None,
    **extra: Any,
) -> JSON:
    args = (chat, from_user, old_member, new_member, date, update_id, extra)
    return _member_change("my_chat_member", *args)


def _reactions(reactions: list[str | JSON]) -> list[JSON]:
    return [{"type": "emoji", "emoji": r} if isinstance(r, str) else r for r in reactions]


def message_reaction_update(
    chat: JSON,
    user: JSON | None,
    message_id: int,
    old_reaction: list[str | JSON],
    new_reaction: list[str | JSON],
    *,
    date: int | None = None,
    update_id: int | None = None,
) -> JSON:
    """Reactions may be given as emoji strings or ReactionType dicts."""
    reaction = {
        "chat": chat,
        "message_id": message_id,
        "user": user,
        "date": _now() if date is None else date,
        "old_reaction": _reactions(old_reaction),
        "new_reaction": _reactions(new_reaction),
    }
    return _update("message_reaction", _compact(reaction), update_id)
