"""One router per feature. Routers are built per dispatcher (`create_router()`),
so several dispatchers (tests, benchmarks) can live in one process."""

from __future__ import annotations

from aiogram import Router

from bot.telegram.handlers import errors, fallback, karma, start, voice


def feature_routers() -> list[Router]:
    # fallback last: it answers commands no feature claimed.
    return [
        errors.create_router(),
        karma.create_reactions_router(),  # observes every message: see its docstring
        start.create_router(),
        voice.create_router(),
        karma.create_router(),
        fallback.create_router(),
    ]
