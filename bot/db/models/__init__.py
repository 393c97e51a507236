"""All ORM models; importing this package registers them on `Base.metadata`."""

from bot.db.models.application import Application, ApplicationAnswer, ApplicationEvent
from bot.db.models.karma import KarmaEvent, KarmaMessageAuthor, KarmaRestriction, KarmaTotal
from bot.db.models.ops import LegacyImport, Moderator
from bot.db.models.roster import Chat, Membership, User
from bot.db.models.transcription import TranscriptionJob

__all__ = [
    "Application",
    "ApplicationAnswer",
    "ApplicationEvent",
    "Chat",
    "KarmaEvent",
    "KarmaMessageAuthor",
    "KarmaRestriction",
    "KarmaTotal",
    "LegacyImport",
    "Membership",
    "Moderator",
    "TranscriptionJob",
    "User",
]
