"""`.env.example` documents every setting, and its values are the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.settings import Settings

ENV_EXAMPLE = Path(__file__).parent.parent.parent / ".env.example"


def _variables(model: type[BaseModel], prefix: str = "") -> set[str]:
    names = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _variables(annotation, f"{prefix}{name.upper()}__")
        else:
            names.add(f"{prefix}{name.upper()}")
    return names


def _example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs


def test_every_setting_is_documented_and_nothing_else() -> None:
    assert set(_example()) == _variables(Settings)


def test_the_example_values_are_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _variables(Settings):
        monkeypatch.delenv(name, raising=False)
    from_file = Settings(_env_file=ENV_EXAMPLE)  # type: ignore[call-arg]
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert from_file.model_dump() == defaults.model_dump()
