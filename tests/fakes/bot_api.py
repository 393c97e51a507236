"""A fake Telegram Bot API server for tests.

Point the real ``aiogram.Bot`` at it with
``AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))``; push update JSON with
:meth:`FakeBotAPI.push_update` and assert on :attr:`FakeBotAPI.calls`. Responses use the real
Bot API shapes (``{"ok": true, "result": ...}`` / ``{"ok": false, "error_code": ...}``).

Request encoding (what aiogram sends): a urlencoded form, or multipart/form-data when files are
uploaded. Every non-string value is a JSON string (``"true"``, ``"123"``, ``'{"inline_keyboard":
...}'``), values that prepare to an empty string are dropped, and an uploaded ``InputFile`` is a
file part under a *random* name referenced from the parameter as ``attach://<name>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import re
import secrets
import time
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http import HTTPStatus
from itertools import count
from typing import Any

from aiogram import methods as tg_methods
from aiogram import types as tg_types
from aiogram.client.default import Default
from aiogram.enums import UpdateType
from aiohttp import web

JSON = dict[str, Any]
Handler = Callable[["ApiCall"], Any]

DEFAULT_TOKEN = "123456:TEST-token-AAAAAAAAAAAAAAAAAAAAAAAAAAA"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
BLOCKED = "Forbidden: bot was blocked by the user"
MAX_TEXT, MAX_CAPTION = 4096, 1024
MAX_CALLBACK_ANSWER = 200  # answerCallbackQuery's text
MAX_CALLBACK_DATA = 64  # bytes of an inline button's callback_data
INT64 = range(-(2**63), 2**63)
# The named entities Telegram's HTML knows; any other "&" stays literal text.
_HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_LITERAL_AMP = re.compile(r"&(?!(?:lt|gt|amp|quot);|#[0-9]+;|#[xX][0-9a-fA-F]+;)")
# Telegram's default when allowed_updates was never set (or set to []).
DEFAULT_ALLOWED_UPDATES = frozenset(
    u.value
    for u in UpdateType
    if u.value not in {"chat_member", "message_reaction", "message_reaction_count"}
)
# Methods that write into a chat: a blocked chat answers them with 403.
CHAT_WRITE_METHODS = frozenset(
    m.lower()
    for m in (
        *("sendMessage", "sendDocument", "sendVoice", "sendAudio", "sendPhoto", "copyMessage"),
        *("sendChatAction", "editMessageText", "editMessageReplyMarkup", "pinChatMessage"),
        "setMessageReaction",
    )
)
# Methods that change something in Telegram: a forged press or command must cause none
# (answering the press with an alert, or the command with a reply, is not among them).
ACTING_METHODS = frozenset(
    m.lower()
    for m in (
        *("editMessageText", "editMessageReplyMarkup", "editMessageCaption", "deleteMessage"),
        *("banChatMember", "unbanChatMember", "restrictChatMember", "promoteChatMember"),
        *("approveChatJoinRequest", "declineChatJoinRequest", "createChatInviteLink"),
        *("revokeChatInviteLink", "exportChatInviteLink", "sendDocument", "copyMessage"),
        *("pinChatMessage", "setMessageReaction", "leaveChat"),
    )
)
_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a"}
    | {"tg-emoji", "code", "pre", "blockquote", "tg-time"}
)

_METHOD_MODELS: dict[str, Any] = {
    cls.__api_method__.lower(): cls
    for cls in (getattr(tg_methods, name) for name in tg_methods.__all__)
    if isinstance(getattr(cls, "__api_method__", None), str)
}
_MEMBER_MODELS: dict[str, Any] = {
    "creator": tg_types.ChatMemberOwner,
    "administrator": tg_types.ChatMemberAdministrator,
    "member": tg_types.ChatMemberMember,
    "restricted": tg_types.ChatMemberRestricted,
    "left": tg_types.ChatMemberLeft,
    "kicked": tg_types.ChatMemberBanned,
}


class BotAPIError(Exception):
    """Raise from a handler to answer with a Bot API error."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error_code, self.description, self.retry_after = error_code, description, retry_after

    def to_json(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(reason: str) -> BotAPIError:
    return BotAPIError(400, f"Bad Request: {reason}")


@dataclass
class ApiCall:
    """One request the bot made. ``files``/``filenames`` are keyed by the parameter that
    references the upload (``document``), else by the part name."""

    method: str
    params: JSON
    files: dict[str, bytes] = field(default_factory=dict)
    filenames: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    response: JSON | None = None  # the body sent back, once answered


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_name: str | None = None

    def as_json(self) -> JSON:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
            "file_path": self.file_path,
        }


def chat_member_json(user: JSON, status: str = "member", **extra: Any) -> JSON:
    """ChatMember JSON; required flags of aiogram's model default to False (until_date to 0,
    ``is_member`` of a restricted member to True)."""
    status = {"owner": "creator", "banned": "kicked"}.get(status, status)
    if status not in _MEMBER_MODELS:
        raise ValueError(f"unknown chat member status {status!r}")
    member: JSON = {"status": status, "user": user}
    for name, info in _MEMBER_MODELS[status].model_fields.items():
        if info.is_required() and name not in member:
            member[name] = 0 if name == "until_date" else name == "is_member"
    member.update(extra)
    return member


def _keeps_raw(annotation: Any) -> bool:
    """True when aiogram types the parameter as a plain string (so "123" must stay "123")."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = typing.get_args(annotation) if union else (annotation,)
    raw_types = (str, Default, tg_types.InputFile, type(None))
    return all(isinstance(t, type) and issubclass(t, raw_types) for t in members)


@functools.cache
def _raw_param(method: str, name: str) -> bool:
    model = _METHOD_MODELS.get(method.lower())
    info = model.model_fields.get(name) if model is not None else None
    return info is not None and _keeps_raw(info.annotation)


def _decode(method: str, name: str, raw: str) -> Any:
    if _raw_param(method, name):
        return raw
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return raw if isinstance(value, str) else value


class _TelegramHTML(HTMLParser):
    """Strips Telegram HTML to plain text, rejecting what the real parser rejects: unknown
    tags, misnested or unclosed ones, a span that is not a spoiler, and a bare "<" (text
    must write it as &lt;). Unknown named entities and a bare "&" stay literal text, as in
    Telegram."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            raise bad_request(f'can\'t parse entities: Unsupported start tag "{tag}"')
        if tag == "span" and ("class", "tg-spoiler") not in attrs:
            raise bad_request('can\'t parse entities: Tag "span" must have class "tg-spoiler"')
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise bad_request(f'can\'t parse entities: Unsupported start tag "{tag}/"')

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            raise bad_request(f'can\'t parse entities: Unexpected end tag "{tag}"')
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data:
            raise bad_request("can't parse entities: Unexpected character '<': write it as &lt;")
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        self.text.append(_HTML_ENTITIES[name])  # render_text escaped every other "&"

    def handle_charref(self, name: str) -> None:
        try:
            self.text.append(chr(int(name[1:], 16) if name[:1] in "xX" else int(name)))
        except (ValueError, OverflowError):
            self.text.append(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        raise bad_request('can\'t parse entities: Unsupported start tag "!--"')

    def handle_decl(self, decl: str) -> None:
        raise bad_request('can\'t parse entities: Unsupported start tag "!"')

    def unknown_decl(self, data: str) -> None:
        raise bad_request('can\'t parse entities: Unsupported start tag "!["')

    def handle_pi(self, data: str) -> None:
        raise bad_request('can\'t parse entities: Unsupported start tag "?"')


def tg_len(text: str) -> int:
    """A text's length as Telegram counts it: UTF-16 code units (an emoji outside the
    Basic Multilingual Plane counts twice)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def render_text(text: str, parse_mode: Any) -> str:
    """The text Telegram stores: HTML markup removed (and validated); other modes kept as is."""
    if not isinstance(parse_mode, str) or parse_mode.lower() != "html":
        return text
    parser = _TelegramHTML()
    parser.feed(_LITERAL_AMP.sub("&amp;", text))
    parser.close()
    if parser.rawdata:  # an unfinished tag at the very end, e.g. "x <b"
        raise bad_request("can't parse entities: Unclosed start tag at the end of the text")
    if parser.open:
        raise bad_request(
            f"can't parse entities: Can't find end tag corresponding to start tag {parser.open[-1]}"
        )
    return "".join(parser.text)


class _Signal:
    """Wakes every waiter on each pulse (a fresh Event per generation)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def pulse(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()


class _Bucket:
    """A token bucket: `rate` a second, at most `burst` saved."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's flood control as the fake enforces it: more than this in a chat (or
    in all chats) is answered with 429 and retry_after."""

    private_per_s: float = 1.0
    private_burst: float = 1.0
    group_per_min: float = 20.0
    group_burst: float = 1.0
    global_per_s: float = 30.0
    global_burst: float = 30.0
    retry_after: int = 1


class FakeBotAPI:
    """In-process Bot API server on 127.0.0.1 with a free port."""

    def __init__(self, token: str = DEFAULT_TOKEN, bot_user: JSON | None = None) -> None:
        self.token = token
        bot_id = int(token.split(":", 1)[0])
        self.bot_user: JSON = bot_user or {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Test Bot",
            "username": "test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[ApiCall] = []
        self.downloads: list[str] = []  # file paths served by GET /file/...
        self.messages: dict[tuple[int, int], JSON] = {}
        self.chats: dict[int, JSON] = {}
        self.users: dict[int, JSON] = {}
        self.members: dict[tuple[int, int], JSON] = {}
        self.files: dict[str, StoredFile] = {}
        self.invite_links: dict[str, JSON] = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.menu_buttons: dict[int | None, JSON] = {}
        self.allowed_updates: list[str] | None = None
        self.webhook_url = ""
        self.max_download_size = 20 * 1024 * 1024
        self.require_join_request = False  # True: approve/decline need an observed request
        # As Telegram: a chat the fake never saw (in an update, set_chat, or a known
        # user's private chat) is "chat not found". False: any id is a chat.
        self.strict_chats = True
        # Callback queries observed and not answered yet: Telegram answers each once.
        self.open_queries: set[str] = set()
        self._join_requests: set[tuple[int, int]] = set()
        self._updates: list[JSON] = []
        self._last_update_id = 0
        self._last_message_id: dict[int, int] = {}
        self._ids = count(1)
        self._faults: dict[str, list[BotAPIError]] = {}
        # flood_limit(): chat writes over the limits get 429 (kept in flood_errors);
        # write_times[chat_id]: when each accepted chat write arrived (monotonic).
        self.flood: FloodLimits | None = None
        self.flood_errors: list[ApiCall] = []
        self.write_times: dict[int, list[float]] = {}
        self._chat_buckets: dict[int, _Bucket] = {}
        self._global_bucket: _Bucket | None = None
        self._download_faults: list[int] = []
        self._delays: dict[str, float] = {}
        self._blocked: set[int] = set()
        self._overrides: dict[str, Handler] = {}
        self._calls_signal = _Signal()
        self._updates_signal = _Signal()
        self._poll_seq = 0
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._handlers: dict[str, Handler] = {
            "getMe": lambda _: self.bot_user,
            "getUpdates": self._get_updates,
            "setWebhook": lambda c: self._webhook(c, str(c.params.get("url", ""))),
            "deleteWebhook": lambda c: self._webhook(c, ""),
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendDocument": lambda c: self._send_media(c, "document"),
            "sendVoice": lambda c: self._send_media(c, "voice"),
            "sendAudio": lambda c: self._send_media(c, "audio"),
            "sendPhoto": lambda c: self._send_media(c, "photo"),
            "copyMessage": self._copy_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": lambda c: self.commands.get(self._commands_key(c), []),
            "deleteMyCommands": self._delete_my_commands,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": lambda c: self.menu_buttons.get(
                c.params.get("chat_id"), {"type": "default"}
            ),
            "getFile": self._get_file,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "getChatMemberCount": self._get_chat_member_count,
            "approveChatJoinRequest": lambda c: self._join_request(c, approve=True),
            "declineChatJoinRequest": lambda c: self._join_request(c, approve=False),
            "banChatMember": self._ban_chat_member,
            "unbanChatMember": self._unban_chat_member,
            "restrictChatMember": self._restrict_chat_member,
            "promoteChatMember": self._promote_chat_member,
            "createChatInviteLink": self._create_chat_invite_link,
            "revokeChatInviteLink": self._revoke_chat_invite_link,
            "exportChatInviteLink": self._export_chat_invite_link,
        }
        self._handlers["answerCallbackQuery"] = self._answer_callback_query
        for name in ("sendChatAction", "pinChatMessage", "leaveChat"):
            self._handlers[name] = lambda _: True
        self._handlers["setMessageReaction"] = lambda _: True
        self._handlers = {name.lower(): handler for name, handler in self._handlers.items()}

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._closing = False
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._closing = True
        self._updates_signal.pulse()  # end pending long polls
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeBotAPI is not started")
        return f"http://127.0.0.1:{self._port}"

    # ----------------------------------------------------------------- test controls
    def push_update(self, update: JSON) -> int:
        """Queue an update; keeps its update_id only if it is above every id so far."""
        upd = dict(update)
        update_id = upd.get("update_id")
        if not isinstance(update_id, int) or update_id <= self._last_update_id:
            update_id = self._last_update_id + 1
        self._last_update_id = upd["update_id"] = update_id
        self.observe(upd)
        self._updates.append(upd)
        self._updates_signal.pulse()
        return update_id

    @property
    def pending_updates(self) -> list[JSON]:
        return list(self._updates)

    def observe(self, update: JSON) -> None:
        """Learn users, chats, messages, members and join requests from an update (push_update
        does this; call it for updates fed to the dispatcher directly)."""
        self._collect(update)
        for kind in ("message", "edited_message", "channel_post", "edited_channel_post"):
            if msg := update.get(kind):
                chat_id, message_id = msg["chat"]["id"], msg["message_id"]
                self.messages[(chat_id, message_id)] = msg
                last = self._last_message_id.get(chat_id, 0)
                self._last_message_id[chat_id] = max(last, message_id)
        for kind in ("chat_member", "my_chat_member"):
            if change := update.get(kind):
                new = change["new_chat_member"]
                self.members[(change["chat"]["id"], new["user"]["id"])] = new
        if request := update.get("chat_join_request"):
            self._join_requests.add((request["chat"]["id"], request["from"]["id"]))
        if query := update.get("callback_query"):
            self.open_queries.add(str(query["id"]))

    def add_file(
        self,
        content: bytes,
        *,
        file_id: str | None = None,
        file_unique_id: str | None = None,
        file_path: str | None = None,
        file_name: str | None = None,
    ) -> JSON:
        n = next(self._ids)
        stored = StoredFile(
            file_id=file_id or f"BQACAgIAAxkB{secrets.token_urlsafe(24)}",
            file_unique_id=file_unique_id or f"AgAD{secrets.token_urlsafe(8)}",
            file_path=file_path or f"documents/file_{n}",
            content=content,
            file_name=file_name,
        )
        self.files[stored.file_id] = stored
        return stored.as_json()

    def set_chat(self, chat: JSON) -> None:
        """Register Chat JSON (e.g. factories.group_chat()) used in messages and getChat."""
        self.chats[chat["id"]] = dict(chat)

    def set_chat_member(
        self, chat_id: int, user: JSON, status: str = "member", **extra: Any
    ) -> JSON:
        self.users[user["id"]] = user
        member = chat_member_json(user, status, **extra)
        self.members[(chat_id, user["id"])] = member
        return member

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 500,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls of ``method`` fail (429 always carries retry_after)."""
        if error_code == 429:
            retry_after = 1 if retry_after is None else retry_after
            description = description or f"Too Many Requests: retry after {retry_after}"
        phrase = next((s.phrase for s in HTTPStatus if s.value == error_code), "Error")
        description = description or phrase
        error = BotAPIError(error_code, description, retry_after)
        self._faults.setdefault(method.lower(), []).extend([error] * times)

    def flood_limit(self, limits: FloodLimits | None = None) -> None:
        """Answer chat writes over Telegram's rate limits with 429, as Telegram does."""
        self.flood = limits or FloodLimits()
        self._chat_buckets.clear()
        self._global_bucket = _Bucket(self.flood.global_per_s, self.flood.global_burst)

    def _check_flood(self, call: ApiCall) -> None:
        if self.flood is None or self._global_bucket is None:
            return
        chat_id = call.params.get("chat_id")
        if not isinstance(chat_id, int):
            return
        bucket = self._chat_buckets.get(chat_id)
        if bucket is None:
            bucket = self._chat_buckets[chat_id] = (
                _Bucket(self.flood.private_per_s, self.flood.private_burst)
                if chat_id > 0
                else _Bucket(self.flood.group_per_min / 60, self.flood.group_burst)
            )
        if not bucket.take() or not self._global_bucket.take():
            self.flood_errors.append(call)
            after = self.flood.retry_after
            raise BotAPIError(429, f"Too Many Requests: retry after {after}", after)
        self.write_times.setdefault(chat_id, []).append(time.monotonic())

    def fail_next_download(self, status: int = 502, *, times: int = 1) -> None:
        """The next ``times`` file downloads (GET /file/...) answer HTTP ``status``."""
        self._download_faults.extend([status] * times)

    def block_chat(self, chat_id: int) -> None:
        self._blocked.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def delay(self, method: str, seconds: float) -> None:
        self._delays[method.lower()] = seconds

    def set_handler(self, method: str, handler: Handler) -> None:
        """Answer ``method`` with ``handler(call)`` (sync or async; raise BotAPIError to fail)."""
        self._overrides[method.lower()] = handler

    def default_handler(self, method: str) -> Handler:
        """The fake's own answer to ``method``: for a handler that observes, then answers."""
        return self._handlers[method.lower()]

    # ----------------------------------------------------------------- assertions
    def calls_of(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def acting_calls(self, after: int = 0) -> list[ApiCall]:
        """Calls (from index `after` on) of methods that change something in Telegram."""
        return [c for c in self.calls[after:] if c.method.lower() in ACTING_METHODS]

    def rejected_calls(self, after: int = 0) -> list[ApiCall]:
        """Calls (from index `after` on) the fake answered with an error, as Telegram would."""
        return [c for c in self.calls[after:] if c.response and not c.response.get("ok")]

    def reset_calls(self) -> None:
        self.calls.clear()

    def sent_messages(self, chat_id: int | None = None) -> list[JSON]:
        """Messages the bot sent (and has not deleted), in send order."""
        return [
            m
            for (chat, _), m in self.messages.items()
            if m.get("from", {}).get("id") == self.bot_user["id"]
            and (chat_id is None or chat == chat_id)
        ]

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        timeout: float = 10.0,
        after: int = 0,
    ) -> ApiCall:
        return (await self.wait_for_calls(method, 1, timeout, predicate=predicate, after=after))[0]

    async def wait_for_calls(
        self,
        method: str,
        count: int,
        timeout: float = 10.0,
        *,
        predicate: Callable[[ApiCall], bool] | None = None,
        after: int = 0,
    ) -> list[ApiCall]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [
                c
                for c in self.calls[after:]
                if c.method.lower() == method.lower() and (predicate is None or predicate(c))
            ]
            if len(found) >= count:
                return found[:count]
            remaining = deadline - loop.time()
            if remaining <= 0:
                what = f"{count} {method} call(s)" + (" matching predicate" if predicate else "")
                raise AssertionError(
                    f"expected {what} (index >= {after}) within {timeout}s, got {len(found)}; "
                    f"recent calls:\n{self._describe_calls()}"
                )
            await self._calls_signal.wait(remaining)

    def _describe_calls(self, last: int = 20) -> str:
        start = max(0, len(self.calls) - last)
        lines = [
            f"  [{i}] {c.method} {json.dumps(c.params, ensure_ascii=False, default=str)[:200]}"
            for i, c in enumerate(self.calls[start:], start)
        ]
        return "\n".join(lines) or "  (none)"

    # ----------------------------------------------------------------- HTTP plumbing
    async def _handle_method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(BotAPIError(401, "Unauthorized").to_json(), status=401)
        name = request.match_info["method"]
        model = _METHOD_MODELS.get(name.lower())
        call = await self._read_call(model.__api_method__ if model else name, request)
        self.calls.append(call)
        self._calls_signal.pulse()
        try:
            result = await self._dispatch(call)
            body, status = {"ok": True, "result": result}, 200
        except BotAPIError as e:
            body, status = e.to_json(), e.error_code
        except (KeyError, TypeError, ValueError) as e:  # missing/odd parameters
            body, status = bad_request(f"fake could not handle parameters: {e!r}").to_json(), 400
        call.response = body
        return web.json_response(body, status=status)

    async def _read_call(self, method: str, request: web.Request) -> ApiCall:
        raw: dict[str, Any] = dict(request.query)
        uploads: dict[str, tuple[str, bytes]] = {}
        if request.content_type == "application/json" and request.body_exists:
            raw.update(await request.json())
        else:
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    uploads[key] = (value.filename, value.file.read())
                else:
                    raw[key] = value
        params = {k: _decode(method, k, v) if isinstance(v, str) else v for k, v in raw.items()}
        call = ApiCall(method, params)
        for key, value in params.items():
            ref = value[len("attach://") :] if isinstance(value, str) else ""
            if value != ref and ref in uploads:
                call.filenames[key], call.files[key] = uploads.pop(ref)
        for key, (filename, data) in uploads.items():
            call.filenames[key], call.files[key] = filename, data
        return call

    async def _dispatch(self, call: ApiCall) -> Any:
        key = call.method.lower()
        if seconds := self._delays.get(key):
            await asyncio.sleep(seconds)
        if self._faults.get(key):
            raise self._faults[key].pop(0)
        handler = self._overrides.get(key) or self._handlers.get(key)
        if handler is None:
            raise BotAPIError(404, "Not Found")
        if key in CHAT_WRITE_METHODS and call.params.get("chat_id") in self._blocked:
            raise BotAPIError(403, BLOCKED)
        if key in CHAT_WRITE_METHODS:
            self._check_flood(call)
        result = handler(call)
        return await result if inspect.isawaitable(result) else result

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(BotAPIError(401, "Unauthorized").to_json(), status=401)
        path = request.match_info["path"]
        if self._download_faults:
            status = self._download_faults.pop(0)
            return web.json_response(BotAPIError(status, "Fault").to_json(), status=status)
        for stored in self.files.values():
            if stored.file_path == path:
                self.downloads.append(path)
                return web.Response(body=stored.content, content_type="application/octet-stream")
        return web.json_response(BotAPIError(404, "Not Found").to_json(), status=404)

    # ----------------------------------------------------------------- state helpers
    def _collect(self, obj: Any) -> None:
        if isinstance(obj, dict):
            if {"id", "is_bot", "first_name"} <= obj.keys():
                self.users[obj["id"]] = {**self.users.get(obj["id"], {}), **obj}
            if obj.get("type") in {"private", "group", "supergroup", "channel"} and "id" in obj:
                self.chats[obj["id"]] = {**self.chats.get(obj["id"], {}), **obj}
            for value in obj.values():
                self._collect(value)
        elif isinstance(obj, list):
            for value in obj:
                self._collect(value)

    def _user(self, user_id: int) -> JSON:
        return self.users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": "User"}

    def _chat(self, chat_id: int) -> JSON:
        if chat_id in self.chats:
            return dict(self.chats[chat_id])
        if chat_id > 0:
            first_name = self._user(chat_id)["first_name"]
            return {"id": chat_id, "type": "private", "first_name": first_name}
        return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}

    def _chat_id(self, call: ApiCall, name: str = "chat_id") -> int:
        value = call.params.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            if value == 0 or value not in INT64:
                raise bad_request("chat not found")
            if self.strict_chats and not self._knows_chat(value):
                raise bad_request("chat not found")
            return value
        for chat in self.chats.values():
            if isinstance(value, str) and chat.get("username") == value.lstrip("@"):
                return int(chat["id"])
        raise bad_request("chat not found")

    def _knows_chat(self, chat_id: int) -> bool:
        return (
            chat_id in self.chats
            or chat_id in self.users
            or any(chat == chat_id for chat, _ in self.members)
        )

    @staticmethod
    def _user_id(call: ApiCall) -> int:
        value = call.params.get("user_id")
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0 or value >= 2**63:
            raise bad_request("invalid user_id specified")
        return value

    def _new_message(self, chat_id: int, **content: Any) -> JSON:
        message_id = self._last_message_id.get(chat_id, 0) + 1
        self._last_message_id[chat_id] = message_id
        msg = {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            **{k: v for k, v in content.items() if v is not None},
        }
        self.messages[(chat_id, message_id)] = msg
        return msg

    def _send_extras(self, call: ApiCall, chat_id: int) -> JSON:
        """reply_to_message, inline reply_markup and topic of an outgoing message."""
        p = call.params
        reply = p.get("reply_parameters")
        reply = reply if isinstance(reply, dict) else {"message_id": p.get("reply_to_message_id")}
        target = self.messages.get((reply.get("chat_id", chat_id), reply["message_id"]))
        if target is not None:
            target = {k: v for k, v in target.items() if k != "reply_to_message"}
        elif reply["message_id"] is not None and not (
            reply.get("allow_sending_without_reply") or p.get("allow_sending_without_reply")
        ):
            raise bad_request("message to be replied not found")
        return {
            "reply_to_message": target,
            "reply_markup": self._inline_markup(call),
            "message_thread_id": p.get("message_thread_id"),
        }

    @staticmethod
    def _inline_markup(call: ApiCall) -> JSON | None:
        markup = call.params.get("reply_markup")
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return None
        for row in markup["inline_keyboard"]:
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                    raise bad_request("BUTTON_DATA_INVALID")
                if not str(button.get("text", "")).strip():
                    raise bad_request("BUTTON_TEXT_INVALID")
        return markup

    def _caption(self, call: ApiCall) -> str | None:
        caption = call.params.get("caption")
        if not caption:
            return None
        caption = render_text(str(caption), call.params.get("parse_mode"))
        if tg_len(caption) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        return caption

    # ----------------------------------------------------------------- updates & webhook
    async def _get_updates(self, call: ApiCall) -> list[JSON]:
        if self.webhook_url:
            raise BotAPIError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        p = call.params
        if "allowed_updates" in p:
            self.allowed_updates = p["allowed_updates"] or None
        offset = int(p.get("offset", 0))
        if offset < 0:
            self._updates = self._updates[offset:]
        elif offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        limit = min(max(int(p.get("limit", 100)), 1), 100)
        self._poll_seq += 1
        seq = self._poll_seq
        self._updates_signal.pulse()  # a newer poll terminates an older one, as in Telegram
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(float(p.get("timeout", 0)), 0.0)
        while True:
            if seq != self._poll_seq:
                raise BotAPIError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            allowed = set(self.allowed_updates or DEFAULT_ALLOWED_UPDATES)
            self._updates = [u for u in self._updates if allowed & u.keys()]
            remaining = deadline - loop.time()
            if self._updates or self._closing or remaining <= 0:
                return self._updates[:limit]
            await self._updates_signal.wait(remaining)

    def _webhook(self, call: ApiCall, url: str) -> bool:
        self.webhook_url = url
        if url and "allowed_updates" in call.params:
            self.allowed_updates = call.params["allowed_updates"] or None
        if call.params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, _: ApiCall) -> JSON:
        info: JSON = {"url": self.webhook_url, "has_custom_certificate": False}
        info["pending_update_count"] = len(self._updates)
        if self.allowed_updates:
            info["allowed_updates"] = self.allowed_updates
        return info

    # ----------------------------------------------------------------- messages
    @staticmethod
    def _text(call: ApiCall) -> str:
        text = render_text(str(call.params.get("text", "")), call.params.get("parse_mode"))
        if not text.strip():
            raise bad_request("message text is empty")
        if tg_len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        return text

    def _send_message(self, call: ApiCall) -> JSON:
        chat_id = self._chat_id(call)
        return self._new_message(chat_id, text=self._text(call), **self._send_extras(call, chat_id))

    def _media_file(self, call: ApiCall, kind: str) -> StoredFile:
        value = call.params.get(kind)
        if kind in call.files:
            name = call.filenames.get(kind)
            path = f"{kind}s/file_{next(self._ids)}_{name or kind}"
            file_id = self.add_file(call.files[kind], file_path=path, file_name=name)["file_id"]
            return self.files[file_id]
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            name = value.rsplit("/", 1)[-1]
            return self.files[self.add_file(b"", file_name=name)["file_id"]]
        if value:
            raise bad_request("wrong file identifier/HTTP URL specified")
        raise bad_request(f"there is no {kind} in the request")

    def _send_media(self, call: ApiCall, kind: str) -> JSON:
        chat_id, p = self._chat_id(call), call.params
        stored = self._media_file(call, kind)
        base: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        base["file_size"] = len(stored.content)
        media: Any
        if kind == "photo":
            media = [{**base, "width": 800, "height": 600}]
        elif kind == "voice":
            media = {**base, "duration": p.get("duration", 1), "mime_type": "audio/ogg"}
        elif kind == "audio":
            extra = {k: p[k] for k in ("title", "performer") if k in p}
            media = {**base, "duration": p.get("duration", 1), "mime_type": "audio/mpeg", **extra}
            media["file_name"] = stored.file_name or "audio.mp3"
        else:
            media = {**base, "file_name": stored.file_name or "document"}
            media["mime_type"] = "application/octet-stream"
        content = {kind: media, "caption": self._caption(call)}
        return self._new_message(chat_id, **content, **self._send_extras(call, chat_id))

    def _copy_message(self, call: ApiCall) -> JSON:
        chat_id = self._chat_id(call)
        source = self.messages.get((self._chat_id(call, "from_chat_id"), call.params["message_id"]))
        source = source or {}  # lenient: the source may never have passed through the fake
        skip = {"message_id", "date", "chat", "from", "reply_to_message", "edit_date"}
        content = {k: v for k, v in source.items() if k not in skip | {"reply_markup"}}
        if "caption" in call.params:
            content["caption"] = self._caption(call)
        msg = self._new_message(chat_id, **content, **self._send_extras(call, chat_id))
        return {"message_id": msg["message_id"]}

    def _message_to_edit(self, call: ApiCall) -> JSON:
        msg = self.messages.get((self._chat_id(call), call.params.get("message_id", 0)))
        if msg is None:
            raise bad_request("message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_user["id"]:
            raise bad_request("message can't be edited")
        return msg

    def _apply_edit(self, msg: JSON, markup: JSON | None, **changes: Any) -> JSON:
        msg.update(changes, edit_date=int(time.time()))
        if markup is None:
            msg.pop("reply_markup", None)
        else:
            msg["reply_markup"] = markup
        return dict(msg)

    def _edit_message_text(self, call: ApiCall) -> JSON | bool:
        if call.params.get("inline_message_id"):
            return True
        msg = self._message_to_edit(call)
        if "text" not in msg:
            raise bad_request("there is no text in the message to edit")
        text, markup = self._text(call), self._inline_markup(call)
        if text == msg["text"] and markup == msg.get("reply_markup"):
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._apply_edit(msg, markup, text=text)

    def _edit_message_reply_markup(self, call: ApiCall) -> JSON | bool:
        if call.params.get("inline_message_id"):
            return True
        msg = self._message_to_edit(call)
        markup = self._inline_markup(call)
        if markup == msg.get("reply_markup"):
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._apply_edit(msg, markup)

    def _delete_message(self, call: ApiCall) -> bool:
        if self.messages.pop((self._chat_id(call), call.params.get("message_id", 0)), None) is None:
            raise bad_request("message to delete not found")
        return True

    @staticmethod
    def _commands_key(call: ApiCall) -> tuple[str, str]:
        scope = call.params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(call.params.get("language_code", ""))

    def _set_my_commands(self, call: ApiCall) -> bool:
        self.commands[self._commands_key(call)] = list(call.params.get("commands", []))
        return True

    def _delete_my_commands(self, call: ApiCall) -> bool:
        self.commands.pop(self._commands_key(call), None)
        return True

    def _set_chat_menu_button(self, call: ApiCall) -> bool:
        button = call.params.get("menu_button") or {"type": "default"}
        self.menu_buttons[call.params.get("chat_id")] = button
        return True

    def _answer_callback_query(self, call: ApiCall) -> bool:
        query_id = str(call.params.get("callback_query_id", ""))
        if query_id not in self.open_queries:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = call.params.get("text")
        if text is not None and tg_len(str(text)) > MAX_CALLBACK_ANSWER:
            raise bad_request("MESSAGE_TOO_LONG")
        self.open_queries.discard(query_id)
        return True

    def _get_file(self, call: ApiCall) -> JSON:
        stored = self.files.get(str(call.params.get("file_id", "")))
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.content) > self.max_download_size:
            raise bad_request("file is too big")
        return stored.as_json()

    # ----------------------------------------------------------------- chats & members
    def _get_chat(self, call: ApiCall) -> JSON:
        gifts = {"unlimited_gifts": True, "limited_gifts": True, "unique_gifts": True}
        gifts |= {"premium_subscription": True, "gifts_from_channels": True}
        info = {"accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}
        return {**self._chat(self._chat_id(call)), **info}

    def _get_chat_member(self, call: ApiCall) -> JSON:
        chat_id, user_id = self._chat_id(call), self._user_id(call)
        return self.members.get((chat_id, user_id)) or chat_member_json(self._user(user_id), "left")

    def _get_chat_administrators(self, call: ApiCall) -> list[JSON]:
        chat_id = self._chat_id(call)
        return [
            m
            for (chat, _), m in self.members.items()
            if chat == chat_id and m["status"] in ("creator", "administrator")
        ]

    def _get_chat_member_count(self, call: ApiCall) -> int:
        chat_id, present = self._chat_id(call), ("creator", "administrator", "member")
        return sum(
            1
            for (chat, _), m in self.members.items()
            if chat == chat_id and (m["status"] in present or m.get("is_member"))
        )

    def _set_status(self, call: ApiCall, status: str, **extra: Any) -> bool:
        chat_id, user_id = self._chat_id(call), self._user_id(call)
        self.set_chat_member(chat_id, self._user(user_id), status, **extra)
        return True

    def _join_request(self, call: ApiCall, *, approve: bool) -> bool:
        key = (self._chat_id(call), self._user_id(call))
        if self.require_join_request and key not in self._join_requests:
            raise bad_request("HIDE_REQUESTER_MISSING")
        self._join_requests.discard(key)
        return self._set_status(call, "member") if approve else True

    def _ban_chat_member(self, call: ApiCall) -> bool:
        return self._set_status(call, "kicked", until_date=call.params.get("until_date", 0))

    def _unban_chat_member(self, call: ApiCall) -> bool:
        key = (self._chat_id(call), self._user_id(call))
        status = self.members.get(key, {}).get("status")
        if call.params.get("only_if_banned") and status != "kicked":
            return True
        return self._set_status(call, "left")

    def _restrict_chat_member(self, call: ApiCall) -> bool:
        permissions = dict(call.params.get("permissions") or {})
        until_date = call.params.get("until_date", 0)
        return self._set_status(call, "restricted", until_date=until_date, **permissions)

    def _promote_chat_member(self, call: ApiCall) -> bool:
        rights = {k: v for k, v in call.params.items() if k.startswith("can_")}
        if "is_anonymous" in call.params:
            rights["is_anonymous"] = call.params["is_anonymous"]
        if not any(rights.values()):
            return self._set_status(call, "member")
        return self._set_status(call, "administrator", can_be_edited=True, **rights)

    def _new_invite_link(self, chat_id: int, **fields: Any) -> JSON:
        link: JSON = {
            "invite_link": f"https://t.me/+{secrets.token_urlsafe(12)}",
            "creator": self.bot_user,
            "creates_join_request": False,
            "is_primary": False,
            "is_revoked": False,
            **{k: v for k, v in fields.items() if v is not None},
        }
        self.invite_links[link["invite_link"]] = {**link, "chat_id": chat_id}
        return link

    def _create_chat_invite_link(self, call: ApiCall) -> JSON:
        p = call.params
        if len(str(p.get("name", ""))) > 32:
            raise bad_request("invite link name is too long")
        if "member_limit" in p and not 1 <= int(p["member_limit"]) <= 99999:
            raise bad_request("member limit is invalid")
        if "member_limit" in p and p.get("creates_join_request"):
            raise bad_request(
                "member limit can't be specified for links requiring administrator approval"
            )
        return self._new_invite_link(
            self._chat_id(call),
            name=p.get("name"),
            expire_date=p.get("expire_date"),
            member_limit=p.get("member_limit"),
            creates_join_request=bool(p.get("creates_join_request", False)),
        )

    def _revoke_chat_invite_link(self, call: ApiCall) -> JSON:
        url = str(call.params.get("invite_link", ""))
        link = self.invite_links.setdefault(
            url, {"invite_link": url, "creator": self.bot_user, "creates_join_request": False}
        )
        link.update(is_revoked=True, is_primary=link.get("is_primary", False))
        return {k: v for k, v in link.items() if k != "chat_id"}

    def _export_chat_invite_link(self, call: ApiCall) -> str:
        chat_id = self._chat_id(call)
        for link in self.invite_links.values():
            if link.get("chat_id") == chat_id and link["is_primary"]:
                link["is_revoked"] = True
        return str(self._new_invite_link(chat_id, is_primary=True)["invite_link"])
