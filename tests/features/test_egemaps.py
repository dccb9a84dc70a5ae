"""The `egemaps` extractor: openSMILE's 25 eGeMAPSv02 descriptors every 10 ms, its causal form, its checks."""

from __future__ import annotations

import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
import soundfile as sf

from edu_affect_data.config import ConfigError, load_config
from edu_affect_data.stages.features import egemaps
from edu_affect_data.stages.features.egemaps import (
    CAUSAL_DELAY_S,
    N_DESCRIPTORS,
    PERIOD_S,
    EgemapsExtractor,
    EgemapsOptions,
)
from edu_affect_data.stages.features.extractor import ExtractorError, SessionInput
from edu_affect_data.stages.features.registry import get_extractor
from edu_affect_data.stages.features.schema import rows_to_table

RATE = 16000
#: eGeMAPSv02's F0 descriptor: semitones above 27.5 Hz.
F0 = 10


def _voice(seconds: float, f0: float = 200.0, seed: int = 0) -> np.ndarray:
    """A vowel-like signal: a 200 Hz harmonic series with a slow loudness swell and a little noise."""
    t = np.arange(round(seconds * RATE)) / RATE
    harmonics = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8))
    noise = np.random.default_rng(seed).normal(0, 0.01, t.size)
    return (0.2 * harmonics * (1.2 + np.sin(2 * np.pi * 0.7 * t)) + noise).astype(np.float32)


def _session(path: Path, start: float, end: float) -> SessionInput:
    return SessionInput("s1", "synth", "r1", start, end, str(path), None, "full", "", ())


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("egemaps") / "voice.wav"
    sf.write(path, _voice(3.0), RATE, subtype="FLOAT")
    return path


def test_it_is_a_built_in_audio_extractor_with_strict_options() -> None:
    extractor = get_extractor("egemaps")
    assert isinstance(extractor, EgemapsExtractor) and extractor.modality == "audio" and extractor.columns == ("egemaps",)
    options = EgemapsOptions()
    assert extractor.features(options) == datasets.Features({"egemaps": datasets.Array2D((None, N_DESCRIPTORS), "float32")})
    assert extractor.period_s(options, "egemaps") == PERIOD_S == 0.010
    config = load_config(None, {"features.extractors.egemaps": {"normalize": "none"}})
    assert list(config.features.extractors) == ["mfcc", "frames", "text", "egemaps"]
    with pytest.raises(ConfigError, match=r"features\.extractors\.egemaps\.hop_s"):
        load_config(None, {"features.extractors.egemaps": {"hop_s": 0.02}})


def test_25_descriptors_every_10_ms_of_the_window_with_the_voice_pitch(wav: Path) -> None:
    raw = EgemapsExtractor().extract(_session(wav, 0.5, 2.5), EgemapsOptions(normalize="none"))["egemaps"]
    assert raw.dtype == np.float32 and raw.shape == (round(2.0 / PERIOD_S) - egemaps.EDGE_FRAMES, N_DESCRIPTORS)
    assert np.isfinite(raw).all()
    semitones = 12 * np.log2(200.0 / 27.5)  # eGeMAPS' F0 scale
    voiced = raw[:, F0] > 0
    assert voiced.mean() > 0.9 and np.median(raw[voiced, F0]) == pytest.approx(semitones, abs=0.5)
    normalised = EgemapsExtractor().extract(_session(wav, 0.5, 2.5), EgemapsOptions())["egemaps"]
    varying = raw.std(axis=0) > 1e-3
    np.testing.assert_allclose(normalised[:, varying].mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(normalised[:, varying].std(axis=0), 1, atol=1e-3)


@pytest.mark.parametrize("cut_s", [0.73, 1.0, 1.555])
def test_the_causal_form_frames_ignore_the_audio_after_their_slot(tmp_path: Path, cut_s: float) -> None:
    """Frame n of the causal form depends on the audio before (n + 1) x 10 ms only: changing the audio
    from `cut_s` on leaves every frame whose slot ends by then as it was, and changes the next one."""
    samples = _voice(2.5, seed=1)
    changed = samples.copy()
    cut = round(cut_s * RATE)
    changed[cut:] = np.random.default_rng(2).normal(0, 0.3, samples.size - cut).astype(np.float32)
    paths = [tmp_path / "a.wav", tmp_path / "b.wav"]
    for path, signal in zip(paths, (samples, changed), strict=True):
        sf.write(path, signal, RATE, subtype="FLOAT")
    extractor, options = EgemapsExtractor(), EgemapsOptions()
    a, b = (extractor.extract_causal(_session(p, 0.0, 2.5), options, step_of=np.floor)["egemaps"] for p in paths)
    assert a.shape == b.shape == extractor.extract(_session(paths[0], 0.0, 2.5), options)["egemaps"].shape
    finished = int(np.floor(cut_s / PERIOD_S + 1e-9))  # frames 0..finished-1 end by the cut
    np.testing.assert_array_equal(a[:finished], b[:finished])
    assert not np.array_equal(a[finished], b[finished])
    # The batch form normalises over the whole session: its first frame already hears the change.
    batch_a, batch_b = (extractor.extract(_session(p, 0.0, 2.5), options)["egemaps"] for p in paths)
    assert not np.array_equal(batch_a[0], batch_b[0])


def test_the_delay_is_the_least_that_makes_the_frames_causal(tmp_path: Path) -> None:
    """Undelayed, the frames hear 60 ms ahead: 10 ms less delay than `CAUSAL_DELAY_S` is not causal."""
    samples = _voice(2.0, seed=3)
    changed = samples.copy()
    changed[RATE:] = 0.0
    shorter = round((CAUSAL_DELAY_S - PERIOD_S) * RATE)
    a, b = (egemaps.egemaps_lld(egemaps.delayed(s, shorter), RATE) for s in (samples, changed))
    assert not np.array_equal(a[:100], b[:100])


def _row(frames: np.ndarray) -> dict:
    table = rows_to_table([{"egemaps": frames}], EgemapsExtractor().features(EgemapsOptions()))
    return {"egemaps": table.column("egemaps")[0]}


def test_validate_checks_frame_count_and_finite_values() -> None:
    extractor = EgemapsExtractor()
    good = np.zeros((round(2.0 / PERIOD_S) - 4, N_DESCRIPTORS), np.float32)
    assert list(extractor.check(_row(good), 2.0)) == []
    assert [c for c, _ in extractor.check(_row(good[:150]), 2.0)] == ["shape"]
    assert [c for c, _ in extractor.check(_row(good[:0]), 2.0)] == ["shape"]
    broken = good.copy()
    broken[3, 7] = np.nan
    assert [c for c, _ in extractor.check(_row(broken), 2.0)] == ["finite"]


def test_without_opensmile_the_error_names_the_install(monkeypatch: pytest.MonkeyPatch, wav: Path) -> None:
    monkeypatch.setitem(sys.modules, "opensmile", None)
    monkeypatch.setattr(egemaps, "_SMILES", {})
    with pytest.raises(ExtractorError, match=r"pip install 'edu-affect-data\[egemaps\]'.*non-commercial"):
        EgemapsExtractor().extract(_session(wav, 0.0, 1.0), EgemapsOptions())
