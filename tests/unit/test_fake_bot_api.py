"""The fake Bot API, exercised through the real aiogram client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BufferedInputFile,
    ChatInviteLink,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberRestricted,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)

from tests import factories as f
from tests.fakes import FakeBotAPI


def make_bot(api: FakeBotAPI, token: str | None = None) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
    return Bot(token or api.token, session=session)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        fake.strict_chats = False  # these tests use any chat id; strictness has its own test
        yield fake


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    bot = make_bot(api)
    yield bot
    await bot.session.close()


def keyboard(text: str = "OK", data: str = "ok") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=text, callback_data=data)]]
    )


async def test_get_me(api: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "test_bot", True)
    assert api.calls_of("getMe")[0].method == "getMe"


async def test_send_message_recorded_stored_and_parsed(api: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(
        42,
        "hello",
        reply_markup=keyboard(),
        reply_parameters=ReplyParameters(message_id=7, allow_sending_without_reply=True),
    )
    assert isinstance(sent, Message)
    assert (sent.chat.id, sent.chat.type, sent.text, sent.message_id) == (42, "private", "hello", 1)
    assert sent.from_user is not None
    assert sent.from_user.id == 123456
    assert isinstance(sent.reply_markup, InlineKeyboardMarkup)
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "ok"
    call = await api.wait_for_call("sendMessage")
    assert call.params["chat_id"] == 42
    assert call.params["text"] == "hello"
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "ok"
    assert call.params["reply_parameters"] == {"message_id": 7, "allow_sending_without_reply": True}
    assert call.response is not None
    assert call.response["ok"] is True
    assert api.messages[(42, 1)]["text"] == "hello"
    second = await bot.send_message(-100500, "group hi")
    assert (second.chat.type, second.message_id) == ("supergroup", 1)
    assert [m["text"] for m in api.sent_messages()] == ["hello", "group hi"]
    assert [m["text"] for m in api.sent_messages(42)] == ["hello"]


async def test_numeric_text_stays_a_string(api: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(42, "123", disable_notification=True)
    params = api.calls_of("sendMessage")[0].params
    assert params["text"] == "123"
    assert params["disable_notification"] is True


async def test_html_is_rendered_and_validated(api: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(42, "<b>Hi</b> &amp; bye", parse_mode="HTML")
    assert sent.text == "Hi & bye"
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(42, "<foo>x</foo>", parse_mode="HTML")


async def test_message_too_long(bot: Bot) -> None:
    await bot.send_message(42, "x" * 4096)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(42, "x" * 4097)


async def test_edits(api: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(42, "v1", reply_markup=keyboard())
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            text="v1", chat_id=42, message_id=sent.message_id, reply_markup=keyboard()
        )
    edited = await bot.edit_message_text(text="v2", chat_id=42, message_id=sent.message_id)
    assert isinstance(edited, Message)
    assert edited.text == "v2"
    assert edited.reply_markup is None
    assert edited.edit_date is not None
    assert api.messages[(42, sent.message_id)]["text"] == "v2"
    marked = await bot.edit_message_reply_markup(
        chat_id=42, message_id=sent.message_id, reply_markup=keyboard("New")
    )
    assert isinstance(marked, Message)
    assert marked.reply_markup is not None
    assert marked.reply_markup.inline_keyboard[0][0].text == "New"
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="x", chat_id=42, message_id=999)
    assert await bot.delete_message(42, sent.message_id) is True
    assert api.sent_messages(42) == []


async def test_long_poll_returns_pushed_update_quickly(api: FakeBotAPI, bot: Bot) -> None:
    async def push_later() -> None:
        await asyncio.sleep(0.2)
        api.push_update(f.message_update(f.message("hi")))

    pusher = asyncio.create_task(push_later())
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5, allowed_updates=["message"])
    await pusher
    assert time.monotonic() - started < 2
    assert len(updates) == 1
    assert updates[0].message is not None
    assert updates[0].message.text == "hi"
    assert api.allowed_updates == ["message"]

    api.reset_calls()
    api.push_update(f.message_update(f.message("second")))
    assert len(await bot.get_updates(timeout=0)) == 2  # nothing confirmed yet


async def test_long_poll_times_out_empty(api: FakeBotAPI, bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 3


async def test_offset_confirms_updates(api: FakeBotAPI, bot: Bot) -> None:
    first = api.push_update({"message": f.message("a")})
    second = api.push_update({"message": f.message("b")})
    assert second == first + 1
    updates = await bot.get_updates(offset=first + 1, timeout=0)
    assert [u.update_id for u in updates] == [second]
    assert [u["update_id"] for u in api.pending_updates] == [second]
    assert await bot.get_updates(offset=second + 1, timeout=0) == []
    assert api.pending_updates == []


async def test_default_allowed_updates_exclude_chat_member(api: FakeBotAPI, bot: Bot) -> None:
    group, admin, member = f.group_chat(), f.user(), f.user()
    old, new = f.chat_member(member, "left"), f.chat_member(member, "member")
    api.push_update(f.chat_member_update(group, admin, old, new))
    api.push_update(f.message_update(f.message("x")))
    updates = await bot.get_updates(timeout=0)
    assert [u.event_type for u in updates] == ["message"]
    api.push_update(f.chat_member_update(group, admin, old, new))
    updates = await bot.get_updates(timeout=0, allowed_updates=["chat_member"])
    assert [u.event_type for u in updates] == ["chat_member"]
    member_now = await bot.get_chat_member(group["id"], member["id"])
    assert isinstance(member_now, ChatMemberMember)  # learned from the pushed update


async def test_file_download(api: FakeBotAPI, bot: Bot) -> None:
    info = api.add_file(b"OggS-voice-bytes", file_path="voice/file_1.oga")
    file = await bot.get_file(info["file_id"])
    assert (file.file_path, file.file_size) == ("voice/file_1.oga", 16)
    data = await bot.download(info["file_id"])
    assert data is not None
    assert data.read() == b"OggS-voice-bytes"
    assert api.downloads == ["voice/file_1.oga"]
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nope")
    api.max_download_size = 10
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await bot.get_file(info["file_id"])


async def test_retry_after_injection(api: FakeBotAPI, bot: Bot) -> None:
    api.fail_next("sendMessage", error_code=429, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as excinfo:
        await bot.send_message(42, "x")
    assert excinfo.value.retry_after == 7
    assert (await bot.send_message(42, "x")).text == "x"  # only the next call failed
    api.fail_next("getMe", times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.get_me()
    await bot.get_me()


async def test_blocked_chat(api: FakeBotAPI, bot: Bot) -> None:
    api.block_chat(42)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(42, "x")
    assert (await bot.send_message(43, "x")).chat.id == 43
    assert len(api.calls_of("sendMessage")) == 2  # failed calls are recorded too


@pytest.mark.parametrize(
    ("status", "model", "extra"),
    [
        ("creator", ChatMemberOwner, {}),
        ("administrator", ChatMemberAdministrator, {"can_restrict_members": True}),
        ("member", ChatMemberMember, {}),
        ("restricted", ChatMemberRestricted, {"until_date": 0}),
        ("left", ChatMemberLeft, {}),
        ("kicked", ChatMemberBanned, {"until_date": 1_900_000_000}),
    ],
)
async def test_get_chat_member_statuses(
    api: FakeBotAPI, bot: Bot, status: str, model: type, extra: dict[str, Any]
) -> None:
    person = f.user()
    api.set_chat_member(-100, person, status, **extra)
    member = await bot.get_chat_member(-100, person["id"])
    assert isinstance(member, model)
    assert member.user.id == person["id"]
    if status == "administrator":
        assert isinstance(member, ChatMemberAdministrator)
        assert member.can_restrict_members
        assert not member.can_promote_members


async def test_members_and_chat(api: FakeBotAPI, bot: Bot) -> None:
    group, owner, admin = f.group_chat(title="Club"), f.user(), f.user()
    api.set_chat(group)
    api.set_chat_member(group["id"], owner, "creator")
    api.set_chat_member(group["id"], admin, "administrator")
    stranger = await bot.get_chat_member(group["id"], 777)
    assert isinstance(stranger, ChatMemberLeft)
    admins = await bot.get_chat_administrators(group["id"])
    assert {type(a) for a in admins} == {ChatMemberOwner, ChatMemberAdministrator}
    chat = await bot.get_chat(group["id"])
    assert (chat.title, chat.type) == ("Club", "supergroup")
    assert await bot.get_chat_member_count(group["id"]) == 2
    assert await bot.ban_chat_member(group["id"], admin["id"])
    assert isinstance(await bot.get_chat_member(group["id"], admin["id"]), ChatMemberBanned)
    assert await bot.unban_chat_member(group["id"], admin["id"], only_if_banned=True)
    assert isinstance(await bot.get_chat_member(group["id"], admin["id"]), ChatMemberLeft)
    assert await bot.approve_chat_join_request(group["id"], 555)
    assert isinstance(await bot.get_chat_member(group["id"], 555), ChatMemberMember)
    assert await bot.promote_chat_member(group["id"], 555, can_invite_users=True)
    promoted = await bot.get_chat_member(group["id"], 555)
    assert isinstance(promoted, ChatMemberAdministrator)
    assert promoted.can_invite_users


async def test_wrong_token(api: FakeBotAPI) -> None:
    other = make_bot(api, token="999:WRONG-token")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await other.get_me()
    finally:
        await other.session.close()


async def test_unknown_method_is_not_found(api: FakeBotAPI, bot: Bot) -> None:
    from aiogram.exceptions import TelegramNotFound

    with pytest.raises(TelegramNotFound):
        await bot.send_dice(42)
    assert api.calls[-1].method == "sendDice"


async def test_create_chat_invite_link(api: FakeBotAPI, bot: Bot) -> None:
    link = await bot.create_chat_invite_link(
        -100, name="spring", member_limit=5, expire_date=1_900_000_000
    )
    assert isinstance(link, ChatInviteLink)
    assert (link.name, link.member_limit, link.is_revoked) == ("spring", 5, False)
    assert link.expire_date is not None
    assert int(link.expire_date.timestamp()) == 1_900_000_000
    other = await bot.create_chat_invite_link(-100, creates_join_request=True)
    assert other.invite_link != link.invite_link
    assert other.creates_join_request
    revoked = await bot.revoke_chat_invite_link(-100, link.invite_link)
    assert revoked.is_revoked
    assert (await bot.export_chat_invite_link(-100)).startswith("https://t.me/+")
    params = api.calls_of("createChatInviteLink")[0].params
    assert params == {
        "chat_id": -100,
        "name": "spring",
        "member_limit": 5,
        "expire_date": 1900000000,
    }


async def test_send_document_records_upload(api: FakeBotAPI, bot: Bot) -> None:
    upload = BufferedInputFile(b"%PDF-1.4 fake", filename="report.pdf")
    sent = await bot.send_document(42, upload, caption="Report")
    call = api.calls_of("sendDocument")[0]
    assert call.files == {"document": b"%PDF-1.4 fake"}
    assert call.filenames == {"document": "report.pdf"}
    assert str(call.params["document"]).startswith("attach://")
    assert sent.document is not None
    assert sent.document.file_name == "report.pdf"
    assert sent.caption == "Report"
    downloaded = await bot.download(sent.document.file_id)
    assert downloaded is not None
    assert downloaded.read() == b"%PDF-1.4 fake"
    voice = await bot.send_voice(42, BufferedInputFile(b"ogg", filename="v.ogg"), duration=3)
    assert voice.voice is not None
    assert voice.voice.duration == 3
    photo = await bot.send_photo(42, sent.document.file_id)
    assert photo.photo is not None
    assert photo.photo[0].file_id == sent.document.file_id


async def test_misc_methods(api: FakeBotAPI, bot: Bot) -> None:
    from aiogram.types import BotCommand, MenuButtonCommands, ReactionTypeEmoji

    assert await bot.set_my_commands([BotCommand(command="start", description="Start")])
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    assert await bot.set_chat_menu_button(menu_button=MenuButtonCommands())
    assert await bot.send_chat_action(42, "typing")
    api.open_queries.add("123")  # as if observed in an update
    assert await bot.answer_callback_query("123", text="done")
    sent = await bot.send_message(42, "x")
    assert await bot.pin_chat_message(42, sent.message_id)
    assert await bot.set_message_reaction(42, sent.message_id, [ReactionTypeEmoji(emoji="👍")])
    copy = await bot.copy_message(43, 42, sent.message_id)
    assert api.messages[(43, copy.message_id)]["text"] == "x"
    assert await bot.delete_webhook(drop_pending_updates=True)
    info = await bot.get_webhook_info()
    assert info.url == ""
    assert info.pending_update_count == 0
    assert await bot.leave_chat(-100)


async def test_wait_for_call(api: FakeBotAPI, bot: Bot) -> None:
    async def send_later() -> None:
        await asyncio.sleep(0.1)
        await bot.send_message(42, "first")
        await bot.send_message(42, "second")

    task = asyncio.create_task(send_later())
    call = await api.wait_for_call("SENDMESSAGE", lambda c: c.params["text"] == "second")
    assert call.params["text"] == "second"
    await task
    calls = await api.wait_for_calls("sendMessage", 2, timeout=1)
    assert [c.params["text"] for c in calls] == ["first", "second"]
    with pytest.raises(AssertionError, match=r"recent calls:\n.*sendMessage"):
        await api.wait_for_call("sendMessage", timeout=0.1, after=len(api.calls))


async def test_delay(api: FakeBotAPI, bot: Bot) -> None:
    api.delay("getMe", 0.3)
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started >= 0.3


async def test_every_factory_update_parses(bot: Bot) -> None:
    alice, bob = f.user(first_name="Alice", is_premium=True), f.user(language_code=None)
    group = f.group_chat()
    greeting = f.message("hello", from_user=alice)
    command = f.message("/start@test_bot payload", from_user=alice)
    assert command["entities"] == [{"type": "bot_command", "offset": 0, "length": 15}]
    link = f.invite_link(bob)
    updates = [
        f.message_update(greeting),
        f.message_update(command),
        f.message_update(f.message("re", from_user=bob, chat=group, reply_to=greeting)),
        f.message_update(
            f.message(
                "fwd", from_user=bob, forward_origin=f.forward_origin_user(alice), message_id=99
            )
        ),
        f.message_update(f.message(from_user=alice, voice=f.voice())),
        f.message_update(f.message(from_user=alice, audio=f.audio(title="Song"))),
        f.message_update(f.message(from_user=alice, video_note=f.video_note())),
        f.message_update(f.message(from_user=alice, document=f.document(), caption="c")),
        f.edited_message_update(greeting),
        f.callback_query_update(alice, greeting, "btn:1"),
        f.chat_join_request_update(group, alice, bio="hi", invite_link=link),
        f.chat_member_update(
            group, bob, f.chat_member(alice, "left"), f.chat_member(alice, "restricted")
        ),
        f.my_chat_member_update(
            group,
            bob,
            f.chat_member(alice, "member"),
            f.chat_member(alice, "administrator", can_invite_users=True),
        ),
        f.chat_member_update(
            group, bob, f.chat_member(alice, "creator"), f.chat_member(alice, "kicked")
        ),
        f.message_reaction_update(group, alice, 5, [], ["👍", {"type": "emoji", "emoji": "🔥"}]),
    ]
    kinds = []
    for raw in updates:
        update = Update.model_validate(raw, context={"bot": bot})
        kinds.append(update.event_type)
    assert kinds == [
        "message",
        "message",
        "message",
        "message",
        "message",
        "message",
        "message",
        "message",
        "edited_message",
        "callback_query",
        "chat_join_request",
        "chat_member",
        "my_chat_member",
        "chat_member",
        "message_reaction",
    ]
    ids = [u["update_id"] for u in updates]
    assert ids == sorted(set(ids))


async def test_observe_and_set_handler(api: FakeBotAPI, bot: Bot) -> None:
    from aiogram.types import Dice

    from tests.fakes import BotAPIError

    alice = f.user(first_name="Alice")
    incoming = f.message("question", from_user=alice, message_id=10)
    api.observe(f.message_update(incoming))  # as a harness that feeds the dispatcher directly
    reply = await bot.send_message(alice["id"], "answer", reply_to_message_id=10)
    assert reply.message_id == 11
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == "question"
    assert reply.chat.first_name == "Alice"
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text(text="x", chat_id=alice["id"], message_id=10)

    dice = {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}
    api.set_handler("sendDice", lambda call: {**dice, "dice": {"emoji": "🎲", "value": 6}})
    sent = await bot.send_dice(1)
    assert isinstance(sent.dice, Dice)
    assert sent.dice.value == 6

    def refuse(call: Any) -> None:
        raise BotAPIError(400, "Bad Request: PEER_ID_INVALID")

    api.set_handler("sendDice", refuse)
    with pytest.raises(TelegramBadRequest, match="PEER_ID_INVALID"):
        await bot.send_dice(1)


async def test_html_as_telegram_parses_it(bot: Bot) -> None:
    sent = await bot.send_message(42, "AT&T &foo; &lt;b&gt; &#65;", parse_mode="HTML")
    assert sent.text == "AT&T &foo; <b> A"
    for bad in ("a < b", "x <b", "<span>x</span>", "<br/>", "<i>x</b>", "<b>x"):
        with pytest.raises(TelegramBadRequest, match="can't parse entities"):
            await bot.send_message(42, bad, parse_mode="HTML")
    spoiler = '<span class="tg-spoiler">x</span>'
    assert (await bot.send_message(42, spoiler, parse_mode="HTML")).text == "x"


async def test_lengths_count_utf16_units(bot: Bot) -> None:
    await bot.send_message(42, "😀" * 2048)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(42, "😀" * 2048 + "x")


async def test_unknown_chats_and_invalid_ids_are_refused(api: FakeBotAPI, bot: Bot) -> None:
    api.strict_chats = True
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(-100777, "hi")
    api.set_chat(f.group_chat(id=-100777))
    assert (await bot.send_message(-100777, "hi")).chat.id == -100777
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(0, "hi")
    with pytest.raises(TelegramBadRequest, match="invalid user_id"):
        await bot.get_chat_member(-100777, 2**63)
    with pytest.raises(TelegramBadRequest, match="invalid user_id"):
        await bot.ban_chat_member(-100777, -5)


async def test_replies_buttons_and_callback_answers_are_checked(api: FakeBotAPI, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(42, "x", reply_parameters=ReplyParameters(message_id=999))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(42, "x", reply_markup=keyboard(data="d" * 65))
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query("never-seen")
    api.observe(f.callback_query_update(f.user(), None, "x", id="q1"))
    with pytest.raises(TelegramBadRequest, match="MESSAGE_TOO_LONG"):
        await bot.answer_callback_query("q1", text="x" * 201)
    assert await bot.answer_callback_query("q1", text="x" * 200)
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query("q1")  # answered already
