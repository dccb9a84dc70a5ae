"""MFCC of a session window: equal to librosa on the same samples, window read exactly, normalised."""

from __future__ import annotations

import concurrent.futures as cf
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from edu_affect_data.core.parallel import local_pool
from edu_affect_data.stages.features.mfcc import (
    AudioFeatureError,
    MfccOptions,
    mfcc,
    read_window,
    session_mfcc,
)

#: float32 MFCC from the same samples may differ by rounding only (issue 24: at most 1e-4).
MFCC_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(5 * 16000) / 16000
    samples = (
        0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 0.5 * t)
        + 0.02 * rng.standard_normal(len(t))
    ).astype(np.float32)
    path = tmp_path_factory.mktemp("audio") / "rec.wav"
    sf.write(path, samples, 16000, subtype="FLOAT")
    return path, samples


@pytest.mark.slow
def test_mfcc_equals_librosa_on_the_window(wav: tuple[Path, np.ndarray]) -> None:
    path, samples = wav
    config = MfccOptions(normalize="none")
    ours = session_mfcc(path, 1.25, 3.75, config)
    window = samples[20000:60000]
    reference = librosa.feature.mfcc(
        y=window, sr=16000, n_mfcc=40, n_fft=400, hop_length=160, win_length=400, n_mels=40
    ).T
    assert ours.shape == reference.shape == (251, 40)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=MFCC_TOLERANCE, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("n_mels", [40, 128])  # 128 bands on a 400-point FFT: librosa leaves some empty
def test_mfcc_equals_librosa_for_any_filterbank(n_mels: int) -> None:
    rng = np.random.default_rng(1)
    samples = (0.1 * rng.standard_normal(3 * 16000) * np.sin(np.arange(3 * 16000) / 4000)).astype(np.float32)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # librosa: "Empty filters detected"
        reference = librosa.feature.mfcc(
            y=samples, sr=16000, n_mfcc=40, n_fft=400, hop_length=160, win_length=400, n_mels=n_mels
        ).T
        ours = mfcc(samples, MfccOptions(normalize="none", n_mels=n_mels))
    np.testing.assert_allclose(ours, reference, atol=MFCC_TOLERANCE, rtol=0)


@pytest.mark.slow
def test_mfcc_is_bit_identical_in_a_thread_and_in_a_pool_worker() -> None:
    """A part must not depend on where its task ran: a thread of this process (BLAS with its default
    threads) and a pool worker (BLAS pinned to one thread) give the same bytes."""
    rng = np.random.default_rng(2)
    clips = [(0.2 * rng.standard_normal(n)).astype(np.float32) for n in (4000, 16000 * 7 + 123, 16000 * 20)]
    config = MfccOptions()
    with cf.ThreadPoolExecutor(2) as threads:
        in_threads = list(threads.map(mfcc, clips, [config] * len(clips)))
    with local_pool(2) as pool:
        in_workers = list(pool.map(mfcc, clips, [config] * len(clips)))
    for here, there in zip(in_threads, in_workers, strict=True):
        assert here.dtype == there.dtype == np.float32
        assert here.tobytes() == there.tobytes()


def test_session_normalisation_gives_zero_mean_unit_variance(wav: tuple[Path, np.ndarray]) -> None:
    path, _ = wav
    normalised = session_mfcc(path, 0.0, 2.0, MfccOptions())
    raw = session_mfcc(path, 0.0, 2.0, MfccOptions(normalize="none"))
    np.testing.assert_allclose(normalised.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(normalised.std(axis=0), 1.0, atol=1e-3)
    np.testing.assert_allclose(normalised, (raw - raw.mean(0)) / (raw.std(0) + 1e-8), atol=1e-3)


def test_other_sample_rates_are_resampled(tmp_path: Path) -> None:
    t = np.arange(44100) / 44100
    path = tmp_path / "cd.wav"
    sf.write(path, (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 44100)
    assert read_window(path, 0.0, 1.0, 16000).shape == (16000,)


def test_window_beyond_the_file_names_the_file(wav: tuple[Path, np.ndarray]) -> None:
    path, _ = wav
    with pytest.raises(
        AudioFeatureError, match=r"rec\.wav: window 4\.000-6\.000 s is outside the file"
    ):
        session_mfcc(path, 4.0, 6.0, MfccOptions())


def test_a_session_opens_its_audio_file_once(wav: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    """The header and the window come from one open (`sf.info` + `sf.read` opened it twice)."""
    opened: list[str] = []
    original = sf.SoundFile.__init__

    def counting(self: sf.SoundFile, file: object, *args: object, **kwargs: object) -> None:
        opened.append(str(file))
        original(self, file, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sf.SoundFile, "__init__", counting)
    path, _ = wav
    session_mfcc(path, 0.5, 1.5, MfccOptions())
    assert opened == [str(path)]
