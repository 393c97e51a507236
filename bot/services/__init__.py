"""Business logic. No aiogram imports here: services take a session and plain DTOs."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncSession

from bot.jobs import JobQueue
from bot.services.applications import ApplicationService
from bot.services.karma import KarmaService
from bot.services.profiles import ProfileService
from bot.services.roster import RosterService
from bot.services.transcription import A2TStatus, TranscriptionService
from bot.settings import Settings
from bot.texts import N_


@dataclass
class AppDeps:
    """Process-wide singletons the services need (the dispatcher holds one)."""

    settings: Settings
    job_queue: JobQueue | None = None
    a2t_status: A2TStatus = field(
        default_factory=lambda: A2TStatus(
            False, N_("Voice transcription is starting up; try again in a minute.")
        )
    )


class Services:
    """The services of one update (or job), sharing its database session.

    Built per update by the session middleware; each service is created on first use.
    """

    def __init__(self, session: AsyncSession, deps: AppDeps) -> None:
        self.session = session
        self.deps = deps

    @cached_property
    def roster(self) -> RosterService:
        return RosterService(self.session, self.deps.settings)

    @cached_property
    def profiles(self) -> ProfileService:
        return ProfileService(self.session, self.deps.settings)

    @cached_property
    def karma(self) -> KarmaService:
        return KarmaService(self.session, self.deps.settings)

    @cached_property
    def applications(self) -> ApplicationService:
        return ApplicationService(self.session, self.deps.settings)

    @cached_property
    def transcription(self) -> TranscriptionService:
        return TranscriptionService(
            self.session, self.deps.settings, self.deps.job_queue, self.deps.a2t_status
        )


__all__ = [
    "AppDeps",
    "ApplicationService",
    "KarmaService",
    "ProfileService",
    "RosterService",
    "Services",
    "TranscriptionService",
]
