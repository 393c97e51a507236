"""Fuzz: FUZZ_UPDATES generated updates (10,000 by default) through the real dispatcher,
on PostgreSQL (where an out-of-range number reaching the database fails loudly), with the
real A2T pipeline in-process (ffmpeg on random bytes).

The updates are what a hostile or merely odd world sends: odd unicode (right-to-left
marks, zero-width joiners, combining characters, astral emoji, lone `<` and `&`),
texts of 4,096 characters, every command with garbage arguments (out-of-range numbers,
other scripts' digits, dates at the end of time), forged and truncated callback data
pressed by strangers on any bot message, unknown chats, join requests, membership
changes delivered late, reactions, and random bytes as voice notes, audio and audio
documents with absurd durations and sizes.

Asserted: no update ends in the catch-all error handler (an unhandled exception), the
fake Bot API — which refuses what Telegram refuses (texts over 4,096, bad HTML, edits of
unknown messages, alerts over 200 characters, unknown chats, bad ids) — refused nothing,
and the bot still answers afterwards. The generator is seeded (FUZZ_SEED): a failure
replays exactly, update by update, with FUZZ_CONCURRENCY=1.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
import structlog
from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.jobs import InProcessJobQueue
from bot.services import AppDeps
from bot.services.transcription import A2TStatus
from bot.settings import A2TSettings, Settings
from bot.telegram.applications.card import transcript_ready
from bot.telegram.botapi import BotAPI
from bot.telegram.budget import SenderLimits
from bot.telegram.dispatcher import create_bot
from tests import factories as f
from tests.fakes import ApiCall, FakeBotAPI
from worker.engines import Engine, load_engine
from worker.pipeline import Pipeline

UPDATES = int(os.environ.get("FUZZ_UPDATES", "10000"))
SEED = int(os.environ.get("FUZZ_SEED", "13"))
CONCURRENCY = int(os.environ.get("FUZZ_CONCURRENCY", "8"))

COMMUNITY = f.group_chat(id=-1_001_300_000_001, title="Community ‮evil‬")
MODCHAT = f.group_chat(id=-1_001_300_000_002, title="Moderators")
OTHER = f.group_chat(id=-1_001_300_000_003, title="<b>Other</b> & co")
BASIC = f.group_chat(id=-4_300_000_004, title="Basic group", type="group")
MOD = f.user(id=31_001, first_name="Mod", username="mod")
OWNER = f.user(id=31_002, first_name="Owner")

ODD = [
    "",
    " ",
    "<",
    "&",
    "<b>",
    "</i>",
    "&lt;",
    "&amp",
    "a<b>c",
    "‮right to left‬",
    "z\u200bw\u200dj",
    "e\u0301\u0301\u0301",
    "😀👍🏽👨‍👩‍👧‍👦",
    "\U0001d54f\U0001f9ff",
    "\x00\x01\x7f",
    "\n\n\n",
    "\t",
    "ｆｕｌｌ",
    "١٢٣",
    "²³",
    "Ⅻ",
    "—",
    "'; DROP TABLE users; --",
    "=1+2",
    "@here",
    "%s%n{0}{name}",
    "\\u0000",
    "спасибо",
    "thanks",
    "+",
    "-",
    "👍",
    "👎",
    "+1",
    "-1",
]
NUMBERS = [
    "0",
    "-1",
    "1",
    "42",
    "9223372036854775807",
    "9223372036854775808",
    "99999999999999999999",
    "-99999999999999999999",
    "1e308",
    "1e309",
    "nan",
    "inf",
    "-inf",
    "0x10",
    "١٢٣",
    "²",
    "1_000",
    " 7 ",
    "3.14",
    "-0",
]
COMMANDS = [
    "start",
    "help",
    "language",
    "apply",
    "cancel",
    "whoami",
    "forgetme",
    "members",
    "transcribe",
    "a2t_mode",
    "karma",
    "top",
    "karma_history",
    "karma_pardon",
    "karma_reactions",
    "nosuchcommand",
    "<b>",
    "a&b</i>",
    "x" * 4000,
    "karma_pardon\u00a0",
]
FILTER_TERMS = [
    "status=active",
    "status=nope",
    "role=admin",
    "lang=ru,en",
    "lang=" + ",".join(["aa"] * 300),
    "joined>9999-12-31",
    "joined<0001-01-01",
    "joined=2026-02-30",
    "joined>=2026-01-01",
    "karma>=1e309",
    "karma<nan",
    "karma=-5",
    'q="unclosed',
    "q=" + "x" * 100,
    "q=@ann",
    "export",
    "x" * 4000,
    "=",
    ">=",
]
CALLBACK_PREFIXES = ["k", "am", "ap", "a2t", "fm", "mp", "lang", "zz", ""]


class Fuzz:
    """Builds the updates, deterministically from the seed."""

    def __init__(self, api: FakeBotAPI, rng: random.Random) -> None:
        self.api = api
        self.rng = rng
        self.users = [MOD, OWNER] + [
            f.user(
                id=40_000 + n,
                first_name=self.pick(["Ann", "Bob", "Иван", "李", "‮x‬", "<b>", "&amp;", "A" * 64]),
                last_name=self.rng.choice([None, "😀" * 32, "Lee", "<i>"]),
                username=self.rng.choice([None, f"u{n}", "x" * 32]),
                language_code=self.rng.choice([None, "en", "ru", "xx", "pt-br"]),
                is_premium=self.rng.choice([None, True]),
            )
            for n in range(60)
        ]
        self.bots = [f.user(id=50_000 + n, first_name="Bot", is_bot=True) for n in range(3)]
        self.chats = [COMMUNITY, MODCHAT, OTHER, BASIC]
        self.messages: list[dict[str, Any]] = []  # what users said (replies and votes)
        self.next_message = 1
        self.stories: list[Iterator[dict[str, Any]]] = []

    # ----------------------------------------------------------------- pieces
    def pick(self, items: list[Any]) -> Any:
        return self.rng.choice(items)

    def text(self) -> str:
        roll = self.rng.random()
        if roll < 0.05:
            return self.pick(ODD) * self.rng.choice([1, 50, 600])  # long odd runs
        if roll < 0.08:
            return "".join(self.pick(ODD) for _ in range(300))[:4096] or "x"
        if roll < 0.10:
            return "x" * 4096
        parts = [
            self.pick([*ODD, "hello", "a note", "why?"]) for _ in range(self.rng.randint(1, 4))
        ]
        return " ".join(parts)

    def user(self) -> dict[str, Any]:
        roll = self.rng.random()
        if roll < 0.15:  # the moderator and the owner: past the guards, into the parsing
            return self.pick([MOD, OWNER])
        return self.pick(self.users) if roll < 0.97 else self.pick(self.bots)

    def chat_for(self, user: dict[str, Any]) -> dict[str, Any]:
        roll = self.rng.random()
        if roll < 0.35:
            return f.private_chat(user)
        if roll < 0.95:
            return self.pick(self.chats)
        # A chat the bot has never seen.
        unknown = f.group_chat(id=-1_001_900_000_000 - self.rng.randint(0, 10**6), title="?")
        self.chats.append(unknown)
        return unknown

    def date(self) -> int:
        return int(time.time()) - self.rng.choice([0, 0, 0, 5, 600, 86_400 * 30, 10**9])

    def message(self, user: dict[str, Any], chat: dict[str, Any], **content: Any) -> dict[str, Any]:
        self.next_message += 1
        msg = f.message(
            content.pop("text", None),
            from_user=user,
            chat=chat,
            message_id=self.next_message * 10,  # room for the bot's own messages between
            date=self.date(),
            **content,
        )
        return msg

    def reply_target(self, chat: dict[str, Any]) -> dict[str, Any] | None:
        same = [m for m in self.messages[-200:] if m["chat"]["id"] == chat["id"]]
        bot_said = self.api.sent_messages(chat["id"])[-20:]
        options = same + bot_said
        return self.pick(options) if options else None

    def argument(self) -> str:
        roll = self.rng.random()
        if roll < 0.4:
            return self.pick(NUMBERS)
        if roll < 0.7:
            return " ".join(self.pick(FILTER_TERMS) for _ in range(self.rng.randint(1, 3)))
        return self.text()

    # ----------------------------------------------------------------- stories
    # Random updates rarely get far into a flow (an application needs its questions
    # answered, in order, by one person). Stories walk the flows, each step built when
    # the previous one has been handled (so it can press the buttons the bot sent), with
    # odd input at every step and strangers pressing the same buttons.

    def batch(self, size: int) -> list[dict[str, Any]]:
        """`size` updates: the next step of a few stories (one each), the rest random."""
        while len(self.stories) < 3:
            self.stories.append(self.pick([self.application_story, self.vote_story])())
        updates: list[dict[str, Any]] = []
        for story in list(self.stories):
            if len(updates) >= size:
                break
            step = next(story, None)
            if step is None:
                self.stories.remove(story)
            else:
                updates.append(step)
        return updates + [self.update() for _ in range(size - len(updates))]

    def buttons(self, message: dict[str, Any] | None) -> list[str]:
        markup = (message or {}).get("reply_markup") or {}
        return [
            b["callback_data"]
            for row in markup.get("inline_keyboard", [])
            for b in row
            if b.get("callback_data")
        ]

    def press(
        self, user: dict[str, Any], message: dict[str, Any] | None, prefer: str = ""
    ) -> dict[str, Any]:
        """A press of one of the message's buttons (one whose data starts with `prefer`,
        if it has one); forged data when it has none."""
        options = self.buttons(message)
        preferred = [o for o in options if prefer and o.startswith(prefer)]
        data = self.pick(preferred or options) if options else self.callback_data()
        shown = {k: v for k, v in (message or {}).items() if k != "reply_to_message"} or None
        return f.callback_query_update(user, shown, data, id=str(self.rng.getrandbits(60)))

    def last_to(self, chat_id: int) -> dict[str, Any] | None:
        sent = self.api.sent_messages(chat_id)
        return sent[-1] if sent else None

    def application_story(self) -> Iterator[dict[str, Any]]:
        applicant = self.pick(self.users[2:])
        private = f.private_chat(applicant)
        if self.rng.random() < 0.5:
            yield f.message_update(self.message(applicant, private, text="/apply"))
        else:
            yield f.chat_join_request_update(COMMUNITY, applicant, date=self.date())
        for _ in range(self.rng.randint(2, 5)):
            if self.rng.random() < 0.2:
                yield self.press(applicant, self.last_to(applicant["id"]))
            else:
                yield f.message_update(self.message(applicant, private, text=self.text()))
        for _ in range(self.rng.randint(1, 3)):  # Send, Change an answer, Cancel...
            presser = self.pick([applicant, applicant, self.user()])
            prefer = "ap:s:" if self.rng.random() < 0.6 else ""
            yield self.press(presser, self.last_to(applicant["id"]), prefer)
        for _ in range(self.rng.randint(1, 4)):  # the card: moderators, and others
            card = self.last_to(MODCHAT["id"])
            prefer = "am:a:" if self.rng.random() < 0.4 else ""
            yield self.press(self.pick([MOD, MOD, OWNER, self.user()]), card, prefer)
            if self.rng.random() < 0.2:  # a typed reason, as a reply to the prompt
                prompt = self.last_to(MODCHAT["id"])
                yield f.message_update(
                    self.message(MOD, MODCHAT, text=self.text(), reply_to=prompt)
                )
        if self.api.invite_links and self.rng.random() < 0.7:
            link = dict(self.pick(list(self.api.invite_links.values())))
            link.pop("chat_id", None)
            joiner = self.pick([applicant, self.user()])
            yield f.chat_join_request_update(COMMUNITY, joiner, invite_link=link, date=self.date())

    def vote_story(self) -> Iterator[dict[str, Any]]:
        voter, author = self.user(), self.user()
        chat = self.pick([COMMUNITY, OTHER])
        said = self.message(author, chat, text=self.text())
        self.messages.append(said)
        yield f.message_update(said)
        yield f.message_update(self.message(voter, chat, text=self.pick(["+", "-"]), reply_to=said))
        reply = self.last_to(chat["id"])
        for _ in range(self.rng.randint(1, 3)):
            yield self.press(self.pick([voter, voter, author, self.user()]), reply)

    # ----------------------------------------------------------------- updates
    def update(self) -> dict[str, Any]:
        makers: list[tuple[float, Callable[[], dict[str, Any]]]] = [
            (0.30, self.text_message),
            (0.25, self.command),
            (0.10, self.vote),
            (0.14, self.callback),
            (0.06, self.media),
            (0.05, self.member_change),
            (0.03, self.join_request),
            (0.03, self.reaction),
            (0.02, self.picked_user),
            (0.02, self.service_message),
        ]
        roll, acc = self.rng.random(), 0.0
        for weight, make in makers:
            acc += weight
            if roll < acc:
                return make()
        return self.edited()

    def text_message(self) -> dict[str, Any]:
        user = self.user()
        chat = self.chat_for(user)
        target = self.reply_target(chat) if self.rng.random() < 0.3 else None
        msg = self.message(user, chat, text=self.text(), reply_to=target)
        self.messages.append(msg)
        return f.message_update(msg)

    def command(self) -> dict[str, Any]:
        user = self.user()
        chat = self.chat_for(user)
        name = self.pick(COMMANDS)
        mention = self.pick(["", "", "@test_bot", "@other_bot", "@TEST_BOT"])
        args = self.argument() if self.rng.random() < 0.7 else ""
        if name == "start" and self.rng.random() < 0.3:
            args = self.pick(["apply", "x" * 64, "<b>"])
        text = f"/{name}{mention} {args}".rstrip()[:4096]
        target = self.reply_target(chat) if self.rng.random() < 0.4 else None
        msg = self.message(user, chat, text=text, reply_to=target)
        self.messages.append(msg)
        return f.message_update(msg)

    def vote(self) -> dict[str, Any]:
        user = self.user()
        chat = self.pick([COMMUNITY, OTHER, BASIC])
        target = self.reply_target(chat)
        text = self.pick(["+", "-", "спасибо", "👍", "👎", "+1", "thanks a lot", "- no"])
        msg = self.message(user, chat, text=text, reply_to=target)
        self.messages.append(msg)
        return f.message_update(msg)

    def callback_data(self) -> str:
        prefix = self.pick(CALLBACK_PREFIXES)
        fields = [
            self.pick(
                ["x", "t", "s", "r", "a", "rr", "rc", "rd", "b", "bc", "k", "e", "y", "n", ""]
            )
            for _ in range(self.rng.randint(0, 2))
        ]
        fields += [self.pick(NUMBERS).strip() for _ in range(self.rng.randint(0, 3))]
        data = ":".join([prefix, *fields])
        if self.rng.random() < 0.1:  # truncated
            data = data[: self.rng.randint(0, len(data))]
        return data[:64] or "x"

    def callback(self) -> dict[str, Any]:
        user = self.user()
        sent = self.api.sent_messages()
        own = None
        # Most often the data of a real button, pressed by anyone, on any bot message.
        if sent and self.rng.random() < 0.9:
            message = self.pick(sent[-300:])
            buttons = [
                b.get("callback_data")
                for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
                for b in row
                if b.get("callback_data")
            ]
            own = self.pick(buttons) if buttons and self.rng.random() < 0.5 else None
            if own is None and buttons and self.rng.random() < 0.5:
                donor = self.pick(sent[-300:])  # a button moved to another message
                moved = [
                    b.get("callback_data")
                    for row in (donor.get("reply_markup") or {}).get("inline_keyboard", [])
                    for b in row
                    if b.get("callback_data")
                ]
                own = self.pick(moved) if moved else None
            message = {k: v for k, v in message.items() if k != "reply_to_message"}
        else:
            message = None
        data = own or self.callback_data()
        return f.callback_query_update(user, message, data, id=str(self.rng.getrandbits(60)))

    def media(self) -> dict[str, Any]:
        user = self.user()
        chat = self.chat_for(user)
        size = self.pick([0, 1, 64, 2048, 8000])
        content = self.rng.randbytes(size)
        kind = self.pick(["voice", "audio", "document", "video_note"])
        declared = self.pick([None, 0, 1, 5, 10**9, 2**31 - 1, 2**62])
        file_size = self.pick([None, size, 0, 25 * 1024 * 1024, 2**40])
        stored = self.api.add_file(content, file_name=self.pick(["a.ogg", "x", "<b>.mp3", None]))
        # The ids are Telegram's (a client cannot forge what an update carries).
        ids = {"file_id": stored["file_id"], "file_unique_id": stored["file_unique_id"]}
        if kind == "voice":
            media = f.voice(**ids, duration=declared or 0, file_size=file_size)
        elif kind == "audio":
            media = f.audio(**ids, duration=declared or 0, file_size=file_size)
        elif kind == "video_note":
            media = f.video_note(**ids, duration=declared or 0, file_size=file_size)
        else:
            mime = self.pick(["audio/ogg", "audio/x-weird", "audio/", "text/plain"])
            media = f.document(**ids, mime_type=mime, file_size=file_size)
        caption = self.text()[:1024] if self.rng.random() < 0.2 else None
        msg = self.message(user, chat, **{kind: media}, caption=caption)
        self.messages.append(msg)
        if self.rng.random() < 0.15:  # /transcribe as a reply to it
            cmd = self.message(user, chat, text="/transcribe", reply_to=msg)
            self.messages.append(cmd)
            return f.message_update(cmd)
        return f.message_update(msg)

    def member(self, user: dict[str, Any]) -> dict[str, Any]:
        status = self.pick(["member", "left", "kicked", "restricted", "administrator", "creator"])
        extra: dict[str, Any] = {}
        if status == "restricted":
            extra = {"is_member": self.rng.random() < 0.5, "until_date": self.date()}
        if status == "kicked":
            extra = {"until_date": self.pick([0, self.date()])}
        if status == "administrator":
            extra = {"can_restrict_members": self.rng.random() < 0.5}
        return f.chat_member(user, status, **extra)

    def member_change(self) -> dict[str, Any]:
        user = self.user()
        chat = self.pick([COMMUNITY, MODCHAT, OTHER, BASIC])
        kind = f.my_chat_member_update if self.rng.random() < 0.1 else f.chat_member_update
        if kind is f.my_chat_member_update:
            user = self.api.bot_user
        return kind(chat, self.user(), self.member(user), self.member(user), date=self.date())

    def join_request(self) -> dict[str, Any]:
        user = self.user()
        link = None
        if self.api.invite_links and self.rng.random() < 0.5:
            link = dict(self.pick(list(self.api.invite_links.values())))
            link.pop("chat_id", None)
        elif self.rng.random() < 0.3:
            link = f.invite_link(self.pick([self.api.bot_user, OWNER]))
        return f.chat_join_request_update(
            self.pick([COMMUNITY, COMMUNITY, OTHER]), user, invite_link=link, date=self.date()
        )

    def reaction(self) -> dict[str, Any]:
        chat = self.pick([COMMUNITY, OTHER])
        target = self.reply_target(chat)
        message_id = target["message_id"] if target else self.rng.randint(1, 10**6)
        emojis = ["👍", "👎", "🔥", "❤"]
        old = self.rng.sample(emojis, self.rng.randint(0, 2))
        new = self.rng.sample(emojis, self.rng.randint(0, 2))
        return f.message_reaction_update(chat, self.user(), message_id, old, new)

    def picked_user(self) -> dict[str, Any]:
        user = self.user()
        picked = self.pick([u["id"] for u in self.users] + [1, 2**53, 10**12])
        shared = {"request_id": self.pick([4_101, 4_101, 1]), "users": [{"user_id": picked}]}
        msg = self.message(user, self.pick([f.private_chat(user), OTHER]), users_shared=shared)
        return f.message_update(msg)

    def service_message(self) -> dict[str, Any]:
        user, chat = self.user(), self.pick([COMMUNITY, OTHER])
        if self.rng.random() < 0.5:
            msg = self.message(user, chat, new_chat_members=[self.user(), self.user()])
        else:
            msg = self.message(user, chat, left_chat_member=self.user())
        return f.message_update(msg)

    def edited(self) -> dict[str, Any]:
        source = self.pick(self.messages) if self.messages else None
        if source is None or "text" not in source:
            return self.text_message()
        return f.edited_message_update({**source, "text": self.text()})


@pytest.fixture(scope="module")
def tiny_engine() -> Engine:
    return load_engine(A2TSettings(device="cpu"))


@pytest.fixture
def settings(make_settings: Any, pg_url: str) -> Settings:
    return make_settings(  # type: ignore[no-any-return]
        pg_url,
        community={"chat_id": COMMUNITY["id"]},
        moderation={"chat_id": MODCHAT["id"], "admin_ids": [MOD["id"]]},
        karma={"cooldown_s": 0},
        a2t={"user_rate_per_minute": 1000, "max_queue_depth": 1000},
    )


@pytest.fixture
async def bot(settings: Settings) -> AsyncIterator[Bot]:
    """Telegram's flood limits would only slow the fuzz down: lifted, the sender is the same."""
    unlimited = SenderLimits(
        global_per_s=1e9, private_per_s=1e9, private_burst=1e9, group_per_s=1e9, group_burst=1e9
    )
    bot = create_bot(settings.bot, unlimited)
    yield bot
    await bot.session.close()


@pytest.fixture
async def deps(
    settings: Settings, db: async_sessionmaker[AsyncSession], botapi: BotAPI, tiny_engine: Engine
) -> AsyncIterator[AppDeps]:
    async def provider() -> Engine:
        return tiny_engine

    pipeline = Pipeline(
        settings=settings,
        session_factory=db,
        bot=botapi,
        engine=provider,
        executor=ThreadPoolExecutor(max_workers=1),
        on_done=[partial(transcript_ready, botapi, db, settings)],
    )
    queue = InProcessJobQueue(pipeline.run, max_jobs=2, max_tries=2)
    yield AppDeps(settings, job_queue=queue, a2t_status=A2TStatus(True))
    await queue.close()


async def test_fuzz(feed: Any, fake_api: FakeBotAPI, deps: AppDeps) -> None:
    for chat in (COMMUNITY, MODCHAT, OTHER, BASIC):
        fake_api.set_chat(chat)
    fake_api.set_chat_member(COMMUNITY["id"], OWNER, "creator")
    fake_api.set_chat_member(MODCHAT["id"], MOD, "administrator", can_restrict_members=True)
    rng = random.Random(SEED)
    fuzz = Fuzz(fake_api, rng)
    started = time.monotonic()
    # Every log line at error level: the catch-all error handler's "update failed" (an
    # unhandled exception), a crashed job, anything else that went wrong.
    with structlog.testing.capture_logs() as logs:
        fed = 0
        while fed < UPDATES:
            batch = fuzz.batch(min(CONCURRENCY, UPDATES - fed))
            await asyncio.gather(*(feed(update) for update in batch))
            fed += len(batch)
        await _drained(deps)
    elapsed = time.monotonic() - started

    unhandled = [_described(e) for e in logs if e["log_level"] in ("error", "critical")]
    rejected = [
        (c.method, (c.response or {}).get("description"), str(c.params)[:300])
        for c in fake_api.rejected_calls()
        if not _benign(c)
    ]
    for line in [*unhandled, *map(str, rejected)]:
        print("FUZZ FAILURE:", line)
    assert unhandled == [], unhandled[:5]
    assert rejected == [], rejected[:10]

    # The bot still answers.
    after = len(fake_api.calls)
    someone = f.user(id=39_999, first_name="Later")
    await feed(f.message_update(f.message("/help", from_user=someone)))
    assert "/start" in (await fake_api.wait_for_call("sendMessage", after=after)).params["text"]
    said = f.message("a good answer", from_user=someone, chat=COMMUNITY)
    await feed(f.message_update(said))
    after = len(fake_api.calls)
    await feed(f.message_update(f.message("+", from_user=OWNER, chat=COMMUNITY, reply_to=said)))
    reply = await fake_api.wait_for_call("sendMessage", after=after)
    assert reply.params["text"].startswith("Later's karma:")
    methods = Counter(c.method for c in fake_api.calls)
    print(f"fuzz: {UPDATES} updates, seed {SEED}, {elapsed:.1f} s; calls: {dict(methods)}")


def _benign(call: ApiCall) -> bool:
    """The one refusal that is an answer, not an error: an edit that would change nothing
    ("message is not modified", e.g. a card's "Back" pressed twice). Telegram offers no
    compare-and-set, so the bot edits and treats it as done (refresh_card) instead of
    reading the message first."""
    description = str((call.response or {}).get("description", ""))
    return call.method.startswith("editMessage") and "message is not modified" in description


def _described(entry: dict[str, Any]) -> str:
    """A log entry with the end of its traceback: what a failure report needs."""
    error = entry.get("exc_info")
    trace = ""
    if isinstance(error, BaseException):
        frames = traceback.extract_tb(error.__traceback__)
        ours = [f"{fr.filename.split('/commsec/')[-1]}:{fr.lineno} {fr.name}" for fr in frames]
        ours = [line for line in ours if line.startswith(("bot/", "worker/"))]
        trace = f"{' > '.join(ours)}: {type(error).__name__}: {str(error)[:300]}"
    return f"{entry['event']} {trace}"


async def _drained(deps: AppDeps, timeout: float = 120.0) -> None:
    """Wait for the in-process queue to run what the fuzz queued (it must not hang)."""
    queue = deps.job_queue
    assert isinstance(queue, InProcessJobQueue)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not queue.pending:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the transcription queue did not drain")
