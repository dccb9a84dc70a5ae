"""Audio features: MFCC of a session window, read straight from the recording's audio file.

Only the window is read (`soundfile.read` with start/stop frames), so a 40-minute dialog costs
what its 30-second session costs. The analysis is librosa's MFCC with a 25 ms window and 10 ms hop
(n_fft = win_length, the paper's framing); per-session mean/variance normalisation removes the
channel and loudness differences between recordings, which otherwise separate corpora better
than emotions do.

Its causal form (`extract_causal`, for `edu-data predict` on raw media) is the same analysis on
the signal delayed by `analysis_delay` samples, so that frame n ends where its hop slot ends
(librosa centres frame n on sample n*hop: a 25 ms window reaches 2.5 ms past its slot), then
running normalisation: frame n is normalised by the mean and standard deviation of frames 0..n.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import soundfile as sf
from pydantic import Field

from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.stages.features.extractor import (
    FeatureExtractor,
    SessionInput,
    StepOf,
    matrix_of,
)

if TYPE_CHECKING:
    import datasets

#: Added to the standard deviation so a constant coefficient does not divide by zero.
NORMALIZE_EPS = 1e-8
#: A window may end this far past the file's last sample (rounding of times); the rest is zeros.
END_SLACK_S = 0.010


class MfccOptions(StrictModel):
    """`features.extractors.mfcc`: the MFCC analysis (the paper: 40 coefficients, 25 ms windows, 10 ms hop)."""

    sample_rate: int = Field(16000, gt=0, description="Audio is resampled to this rate (Hz) before the analysis.")
    n_mfcc: int = Field(40, gt=0, description="Coefficients per frame (the paper: 40).")
    win_s: float = Field(0.025, gt=0, description="Analysis window, seconds (25 ms).")
    hop_s: float = Field(0.010, gt=0, description="Hop, seconds (10 ms).")
    n_mels: int = Field(40, gt=0, description="Mel bands before the DCT.")
    normalize: Literal["session", "none"] = Field("session", description="Per-session mean and variance normalisation.")


class AudioFeatureError(ValueError):
    """An audio file that cannot serve a session window; the message names file and session."""


def read_window(path: Path, start_s: float, end_s: float, sample_rate: int) -> np.ndarray:
    """Mono float32 samples of [start_s, end_s) at `sample_rate` (resampled when the file differs).

    Samples the file does not hold (window past its end by more than `END_SLACK_S`) are an
    error: kept sessions have none, so finding one means the manifest and the media disagree.
    """
    try:
        with sf.SoundFile(str(path)) as audio:  # one open: the header and the window's samples
            file_rate, frames = audio.samplerate, audio.frames
            start = round(start_s * file_rate)
            stop = round(end_s * file_rate)
            shortfall = stop - frames
            if start < 0 or stop <= start or shortfall > round(END_SLACK_S * file_rate):
                raise AudioFeatureError(
                    f"{path}: window {start_s:.3f}-{end_s:.3f} s is outside the file (0-{frames / file_rate:.3f} s)"
                )
            audio.seek(start)
            samples = audio.read(min(stop, frames) - start, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioFeatureError(f"{path}: cannot read audio: {exc}") from exc
    mono = np.pad(samples.mean(axis=1), (0, max(shortfall, 0)))
    if file_rate != sample_rate:
        import librosa

        mono = librosa.resample(mono, orig_sr=file_rate, target_sr=sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


#: Frames transformed at a time: a block's float64 spectrum stays in the CPU cache.
STFT_BLOCK = 128


@dataclass(frozen=True)
class MelAnalysis:
    """What `mfcc` needs of one (rate, n_fft, n_mels) besides the samples, computed once per process."""

    filterbank: Any  # scipy.sparse.csr_array (n_mels, n_fft // 2 + 1) float32: librosa's mel filterbank
    window: np.ndarray  # (n_fft,) float64 periodic Hann window (librosa's `stft` default)


@functools.lru_cache(maxsize=8)
def mel_analysis(sample_rate: int, n_fft: int, n_mels: int) -> MelAnalysis:
    """The `MelAnalysis` of these parameters (a pure function of them, so kept per process: librosa
    recomputes its filterbank on every call, a fifth of its time on a 3-s session)."""
    import librosa
    import scipy.sparse

    bank = scipy.sparse.csr_array(librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, dtype=np.float32))
    window = librosa.filters.get_window("hann", n_fft, fftbins=True).astype(np.float64)
    for array in (bank.data, bank.indices, bank.indptr, window):
        array.flags.writeable = False  # shared by every call in the process
    return MelAnalysis(bank, window)


def mfcc(samples: np.ndarray, config: MfccOptions) -> np.ndarray:
    """(frames, n_mfcc) float32 MFCC: librosa's recipe with n_fft = win_length, then normalisation.

    The steps of `librosa.feature.mfcc` (centred zero-padded frames, Hann window, float64 FFT rounded
    to complex64, its float32 power, mel filterbank, dB with an 80 dB floor, orthonormal DCT-II)
    spelled out for one reason: librosa projects onto the filterbank with a BLAS matrix product, whose rounding depends on the
    BLAS thread count, so the same session gave different floats in a pool worker and in a thread of
    the parent. Here the projection is scipy's sparse product (a fixed-order multiply-add over each
    band's few non-zero weights, no BLAS) and the transforms are single-threaded pocketfft, so a part
    is bit-identical wherever its task ran. The sparse product, the filterbank kept per process and
    the spectrum computed in cache-sized blocks also make it faster than librosa (bench/mfcc_speed.py).
    The power spectrum is librosa's to the bit; only the order of the float32 sums in the projection
    differs, so it equals `librosa.feature.mfcc` within float32 rounding (a few ulp of the largest
    coefficient; tests/features/test_audio.py, bench/mfcc_speed.py).
    """
    import librosa
    import scipy.fft

    win = round(config.win_s * config.sample_rate)
    hop = round(config.hop_s * config.sample_rate)
    analysis = mel_analysis(config.sample_rate, win, config.n_mels)
    padded = np.pad(samples, win // 2)  # librosa's center=True, pad_mode="constant"
    if len(padded) < win:
        raise AudioFeatureError(f"{len(samples)} samples: too short for a {win}-sample analysis window")
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop]  # (T, win), a view
    power = np.empty((win // 2 + 1, len(frames)), dtype=np.float32)  # (bins, T), rows contiguous for the product
    for start in range(0, len(frames), STFT_BLOCK):
        spectrum = scipy.fft.rfft(frames[start : start + STFT_BLOCK] * analysis.window, axis=1)
        power[:, start : start + STFT_BLOCK] = (np.abs(spectrum.astype(np.complex64)) ** 2).T
    log_mel = librosa.power_to_db(analysis.filterbank @ power)
    coefficients = scipy.fft.dct(log_mel, axis=0, type=2, norm="ortho")[: config.n_mfcc].T
    if config.normalize == "session":
        coefficients = session_normalise(coefficients)
    return np.ascontiguousarray(coefficients, dtype=np.float32)


def session_normalise(frames: np.ndarray) -> np.ndarray:
    """(frames, n) -> each column minus its session mean, over its session standard deviation (+eps)."""
    return (frames - frames.mean(axis=0)) / (frames.std(axis=0) + NORMALIZE_EPS)


def running_normalise(frames: np.ndarray) -> np.ndarray:
    """(frames, n) -> frame k minus the mean of frames 0..k, over their standard deviation (+eps):
    the causal form of `session_normalise` (cumulative sums in float64; frame 0 becomes 0)."""
    x = frames.astype(np.float64)
    count = np.arange(1, len(x) + 1, dtype=np.float64)[:, None]
    mean = np.cumsum(x, axis=0) / count
    variance = np.maximum(np.cumsum(x * x, axis=0) / count - mean * mean, 0.0)
    return np.ascontiguousarray((x - mean) / (np.sqrt(variance) + NORMALIZE_EPS), dtype=np.float32)


def delayed(samples: np.ndarray, delay: int) -> np.ndarray:
    """The signal `delay` samples later, as long as before (zeros first): an analysis of it is causal
    when `delay` covers how far the analysis of a frame reaches past the frame's slot."""
    if delay <= 0:
        return samples
    return np.ascontiguousarray(np.concatenate([np.zeros(delay, samples.dtype), samples[: max(len(samples) - delay, 0)]]))


def analysis_delay(config: MfccOptions) -> int:
    """Samples by which frame n of a centred analysis window reaches past its slot [n*hop, (n+1)*hop)."""
    win = round(config.win_s * config.sample_rate)
    hop = round(config.hop_s * config.sample_rate)
    return max(0, (win - win // 2) - hop)


def causal_mfcc(samples: np.ndarray, config: MfccOptions) -> np.ndarray:
    """(frames, n_mfcc) float32, as many frames as the batch MFCC of `samples`; frame n depends on the
    samples before (n + 1) * hop only."""
    raw = mfcc(delayed(samples, analysis_delay(config)), config.model_copy(update={"normalize": "none"}))
    return running_normalise(raw) if config.normalize == "session" else raw


def session_mfcc(
    path: Path, start_s: float, end_s: float, config: MfccOptions
) -> np.ndarray:
    """MFCC of one session window of a recording (recording seconds in, session frames out)."""
    return mfcc(read_window(path, start_s, end_s, config.sample_rate), config)


class MfccExtractor(FeatureExtractor[MfccOptions]):
    """Built-in `mfcc`: (frames, n_mfcc) float32 per session, options `features.extractors.mfcc`."""

    name = "mfcc"
    options = MfccOptions
    columns = ("mfcc",)
    modality = "audio"
    description = (
        "`mfcc`: MFCC frames (10 ms hop) of the session window, normalised per session: the mean and variance "
        "are those of the whole session, so a frame's values depend on the session's later audio too (fine for "
        "offline training and evaluation; `edu-data predict` on raw media uses running statistics instead)."
    )

    def features(self, settings: MfccOptions, *, width: int | None = None) -> datasets.Features:
        from datasets import Array2D, Features

        return Features({"mfcc": Array2D(shape=(None, settings.n_mfcc), dtype="float32")})

    def extract(self, session: SessionInput, settings: MfccOptions) -> dict[str, Any]:
        if session.audio_path is None:
            raise AudioFeatureError(f"session {session.session_id}: no audio file")
        return {"mfcc": session_mfcc(Path(session.audio_path), session.start_s, session.end_s, settings)}

    def period_s(self, settings: MfccOptions, column: str) -> float | None:
        return settings.hop_s

    def extract_causal(self, session: SessionInput, settings: MfccOptions, *, step_of: StepOf) -> dict[str, Any]:
        if session.audio_path is None:
            raise AudioFeatureError(f"session {session.session_id}: no audio file")
        return {"mfcc": causal_mfcc(read_window(Path(session.audio_path), session.start_s, session.end_s, settings.sample_rate), settings)}

    def missing(self, settings: MfccOptions, features: datasets.Features) -> dict[str, Any]:
        return {"mfcc": np.zeros((0, settings.n_mfcc), np.float32)}

    def check(self, row: Mapping[str, pa.Scalar], duration_s: float) -> Iterator[tuple[str, str]]:
        mfcc = matrix_of(row["mfcc"])
        if mfcc.shape[0] == 0:
            yield "shape", "mfcc has no frames"
        elif not np.isfinite(mfcc).all():
            yield "finite", f"mfcc has {int((~np.isfinite(mfcc)).sum())} non-finite values"
