"""ProfileService: /whoami's view of the bot's own records, and /forgetme.

/forgetme erases what identifies or describes the person and keeps what moderation
must keep:

- removed: profile fields (names, username, Telegram and chosen language, premium flag),
  transcripts (text, segments and file ids of finished jobs of their voice, whoever
  asked, and of those they asked for), their application answers (open applications
  are withdrawn, with an audit row) and the reasons moderators typed when rejecting
  them (canned reasons stay: they describe no one), and when they were last seen in
  each chat; the moderators' cards of their applications are redacted by the caller
  (`ForgetReport.cards`);
- kept: their Telegram id (bans, decisions and votes refer to it), membership status
  (bans must hold), application decisions and the audit trail, karma votes they gave and
  received (other members' history and totals, and the anti-abuse rules, are built from
  them; they hold ids and numbers only), and the content-less transcription rows (the
  daily transcription quota counts them).

Telegram sends a user's profile with every message, so whatever they write afterwards
brings their name back, as for any new user.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.log import get_logger
from bot.repositories.karma import KarmaRepository
from bot.repositories.profiles import (
    ApplicationRecord,
    ChatRecord,
    MembershipRecord,
    ProfileRepository,
    StoredUser,
)
from bot.services.applications import DEFAULT_REJECT_REASONS
from bot.settings import Settings

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class KarmaRecord:
    karma: float
    rank: int | None
    ranked: int


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    """What the bot's records hold about a user (in one chat, for chat-scoped parts)."""

    user: StoredUser | None
    chat: ChatRecord | None  # the chat the chat-scoped parts are of
    membership: MembershipRecord | None
    karma: KarmaRecord | None  # None: karma is off or no chat to look in
    application: ApplicationRecord | None
    transcriptions: int
    transcribed_s: float


@dataclass(frozen=True, slots=True)
class ForgetReport:
    profile: bool  # profile fields were cleared
    transcripts: int
    transcripts_running: int  # not finished yet: not removed
    answers: int
    applications_withdrawn: int
    last_seen: int  # chats whose last-seen time was cleared
    decisions_kept: int
    karma_events_kept: int
    # Applications whose card in the moderation chat shows what was erased: the caller
    # redacts them, after the commit.
    cards: tuple[int, ...] = ()


class ProfileService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = ProfileRepository(session)

    async def profile(self, user_id: int, chat_id: int | None) -> ProfileRecord:
        chat = membership = karma = None
        if chat_id is not None:
            chat = await self.repo.chat(chat_id)
            membership = await self.repo.membership(chat_id, user_id)
            if self.settings.karma.enabled:
                karma = await self._karma(chat_id, user_id)
        count, seconds = await self.repo.transcription_usage(user_id)
        return ProfileRecord(
            user=await self.repo.user(user_id),
            chat=chat,
            membership=membership,
            karma=karma,
            application=await self.repo.latest_application(user_id),
            transcriptions=count,
            transcribed_s=seconds,
        )

    async def _karma(self, chat_id: int, user_id: int) -> KarmaRecord:
        repo = KarmaRepository(self.session)
        ranked = await repo.ranked_count(chat_id)
        row = await repo.position(chat_id, user_id, None)
        if row is None:
            return KarmaRecord(0.0, None, ranked)
        return KarmaRecord(row.karma, row.rank, ranked)

    async def forget(self, user_id: int) -> ForgetReport:
        """Erase the user's personal data (see the module docstring) in one transaction,
        committed before this returns: the report says what is gone, not what will be."""
        now = utcnow()
        withdrawn = await self.repo.withdraw_open_applications(user_id, now)
        canned = self.settings.moderation.reject_reasons or DEFAULT_REJECT_REASONS
        await self.repo.erase_typed_reasons(user_id, canned)
        report = ForgetReport(
            profile=await self.repo.clear_profile(user_id, now),
            transcripts=await self.repo.clear_transcripts(user_id, now),
            transcripts_running=await self.repo.open_jobs(user_id),
            answers=await self.repo.delete_answers(user_id),
            applications_withdrawn=withdrawn,
            last_seen=await self.repo.clear_last_seen(user_id),
            decisions_kept=await self.repo.kept_decisions(user_id),
            karma_events_kept=await self.repo.karma_events(user_id),
            cards=await self.repo.applications_with_cards(user_id),
        )
        await self.session.commit()
        log.info("personal data forgotten", subject_id=user_id, **asdict(report))
        return report
