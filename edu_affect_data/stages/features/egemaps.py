"""Built-in extractor `egemaps`: the 25 eGeMAPS low-level descriptors of the session audio, every 10 ms.

eGeMAPS (Eyben et al., "The Geneva Minimalistic Acoustic Parameter Set (GeMAPS) for Voice Research
and Affective Computing", IEEE TAC 2016) is the affective-computing field's standard acoustic set:
loudness, spectral slopes and flux, MFCC 1-4, F0 (semitones), jitter, shimmer, HNR, H1-H2, H1-A3,
and F1-F3 frequency, bandwidth and level. The LLDs come from openSMILE (`opensmile` on PyPI, the
eGeMAPSv02 configuration it ships; runs offline) on the session window read like the MFCC's
(`mfcc.read_window`, resampled to `sample_rate`). Frame n starts at n * 10 ms; openSMILE emits
frames whose 50 ms window fits the input, so a window of L seconds has round(L / 10 ms) - 4 rows.
Per-session normalisation (as for MFCC) is the default, because the descriptors' units differ by
orders of magnitude (dB, Hz, semitones, ratios).

Licence: openSMILE is distributed under audEERING's research licence: free for non-commercial
use (research, teaching, personal use) and for commercial research that is not product development;
any other commercial use needs a licence from audEERING GmbH (docs/features.md, "eGeMAPS").
It is an optional dependency: `pip install 'edu-affect-data[egemaps]'`.

Causal form (`extract_causal`): openSMILE's frame n reads the audio up to 60 ms past its start
(the 60 ms pitch window; the 3-frame smoothing stays inside it), so the descriptors are computed
on the signal delayed by `CAUSAL_DELAY_S` (60 ms): frame n then depends on the audio before the end
of its own 10 ms slot only (tests/features/test_egemaps.py changes the audio after a cut and finds
exactly the frames whose slot ends after it changed), then normalised with running statistics.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.stages.features.extractor import (
    ExtractorError,
    FeatureExtractor,
    SessionInput,
    StepOf,
    matrix_of,
)
from edu_affect_data.stages.features.mfcc import (
    AudioFeatureError,
    delayed,
    read_window,
    running_normalise,
    session_normalise,
)

if TYPE_CHECKING:
    import datasets

#: eGeMAPSv02's LLD frame step, seconds (fixed by the configuration openSMILE ships).
PERIOD_S = 0.010
#: Its low-level descriptors per frame.
N_DESCRIPTORS = 25
#: Frames fewer than round(duration / PERIOD_S): openSMILE emits only frames whose 50 ms window fits.
EDGE_FRAMES = 4
#: How far the causal form delays the signal, seconds: undelayed, a change of the audio at time T
#: changes frame round(T / 10 ms) - 6 on (measured); delayed by 60 ms, frame n ends where its slot ends.
CAUSAL_DELAY_S = 0.060


class EgemapsOptions(StrictModel):
    """`features.extractors.egemaps`: the eGeMAPSv02 low-level descriptors (25 every 10 ms)."""

    sample_rate: int = Field(16000, gt=0, description="Audio is resampled to this rate (Hz) before openSMILE.")
    normalize: Literal["session", "none"] = Field("session", description="Per-session mean and variance normalisation of each descriptor.")


#: The openSMILE front end, one per worker process (never pickled with the extractor).
_SMILES: dict[str, Any] = {}


def _smile() -> Any:
    try:
        import opensmile
    except ImportError as exc:
        raise ExtractorError(
            "feature extractor 'egemaps' needs openSMILE: pip install 'edu-affect-data[egemaps]' "
            "(audEERING research licence: non-commercial use; see docs/features.md)"
        ) from exc
    if "eGeMAPSv02" not in _SMILES:
        _SMILES["eGeMAPSv02"] = opensmile.Smile(
            feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.LowLevelDescriptors
        )
    return _SMILES["eGeMAPSv02"]


def egemaps_lld(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """(frames, 25) float32 eGeMAPSv02 LLDs of `samples`, frame n starting at n * 10 ms."""
    frames = _smile().process_signal(samples, sample_rate).to_numpy(dtype=np.float32)
    if frames.shape[1] != N_DESCRIPTORS:
        raise ExtractorError(f"openSMILE's eGeMAPSv02 gave {frames.shape[1]} descriptors per frame, expected {N_DESCRIPTORS}")
    return np.ascontiguousarray(frames)


class EgemapsExtractor(FeatureExtractor[EgemapsOptions]):
    """Built-in `egemaps`: (frames, 25) float32 per session, options `features.extractors.egemaps`."""

    name = "egemaps"
    options = EgemapsOptions
    columns = ("egemaps",)
    modality = "audio"
    description = (
        "`egemaps`: the 25 eGeMAPSv02 low-level descriptors (openSMILE; Eyben et al. 2016) every 10 ms of the session "
        "window, frame n starting at n x 10 ms, normalised per session by default (offline; `edu-data predict` on raw "
        "media uses running statistics on the signal delayed 60 ms instead)."
    )

    def features(self, settings: EgemapsOptions, *, width: int | None = None) -> datasets.Features:
        from datasets import Array2D, Features

        return Features({"egemaps": Array2D(shape=(None, N_DESCRIPTORS), dtype="float32")})

    def period_s(self, settings: EgemapsOptions, column: str) -> float | None:
        return PERIOD_S

    def _samples(self, session: SessionInput, settings: EgemapsOptions) -> np.ndarray:
        if session.audio_path is None:
            raise AudioFeatureError(f"session {session.session_id}: no audio file")
        return read_window(Path(session.audio_path), session.start_s, session.end_s, settings.sample_rate)

    def extract(self, session: SessionInput, settings: EgemapsOptions) -> dict[str, Any]:
        frames = egemaps_lld(self._samples(session, settings), settings.sample_rate)
        if settings.normalize == "session" and len(frames):
            # In float64: F0 in semitones sits near 35 with a spread of a few tenths, where float32
            # sums lose the mean's third digit.
            frames = session_normalise(frames.astype(np.float64))
        return {"egemaps": np.ascontiguousarray(frames, dtype=np.float32)}

    def extract_causal(self, session: SessionInput, settings: EgemapsOptions, *, step_of: StepOf) -> dict[str, Any]:
        samples = self._samples(session, settings)
        frames = egemaps_lld(delayed(samples, round(CAUSAL_DELAY_S * settings.sample_rate)), settings.sample_rate)
        if settings.normalize == "session" and len(frames):
            frames = running_normalise(frames)
        return {"egemaps": np.ascontiguousarray(frames, dtype=np.float32)}

    def missing(self, settings: EgemapsOptions, features: datasets.Features) -> dict[str, Any]:
        return {"egemaps": np.zeros((0, N_DESCRIPTORS), np.float32)}

    def check(self, row: Mapping[str, pa.Scalar], duration_s: float) -> Iterator[tuple[str, str]]:
        """25 descriptors per frame, finite, and as many frames as openSMILE gives for the session's length."""
        frames = matrix_of(row["egemaps"])
        expected = max(0, round(duration_s / PERIOD_S) - EDGE_FRAMES)
        if frames.shape[0] == 0:
            yield "shape", "egemaps has no frames"
        elif frames.shape[1] != N_DESCRIPTORS:
            yield "shape", f"egemaps has {frames.shape[1]} descriptors per frame, expected {N_DESCRIPTORS}"
        elif abs(frames.shape[0] - expected) > 1:
            yield "shape", f"egemaps has {frames.shape[0]} frames for {duration_s:.3f} s, expected {expected} (10 ms, less {EDGE_FRAMES})"
        elif not np.isfinite(frames).all():
            yield "finite", f"egemaps has {int((~np.isfinite(frames)).sum())} non-finite values"
