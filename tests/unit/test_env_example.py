"""`.env.example` documents every setting, and its values are the defaults; and every
variable compose.yaml reads, with the defaults compose.yaml gives them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.settings import Settings

ROOT = Path(__file__).parent.parent.parent
ENV_EXAMPLE = ROOT / ".env.example"
# ${NAME}, ${NAME:-default}, ${NAME:?error}; $${...} is an escaped literal.
_COMPOSE_VARIABLE = re.compile(
    r"(?<!\$)\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?::?(?P<op>[-?])(?P<arg>[^}]*))?\}"
)


def _compose_variables() -> dict[str, set[str]]:
    """Variables compose.yaml reads -> the defaults it gives them ("" when required)."""
    found: dict[str, set[str]] = {}
    lines = (ROOT / "compose.yaml").read_text().splitlines()
    text = "\n".join(re.sub(r"(^|\s)#.*", "", line) for line in lines)  # not in comments
    for match in _COMPOSE_VARIABLE.finditer(text):
        default = match["arg"] if match["op"] == "-" else ""
        found.setdefault(match["name"], set()).add(default)
    return found


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
    compose_only = set(_compose_variables())
    assert not compose_only & _variables(Settings), "compose.yaml sets these in `environment`"
    assert set(_example()) == _variables(Settings) | compose_only


def test_compose_variables_show_compose_defaults() -> None:
    """Required ones (`:?`) are empty in the example, so compose stops until they are set."""
    example = _example()
    for name, defaults in _compose_variables().items():
        assert defaults == {example[name]}, (
            f"{name}: compose.yaml {defaults}, example {example[name]!r}"
        )
    for required in ("POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        assert _compose_variables()[required] == {""}


def test_the_example_values_are_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _variables(Settings):
        monkeypatch.delenv(name, raising=False)
    from_file = Settings(_env_file=ENV_EXAMPLE)  # type: ignore[call-arg]
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert from_file.model_dump() == defaults.model_dump()
