"""The benchmark's raw engine (scripts/_raw_whisper.py) does not import the settings,
so that its memory is faster-whisper's own: its options must stay the worker's."""

from bot.settings import WhisperSettings
from scripts import _raw_whisper


def test_the_raw_engine_runs_with_the_workers_whisper_options() -> None:
    options = WhisperSettings()
    assert options.model == ""  # the bundled tiny.en, which the raw engine loads too
    assert options.compute_type == "auto"  # int8 on CPU, float16 on CUDA, as there
    assert options.beam_size == _raw_whisper.BEAM_SIZE
    assert options.cpu_threads == _raw_whisper.CPU_THREADS
    assert options.vad_filter == _raw_whisper.VAD_FILTER
