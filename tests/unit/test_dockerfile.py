"""The Dockerfile without a Docker engine: both targets exist, install only what
uv.lock pins, run as non-root with a health check, and the CUDA base carries the CUDA
major version the installed CTranslate2 library loads (hadolint runs in CI too)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def _stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for instruction, args in _instructions():
        if instruction == "FROM":
            name = args.split()[-1] if " AS " in args.upper() else args
            current = stages.setdefault(name, [])
        current.append((instruction, args))
    return stages


def _arg_default(name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)", DOCKERFILE, re.MULTILINE)
    assert match, name
    return match[1]


def test_cpu_and_cuda_are_targets_and_cpu_is_the_default() -> None:
    stages = _stages()
    assert {"cpu", "cuda"} <= set(stages)
    assert list(stages)[-1] == "cpu"  # `docker build .` builds the CPU image
    assert stages["cuda"][0] == ("FROM", "${CUDA_IMAGE} AS cuda")


@pytest.mark.parametrize("target", ["cpu", "cuda"])
def test_final_images_run_as_non_root_with_a_health_check(target: str) -> None:
    stage = _stages()[target]
    users = [args for instruction, args in stage if instruction == "USER"]
    assert users == ["10001:10001"]
    assert any(instruction == "HEALTHCHECK" for instruction, _ in stage)
    assert any(instruction == "CMD" for instruction, _ in stage)


def test_only_the_lock_is_installed() -> None:
    runs = [args for instruction, args in _instructions() if instruction == "RUN"]
    assert not [run for run in runs if re.search(r"\bpip3? install\b", run)]
    syncs = [run for run in runs if "uv sync" in run]
    assert len(syncs) == 4
    assert all("--frozen" in run for run in syncs)


def test_the_cuda_base_matches_what_ctranslate2_loads() -> None:
    """CTranslate2 dlopens its CUDA libraries: the wheel names the majors it wants."""
    libs = ROOT / ".venv" / "lib"
    candidates = list(libs.glob("python3*/site-packages/ctranslate2.libs/libctranslate2*.so*"))
    if not candidates:
        pytest.skip("ctranslate2 (the audio extra) is not installed")
    binary = candidates[0].read_bytes()
    cublas = set(re.findall(rb"libcublas\.so\.(\d+)", binary))
    assert cublas == {b"12"}
    image = _arg_default("CUDA_IMAGE")
    match = re.fullmatch(
        r"nvidia/cuda:(\d+)\.(\d+)\.\d+-(runtime|cudnn-runtime)-ubuntu\d+\.\d+", image
    )
    assert match, image
    assert match[1] == "12"
    assert int(match[2]) >= 8  # the wheels are built with CUDA 12.8
    needs_cudnn = b"libcudnn" in binary
    assert match[3] == ("cudnn-runtime" if needs_cudnn else "runtime")
