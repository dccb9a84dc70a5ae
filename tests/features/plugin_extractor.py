"""A feature extractor defined outside the package: RMS energy of the session's audio per window.

It is what a newcomer writes to add a feature: one `FeatureExtractor` subclass with its options
model, registered with `register_extractor` (or an `edu_affect_data.features` entry point), then
selected in `features.extractors` with its options as the value: `features.extractors.rms: {window_s: 0.1}`.
It declares its frame period and its causal form, so a run can read it as its audio input by
config alone (`model.inputs.audio: rms_energy`, tests/model/test_inputs.py) and `predict` can
compute it on raw media.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field

from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.stages.features.extractor import (
    FeatureExtractor,
    SessionInput,
    StepOf,
    finite_check,
)
from edu_affect_data.stages.features.mfcc import read_window


class RmsOptions(StrictModel):
    window_s: float = Field(0.1, gt=0, description="Length of one RMS window, seconds.")
    sample_rate: int = Field(16000, gt=0)


class RmsExtractor(FeatureExtractor[RmsOptions]):
    """`rms_energy`: root-mean-square amplitude of each whole `window_s` window of the session."""

    name = "rms"
    columns = ("rms_energy",)
    modality = "audio"
    options = RmsOptions
    description = "`rms_energy`: RMS amplitude of the session audio per `window_s` window (plugin, tests)."

    def features(self, settings: RmsOptions, *, width: int | None = None) -> Any:
        from datasets import Features, Sequence, Value

        return Features({"rms_energy": Sequence(Value("float32"))})

    def extract(self, session: SessionInput, settings: RmsOptions) -> dict[str, Any]:
        assert session.audio_path is not None
        samples = read_window(Path(session.audio_path), session.start_s, session.end_s, settings.sample_rate)
        size = round(settings.window_s * settings.sample_rate)
        windows = samples[: len(samples) // size * size].reshape(-1, size)
        return {"rms_energy": np.sqrt((windows.astype(np.float64) ** 2).mean(axis=1)).astype(np.float32)}

    def period_s(self, settings: RmsOptions, column: str) -> float | None:
        return settings.window_s

    def extract_causal(self, session: SessionInput, settings: RmsOptions, *, step_of: StepOf) -> dict[str, Any]:
        """Causal as extracted: window n is the audio of its own slot [n, n + 1) x window_s."""
        return self.extract(session, settings)

    def check(self, row: Mapping[str, pa.Scalar], duration_s: float) -> Iterator[tuple[str, str]]:
        yield from finite_check(row, self.columns)
        if any(v < 0 for v in row["rms_energy"].as_py()):
            yield "range", "rms_energy has negative values"
