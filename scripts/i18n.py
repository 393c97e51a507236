"""Keep the gettext catalogs in step with the code.

    uv run python -m scripts.i18n          # re-extract msgids into every catalog
    uv run python -m scripts.i18n --check  # exit 1 if a catalog is stale or incomplete

Extraction reads `_()`, `__()`, `N_()` and `ngettext()` calls under bot/ and worker/.
New msgids are added to each catalog with an empty translation, msgids no longer in the
code are dropped, existing translations are kept. English needs no translations (the
msgids are English); every other catalog must translate every msgid, plural forms
included, with the same `{placeholders}`. tests/unit/test_i18n.py runs the check.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("bot", "worker")
LOCALES_DIR = ROOT / "bot" / "locales"
DOMAIN = "messages"
LOCALES = ("en", "ru")
SOURCE_LOCALE = "en"
KEYWORDS = {"_": None, "__": None, "N_": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def extract() -> Catalog:
    template = Catalog(domain=DOMAIN, project="community-bot")
    for source in SOURCES:
        for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / source, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            template.add(
                message,
                locations=[(f"{source}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return template


def catalog_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def load(locale: str) -> Catalog:
    path = catalog_path(locale)
    if not path.exists():
        return Catalog(locale=locale, domain=DOMAIN, project="community-bot")
    with path.open("rb") as source:
        return read_po(source, locale=locale, domain=DOMAIN)


def render(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    # Sorted and without source locations: diffs and merges stay small.
    write_po(out, catalog, width=100, sort_output=True, no_location=True, omit_header=False)
    return out.getvalue()


def updated(locale: str, template: Catalog) -> Catalog:
    catalog = load(locale)
    catalog.update(
        template, no_fuzzy_matching=True, update_header_comment=False, update_creation_date=False
    )
    catalog.obsolete.clear()
    return catalog


@dataclass
class Report:
    stale: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def _problems(locale: str, catalog: Catalog) -> list[str]:
    found = []
    for message in catalog:
        if not message.id:
            continue  # the header
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if "fuzzy" in message.flags:
            found.append(f"{locale}: fuzzy: {ids[0]!r}")
        if locale == SOURCE_LOCALE:
            continue
        if not all(strings):
            found.append(f"{locale}: untranslated: {ids[0]!r}")
            continue
        expected = _placeholders(ids[-1])
        for string in strings:
            if _placeholders(string) != expected:
                found.append(f"{locale}: placeholders differ: {ids[0]!r} -> {string!r}")
    return found


def check_or_update(*, write: bool) -> Report:
    template = extract()
    report = Report()
    for locale in LOCALES:
        catalog = updated(locale, template)
        text = render(catalog)
        path = catalog_path(locale)
        if not path.exists() or path.read_bytes() != text:
            report.stale.append(str(path.relative_to(ROOT)))
            if write:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(text)
        report.problems += _problems(locale, catalog)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on problems")
    args = parser.parse_args()
    report = check_or_update(write=not args.check)
    for path in report.stale:
        print(("stale: " if args.check else "updated: ") + path)
    for problem in report.problems:
        print(problem)
    return 1 if report.problems or (args.check and report.stale) else 0


if __name__ == "__main__":
    sys.exit(main())
