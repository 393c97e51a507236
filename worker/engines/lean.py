"""faster-whisper's two whole-audio steps, with the same results in bounded memory.

Before its first pass, faster-whisper runs the Silero VAD over the whole audio in
batches of 10,000 frames (320 s) and computes the log-Mel spectrogram of the whole
(speech) audio in one go; both keep intermediates proportional to the audio's length
(docs/PERFORMANCE.md has the measurements). Here:

* the VAD runs in batches of `VAD_BATCH_FRAMES`: each frame carries its own context,
  so the speech probabilities are the same (tests/integration/a2t/test_windows.py);
* the spectrogram is computed block by block (each frame depends only on its own 400
  samples) and normalised once over the whole, as faster-whisper does.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np
from faster_whisper import vad
from faster_whisper.feature_extractor import FeatureExtractor

VAD_BATCH_FRAMES = 1000  # 32 s of audio a batch
FEATURE_BLOCK_FRAMES = 3000  # 30 s of audio a block


class LeanSileroVAD(vad.SileroVADModel):  # type: ignore[misc]
    def __call__(
        self, audio: np.ndarray, num_samples: int = 512, context_size_samples: int = 64
    ) -> np.ndarray:
        # faster-whisper 1.2's own __call__, with a smaller batch.
        assert audio.ndim == 1, "Input should be a 1D array"
        assert audio.shape[0] % num_samples == 0, "Input size should be a multiple"
        h = np.zeros((1, 1, 128), dtype="float32")
        c = np.zeros((1, 1, 128), dtype="float32")
        batched = audio.reshape(-1, num_samples)
        context = batched[..., -context_size_samples:]
        context[-1] = 0
        context = np.roll(context, 1, 0)
        outputs = []
        for start in range(0, batched.shape[0], VAD_BATCH_FRAMES):
            block = np.concatenate(
                [
                    context[start : start + VAD_BATCH_FRAMES],
                    batched[start : start + VAD_BATCH_FRAMES],
                ],
                1,
            )
            output, h, c = self.session.run(None, {"input": block, "h": h, "c": c})
            outputs.append(output)
        return np.concatenate(outputs, axis=0)


@functools.cache
def lean_vad_model() -> LeanSileroVAD:
    return LeanSileroVAD(os.path.join(vad.get_assets_path(), "silero_vad_v6.onnx"))


def install_lean_vad() -> None:
    """faster-whisper looks its VAD model up through this module function at each call."""
    vad.get_vad_model = lean_vad_model


class LeanFeatureExtractor(FeatureExtractor):  # type: ignore[misc]
    def __call__(
        self, waveform: np.ndarray, padding: int = 160, chunk_length: int | None = None
    ) -> np.ndarray:
        if chunk_length is not None:
            self.n_samples = chunk_length * self.sampling_rate
            self.nb_max_frames = self.n_samples // self.hop_length
        padded = _Padded(np.asarray(waveform, dtype=np.float32), padding, self.n_fft // 2)
        # As stft(center=True) frames it; its last frame is dropped, as faster-whisper does.
        frames = 1 + (padded.size - self.n_fft) // self.hop_length - 1
        window = np.hanning(self.n_fft + 1)[:-1].astype("float32")
        log_spec = np.empty((self.mel_filters.shape[0], frames), dtype=np.float32)
        for first in range(0, frames, FEATURE_BLOCK_FRAMES):
            last = min(frames, first + FEATURE_BLOCK_FRAMES)
            piece = padded[first * self.hop_length : (last - 1) * self.hop_length + self.n_fft]
            stft = self.stft(
                piece,
                self.n_fft,
                self.hop_length,
                window=window,
                center=False,
                return_complex=True,
            ).astype("complex64")
            mel_spec = self.mel_filters @ (np.abs(stft) ** 2)
            log_spec[:, first:last] = np.log10(np.clip(mel_spec, a_min=1e-10, a_max=None))
        np.maximum(log_spec, log_spec.max() - 8.0, out=log_spec)
        log_spec += 4.0
        log_spec /= 4.0
        return log_spec


class _Padded:
    """np.pad(np.pad(waveform, (0, zeros)), (half, half), mode="reflect"), built one
    slice at a time (a copy of the whole audio saved)."""

    def __init__(self, waveform: np.ndarray, zeros: int, half: int) -> None:
        self.inner = len(waveform) + zeros
        self.size = self.inner + 2 * half
        self.half = half
        if self.inner <= half:  # too short to reflect from itself: as numpy does it
            self.whole: np.ndarray | None = np.pad(
                np.pad(waveform, (0, zeros)), (half, half), mode="reflect"
            )
            return
        self.whole = None
        self.waveform = waveform
        self.left = self._body(1, half + 1)[::-1]
        self.right = self._body(self.inner - half - 1, self.inner - 1)[::-1]

    def _body(self, start: int, end: int) -> np.ndarray:
        out = np.zeros(end - start, dtype=np.float32)
        stop = min(end, len(self.waveform))
        if stop > start:
            out[: stop - start] = self.waveform[start:stop]
        return out

    def __getitem__(self, cut: slice) -> np.ndarray:
        if self.whole is not None:
            return self.whole[cut]
        start, end = cut.start, cut.stop
        half, inner = self.half, self.inner
        parts = []
        if start < half:
            parts.append(self.left[start : min(end, half)])
        if end > half and start < half + inner:
            parts.append(self._body(max(start, half) - half, min(end, half + inner) - half))
        if end > half + inner:
            parts.append(self.right[max(start, half + inner) - half - inner : end - half - inner])
        return np.concatenate(parts) if len(parts) > 1 else parts[0]


def lean_feature_extractor(original: Any) -> LeanFeatureExtractor:
    return LeanFeatureExtractor(
        feature_size=original.mel_filters.shape[0],
        sampling_rate=original.sampling_rate,
        hop_length=original.hop_length,
        chunk_length=original.chunk_length,
        n_fft=original.n_fft,
    )
