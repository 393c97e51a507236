"""Decoding benchmark: what isolating the decoder in a child process costs.

    uv run python -m scripts.bench_decode [--runs 15]

The same voice notes decoded to 16 kHz mono float32 four ways:

* pyav-thread: PyAV (FFmpeg's libraries) in a thread of this process. Fastest, but a
  hang holds that thread forever and a crash in libavcodec takes the process (a
  worker, or the embedded bot) down with it.
* ffmpeg-program: the `ffmpeg` program, one process per decode, writing PCM to a pipe;
  killed outright on the time limit.
* pyav-child: PyAV in one long-lived child process (`worker.decoder`, what the pipeline
  uses), bytes in and samples out through pipes; killed on a hang, replaced after.
* pyav-child-each: a fresh Python child per decode running PyAV.

Wall time is the median per decode; CPU is this process's plus its children's, per
decode (`os.times` for children that exit; /proc for the long-lived child), so a
child's start-up cost is counted. Prints a table and writes bench-results/decode.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np

from scripts._bench import median, print_table, write_results
from tests.a2t import DATA, jfk_repeated, lj_speech_minute
from worker import audio
from worker.decoder import DecoderProcess

REPO = Path(__file__).resolve().parent.parent
MAX_SECONDS = 1200.0
TIMEOUT_S = 120.0

_CHILD = """
import sys, numpy as np
from worker.audio import decode_with_pyav
samples = decode_with_pyav(sys.stdin.buffer.read(), float(sys.argv[1]), float(sys.argv[2]))
sys.stdout.buffer.write(np.ascontiguousarray(samples, dtype=np.float32).tobytes())
"""


CHILD = DecoderProcess()


def _proc_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system + _proc_cpu(CHILD.pid)


async def pyav_thread(data: bytes) -> np.ndarray:
    return (
        await audio.decode(data, max_seconds=MAX_SECONDS, timeout_s=TIMEOUT_S, in_process=True)
    ).samples


async def ffmpeg_program(data: bytes) -> np.ndarray:
    return (
        await audio.decode(data, max_seconds=MAX_SECONDS, timeout_s=TIMEOUT_S, in_process=False)
    ).samples


async def pyav_child(data: bytes) -> np.ndarray:
    return (
        await audio.decode(data, max_seconds=MAX_SECONDS, timeout_s=TIMEOUT_S, child=CHILD)
    ).samples


async def pyav_child_each(data: bytes) -> np.ndarray:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        str(MAX_SECONDS),
        str(TIMEOUT_S),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    out, _ = await proc.communicate(data)
    return np.frombuffer(out, dtype=np.float32)


async def measure(
    decoder: Callable[[bytes], Awaitable[np.ndarray]], data: bytes, runs: int
) -> tuple[float, float, float]:
    samples = await decoder(data)  # warm-up (the long-lived child starts here)
    walls, cpus = [], []
    for _ in range(runs):
        cpu, wall = _cpu(), time.perf_counter()
        await decoder(data)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((_cpu() - cpu) * 1000)
    return median(walls), median(cpus), len(samples) / 16000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    notes = {
        "11 s voice note (JFK)": (DATA / "jfk.ogg").read_bytes(),
        "58 s recording (LJ Speech)": lj_speech_minute(),
        "10 min voice note (JFK x 55)": jfk_repeated(55),
    }
    decoders = {
        "pyav-thread": pyav_thread,
        "ffmpeg-program": ffmpeg_program,
        "pyav-child": pyav_child,
        "pyav-child-each": pyav_child_each,
    }
    results: dict[str, dict[str, dict[str, float]]] = {}
    rows = []
    try:
        for note, data in notes.items():
            results[note] = {}
            for name, decoder in decoders.items():
                runs = args.runs if "10 min" not in note else max(3, args.runs // 5)
                wall, cpu, seconds = await measure(decoder, data, runs)
                results[note][name] = {"wall_ms": wall, "cpu_ms": cpu, "audio_s": seconds}
                rows.append((f"{note}: {name}", f"{wall:.0f} ms wall, {cpu:.0f} ms CPU", "", ""))
    finally:
        await CHILD.close()
    print_table("Decoding to 16 kHz mono float32 (median per decode)", rows)
    path = write_results("decode", {"runs": args.runs, "results": results})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    asyncio.run(main())
