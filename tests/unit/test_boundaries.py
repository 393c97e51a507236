"""Layers point down only. Every import of every module under bot/ and worker/ (those
inside functions and under TYPE_CHECKING included: a guarded import is still a
dependency) is read with `ast` and checked against the layering in
docs/ARCHITECTURE.md:

    values        bot.domain, bot.texts, bot.errors, bot.db.enums
    foundation    bot.settings, bot.log, bot.metrics, bot.jobs, bot.db
    repositories  bot.repositories
    services      bot.services
    adapters      bot.telegram, bot.admin, worker, bot.app and the process plumbing

A module may import its own layer and the ones below it, never one above. The layers
below the adapters never import aiogram. The worker (its composition root
worker/main.py aside) reaches the bot's Telegram layer only through the shared modules
every process uses, never a feature's."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

LAYERS: list[tuple[str, ...]] = [
    ("bot.domain", "bot.texts", "bot.errors", "bot.db.enums"),
    ("bot.settings", "bot.log", "bot.metrics", "bot.jobs", "bot.db"),
    ("bot.repositories",),
    ("bot.services",),
    (
        "bot.telegram",
        "bot.admin",
        "bot.i18n",
        "bot.app",
        "bot.bootstrap",
        "bot.gauges",
        "bot.http",
        "bot.readiness",
        "bot.error_reports",
        "bot.__main__",
        "worker",
    ),
]
NO_AIOGRAM = LAYERS[0] + LAYERS[1] + LAYERS[2] + LAYERS[3]
# What every process that talks to Telegram shares: the Bot factory and its request
# middlewares, and the texts and buttons of a transcription job.
SHARED_TELEGRAM = (
    "bot.telegram.budget",
    "bot.telegram.botapi",
    "bot.telegram.text_limits",
    "bot.telegram.a2t_views",
)
COMPOSITION_ROOTS = ("worker.main",)
# What the worker loads of the Telegram layer: no aiogram in any of it (the worker
# never loads aiogram, `test_the_worker_never_loads_aiogram`).
WORKER_TELEGRAM = (*SHARED_TELEGRAM, "bot.telegram.applications.card", "bot.i18n")


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def layer_of(module: str) -> int | None:
    """The layer of a module; the most specific prefix wins (bot.db.enums over bot.db)."""
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if _within(module, (prefix,)) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(source: str, module: str, is_package: bool = False) -> Iterator[str]:
    """Every module `source` imports; `from a import b` yields `a` and `a.b` (b may be
    a module)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)


def violations(module: str, imported: list[str]) -> list[str]:
    found: list[str] = []
    own = layer_of(module)
    for name in imported:
        if _within(module, NO_AIOGRAM + WORKER_TELEGRAM) and _within(name, ("aiogram",)):
            found.append(f"{module} imports {name}: aiogram belongs to the adapters")
        other = layer_of(name)
        if own is not None and other is not None and other > own:
            found.append(f"{module} (layer {own}) imports {name} (layer {other}): points up")
        if (
            _within(module, ("worker",))
            and not _within(module, COMPOSITION_ROOTS)
            and _within(name, ("bot.telegram",))
            and not _within(name, SHARED_TELEGRAM)
            and name != "bot.telegram"
        ):
            found.append(f"{module} imports {name}: a bot feature's Telegram code")
        if _within(module, ("bot.telegram",)) and _within(name, ("worker",)):
            found.append(f"{module} imports {name}: the bot's adapter depends on the worker")
    return sorted(set(found))


def _sources() -> Iterator[Path]:
    for package in ("bot", "worker"):
        yield from sorted((ROOT / package).rglob("*.py"))


def test_layers_point_down() -> None:
    found: list[str] = []
    checked = 0
    for path in _sources():
        module = module_name(path)
        names = list(imports(path.read_text(), module, path.name == "__init__.py"))
        found += violations(module, names)
        checked += 1
    assert checked > 50, "the walk found no sources"
    assert found == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("bot.repositories.karma", "from bot.services.karma import KarmaService"),
        (
            "bot.repositories.roster",
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from bot.services.roster import RosterService",
        ),
        ("bot.services.karma", "from aiogram.types import Message"),
        ("bot.services.karma", "from bot.i18n import _"),
        ("bot.domain.dto", "from bot.db.models import User"),
        ("bot.settings", "def f():\n    from bot.services import Services"),
        ("bot.db.engine", "import bot.repositories.jobs"),
        ("worker.pipeline", "from bot.telegram.applications import actions"),
        ("worker.notifier", "from bot.telegram.dispatcher import create_bot"),
        ("bot.telegram.botapi", "from aiogram.exceptions import TelegramBadRequest"),
        ("bot.telegram.a2t_views", "from aiogram.types import InlineKeyboardMarkup"),
        ("bot.telegram.a2t.handlers", "from worker.pipeline import Pipeline"),
    ],
)
def test_checker_catches(module: str, source: str) -> None:
    """The checker itself: each of these imports breaks a rule and is reported."""
    assert violations(module, list(imports(source, module)))


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("bot.services.karma", "from bot.repositories.karma import KarmaRepository"),
        ("bot.repositories.roster", "from bot.domain.member_filter import MemberFilter"),
        ("bot.domain.dto", "from bot.db.enums import ChatType"),
        ("worker.notifier", "from bot.telegram import a2t_views"),
        ("worker.main", "from bot.telegram.applications import card"),
        ("worker.notifier", "from bot.telegram.botapi import BotAPI"),
        ("bot.services", "from .karma import KarmaService"),
    ],
)
def test_checker_allows(module: str, source: str) -> None:
    assert violations(module, list(imports(source, module, module == "bot.services"))) == []


def test_the_worker_never_loads_aiogram() -> None:
    """`python -m worker` imports worker.main: nothing it imports loads aiogram (its
    import alone is about half of an idle worker's memory, docs/PERFORMANCE.md)."""
    code = (
        "import sys, worker.__main__, worker.main, worker.runtime\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'aiogram'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_views_pack_callback_data_as_aiogram_does() -> None:
    """The worker's keyboards are plain JSON; the bot parses their data with aiogram's
    CallbackData: the two must agree."""
    from bot.telegram.a2t_views import A2TAction, a2t_data
    from bot.telegram.applications.card import ModAction, mod_data
    from bot.telegram.callbacks import A2TCallback, ModCallback

    for action in A2TAction:
        for language in ("", "de"):
            packed = A2TCallback(action=action, job_id=2**40, language=language).pack()
            assert a2t_data(action, 2**40, language) == packed
            assert A2TCallback.unpack(packed).job_id == 2**40
    for mod in (ModAction.APPROVE, ModAction.REJECT, ModAction.BAN):
        assert mod_data(mod, 17) == ModCallback(action=mod, app_id=17).pack()
