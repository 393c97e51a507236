"""faster-whisper's VAD and spectrogram in bounded memory (worker/engines/lean.py)
give exactly faster-whisper's own results, on real speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from faster_whisper import vad
from faster_whisper.feature_extractor import FeatureExtractor

from tests.a2t import lj_speech_minute
from worker.audio import decode_with_pyav
from worker.engines.lean import lean_feature_extractor, lean_vad_model


def test_lean_vad_and_features_give_faster_whispers_results() -> None:
    # ~58 s: two VAD batches and two spectrogram blocks.
    samples = decode_with_pyav(lj_speech_minute(), 120, 60)
    stock = FeatureExtractor()
    assert np.array_equal(lean_feature_extractor(stock)(samples), stock(samples))
    padded = np.pad(samples, (0, 512 - len(samples) % 512))
    stock_vad = vad.SileroVADModel(str(Path(vad.get_assets_path()) / "silero_vad_v6.onnx"))
    assert np.array_equal(lean_vad_model()(padded), stock_vad(padded))
