"""One router per feature. Routers are built per dispatcher (`create_router()`),
so several dispatchers (tests, benchmarks) can live in one process."""

from __future__ import annotations

from aiogram import Router

from bot.telegram.a2t import handlers as voice
from bot.telegram.applications import handlers as applications
from bot.telegram.applications import moderation
from bot.telegram.handlers import errors, fallback, start
from bot.telegram.karma import handlers as karma
from bot.telegram.roster import members, privacy, whoami
from bot.telegram.roster import updates as roster


def feature_routers() -> list[Router]:
    # fallback last: it answers commands no feature claimed.
    return [
        errors.create_router(),
        karma.create_reactions_router(),  # observes every message: see its docstring
        # before start and voice: /start apply, and voice notes that answer a question
        applications.create_router(),
        moderation.create_router(),  # a moderator's typed reason may start with "thanks"
        # Votes are the busiest group messages: they skip start's and voice's checks.
        # Neither claims a vote (start: private chats; voice: media, which a vote is not).
        karma.create_router(),
        start.create_router(),
        voice.create_router(),
        members.create_router(),
        whoami.create_router(),
        privacy.create_router(),
        roster.create_router(),
        fallback.create_router(),
    ]
