"""The Telegram side of applications: the moderators' card (posted, edited in place),
what a decision does in the community chat (approve the join request, or a personal
invite link; decline; ban) and the applicant's notices. Every step is recorded through
ApplicationService (an audit row each).

A personal invite link is one that creates a join request (`creates_join_request`):
whoever opens it only asks to join, and the bot approves the request of the approved
applicant alone (`on_link_request`). A link that admits whoever opens it first could be
handed to anyone, a banned user included."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup

from bot.db.base import utcnow
from bot.db.enums import ApplicationSource, ApplicationStatus
from bot.i18n import Catalogs
from bot.log import get_logger
from bot.repositories.applications import ApplicationView
from bot.services.applications import ApplicationService
from bot.settings import Settings
from bot.telegram.applications import card as card_views
from bot.telegram.applications import views

log = get_logger(__name__)


async def post_card(
    bot: Bot, svc: ApplicationService, i18n: Catalogs, settings: Settings, view: ApplicationView
) -> None:
    """Send the card to the moderation chat and remember where it is (if the send
    fails, the application stays pending and the sweep posts the card later)."""
    chat_id = settings.moderation.chat_id
    assert chat_id is not None
    with card_views.in_locale(i18n, card_views.moderation_locale(i18n, settings)):
        text, markup = card_views.card_text(view), views.card_keyboard(view)
    try:
        message = await bot.send_message(chat_id, text, reply_markup=markup)
    except TelegramAPIError as exc:
        log.error("card not posted; the sweep will retry", application_id=view.id, error=str(exc))
        await svc.card_failed(view.id, str(exc))
        return
    await svc.card_posted(view.id, chat_id, message.message_id)
    # A voice answer transcribed while the card was on its way found no card to update.
    fresh = await svc.get(view.id)
    with card_views.in_locale(i18n, card_views.moderation_locale(i18n, settings)):
        changed = card_views.card_text(fresh) != text
    if changed:
        await refresh_card(bot, i18n, settings, fresh)


async def refresh_card(
    bot: Bot,
    i18n: Catalogs,
    settings: Settings,
    view: ApplicationView,
    markup: InlineKeyboardMarkup | None = None,
    *,
    erased: bool = False,
) -> None:
    """Edit the card in place: the current state and, unless given, its own buttons.
    `erased`: the applicant deleted their data; the card shows none of it."""
    if view.card_chat_id is None or view.card_message_id is None:
        return
    with card_views.in_locale(i18n, card_views.moderation_locale(i18n, settings)):
        text = card_views.card_text(view, erased=erased)
        markup = markup if markup is not None else views.card_keyboard(view)
    try:
        await bot.edit_message_text(
            text=text,
            chat_id=view.card_chat_id,
            message_id=view.card_message_id,
            reply_markup=markup,
        )
    except TelegramBadRequest as exc:
        if "not modified" not in exc.message:
            log.warning("card edit failed", application_id=view.id, error=exc.message)
    except TelegramAPIError as exc:  # e.g. the bot left the moderation chat
        log.warning("card edit failed", application_id=view.id, error=str(exc))


async def notify_applicant(
    bot: Bot, svc: ApplicationService, view: ApplicationView, text: str
) -> bool:
    """Best effort: an applicant who blocked the bot is recorded, not retried."""
    try:
        await bot.send_message(view.user_id, text)
    except TelegramAPIError as exc:
        log.info("applicant not reachable", application_id=view.id, error=str(exc))
        await svc.record(view.id, "notify_failed", error=str(exc)[:200])
        return False
    await svc.record(view.id, "notified")
    return True


async def carry_out(
    bot: Bot, svc: ApplicationService, i18n: Catalogs, settings: Settings, view: ApplicationView
) -> None:
    """What a committed decision does in Telegram, each step audited."""
    locale = views.applicant_locale(i18n, view)
    if view.status == ApplicationStatus.APPROVED:
        await _approve(bot, svc, i18n, settings, view, locale)
    elif view.status == ApplicationStatus.REJECTED:
        await decline_request(bot, svc, view)
        with card_views.in_locale(i18n, locale):
            text = views.rejected_text(view.reason if view.reason_shared else None)
        await notify_applicant(bot, svc, view, text)
    elif view.status == ApplicationStatus.BANNED:
        await decline_request(bot, svc, view)
        try:
            await bot.ban_chat_member(view.chat_id, view.user_id)
            await svc.record(view.id, "chat_ban", view.decided_by)
        except TelegramAPIError as exc:
            log.warning("ban failed", application_id=view.id, error=str(exc))
            await svc.record(view.id, "chat_ban_failed", view.decided_by, error=str(exc)[:200])
        with card_views.in_locale(i18n, locale):
            text = views.rejected_text(view.reason if view.reason_shared else None)
        await notify_applicant(bot, svc, view, text)


async def _approve(
    bot: Bot,
    svc: ApplicationService,
    i18n: Catalogs,
    settings: Settings,
    view: ApplicationView,
    locale: str,
) -> None:
    if view.source == ApplicationSource.JOIN_REQUEST:
        try:
            await bot.approve_chat_join_request(view.chat_id, view.user_id)
        except TelegramAPIError as exc:
            # The request is gone (withdrawn, handled by an admin): an invite link instead.
            log.info("join request not approvable", application_id=view.id, error=str(exc))
            await svc.record(view.id, "join_request_failed", view.decided_by, error=str(exc)[:200])
        else:
            await svc.record(view.id, "join_request_approved", view.decided_by)
            await svc.member_joined(view.id, "join_request")
            with card_views.in_locale(i18n, locale):
                text = views.approved_join_request_text()
            await notify_applicant(bot, svc, view, text)
            return
    expires = utcnow() + timedelta(hours=settings.applications.invite_ttl_h)
    try:
        # No member_limit: Telegram allows none on a link that creates join requests.
        link = await bot.create_chat_invite_link(
            view.chat_id,
            name=f"application #{view.id}",
            expire_date=expires,
            creates_join_request=True,
        )
    except TelegramAPIError as exc:
        # E.g. the bot may not invite users there: the moderators must invite by hand.
        log.error("invite link not created", application_id=view.id, error=str(exc))
        await svc.record(view.id, "invite_link_failed", view.decided_by, error=str(exc)[:200])
        if settings.moderation.chat_id is not None:
            with card_views.in_locale(i18n, card_views.moderation_locale(i18n, settings)):
                text = views.invite_failed_text(view.id, exc.message)
            try:
                await bot.send_message(settings.moderation.chat_id, text)
            except TelegramAPIError as error:
                log.warning("moderators not told", error=str(error))
        return
    await svc.invite_created(view.id, link.invite_link)
    with card_views.in_locale(i18n, locale):
        text = views.approved_invite_text(link.invite_link, expires)
    await notify_applicant(bot, svc, view, text)


async def on_link_request(
    bot: Bot,
    svc: ApplicationService,
    i18n: Catalogs,
    settings: Settings,
    view: ApplicationView,
    user_id: int,
    user_name: str,
) -> None:
    """A join request through the personal link of approved application `view`: the
    applicant is let in and the link revoked; anyone else is declined, and the
    moderators are told (once per person and application)."""
    chat_id = view.chat_id
    if user_id != view.user_id:
        try:
            await bot.decline_chat_join_request(chat_id, user_id)
        except TelegramAPIError as exc:
            log.warning("foreign join request not declined", application_id=view.id, error=str(exc))
        first = await svc.link_misused(view.id, user_id, "declined")
        if first:
            with card_views.in_locale(i18n, card_views.moderation_locale(i18n, settings)):
                text = views.invite_misused_text(view, user_id, user_name, joined=False)
            await tell_moderators(bot, settings, text)
        return
    try:
        await bot.approve_chat_join_request(chat_id, user_id)
    except TelegramAPIError as exc:
        log.info("join request by link not approvable", application_id=view.id, error=str(exc))
        await svc.record(view.id, "join_request_failed", error=str(exc)[:200])
        return
    await svc.record(view.id, "join_request_approved")
    await svc.member_joined(view.id, "invite_link")
    await revoke_link(bot, svc, view)


async def on_link_join(
    bot: Bot,
    svc: ApplicationService,
    i18n: Catalogs,
    settings: Settings,
    view: ApplicationView,
    user_id: int,
    user_name: str,
    at: datetime,
) -> None:
    """Someone joined the chat directly through approved application `view`'s link (a
    link from before links created join requests: it admitted whoever opened it). The
    link is revoked either way; a stranger is reported to the moderators."""
    if user_id == view.user_id:
        await svc.member_joined(view.id, "invite_link", at=at)
        await revoke_link(bot, svc, view)
        return
    await revoke_link(bot, svc, view)
    if await svc.link_misused(view.id, user_id, "joined"):
        with card_views.in_locale(i18n, card_views.moderation_locale(i18n, settings)):
            text = views.invite_misused_text(view, user_id, user_name, joined=True)
        await tell_moderators(bot, settings, text)


async def revoke_link(bot: Bot, svc: ApplicationService, view: ApplicationView) -> None:
    assert view.invite_link is not None
    try:
        await bot.revoke_chat_invite_link(view.chat_id, view.invite_link)
    except TelegramAPIError as exc:
        log.warning("invite link not revoked", application_id=view.id, error=str(exc))
        await svc.record(view.id, "invite_link_revoke_failed", error=str(exc)[:200])
        return
    await svc.record(view.id, "invite_link_revoked")


async def tell_moderators(bot: Bot, settings: Settings, text: str) -> None:
    if settings.moderation.chat_id is None:
        return
    try:
        await bot.send_message(settings.moderation.chat_id, text)
    except TelegramAPIError as error:
        log.warning("moderators not told", error=str(error))


async def decline_request(bot: Bot, svc: ApplicationService, view: ApplicationView) -> None:
    """The join request behind a rejected, banned, withdrawn or expired application."""
    if view.source != ApplicationSource.JOIN_REQUEST:
        return
    try:
        await bot.decline_chat_join_request(view.chat_id, view.user_id)
    except TelegramAPIError as exc:
        log.info("join request not declinable", application_id=view.id, error=str(exc))
        return
    await svc.record(view.id, "join_request_declined", view.decided_by)
