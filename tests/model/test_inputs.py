"""Inputs declared by the data: each encoder's column comes from `model.inputs`, its width from the
dataset's features and its frame period from the extractor that wrote it; a feature added from
outside the package (the RMS plugin of tests/features) becomes the audio input by config alone."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from edu_emotionnet.config import TrainConfig
from edu_emotionnet.data import DatasetFormatError, collate, session_datasets
from edu_emotionnet.inputs import InputSpec
from edu_emotionnet.streaming import StreamingPredictor, find_session, stream_item

from edu_affect_data.stages.features.registry import register_extractor, unregister_extractor
from tests.features.plugin_extractor import RmsExtractor
from tests.model.planted import build_config, write_card

WINDOW_S = 0.1


@pytest.fixture
def rms() -> Iterator[RmsExtractor]:
    extractor = register_extractor(RmsExtractor())
    yield extractor
    unregister_extractor(extractor.name)


def _with_rms(planted_dir: Path, out: Path, *, recorded: bool = True) -> Path:
    """The planted dataset plus the plugin's `rms_energy` column (one value per 100 ms, carrying the
    label) and a card recording `features.extractors.rms`, as a build with the plugin would publish it."""
    shutil.copytree(planted_dir, out)
    rng = np.random.default_rng(0)
    for shard in sorted((out / "data").glob("*.parquet")):
        table = pq.read_table(shard)
        features = datasets.Features.from_arrow_schema(table.schema)
        durations = np.asarray(table.column("end_s")) - np.asarray(table.column("start_s"))
        labels = np.asarray(table.column("label"))
        values = [(0.2 + 0.1 * label + rng.normal(0, 0.02, round(d / WINDOW_S))).astype(np.float32).tolist()
                  for d, label in zip(durations, labels, strict=True)]
        features["rms_energy"] = datasets.Sequence(datasets.Value("float32"))
        column = pa.array(values, pa.list_(pa.float32()))
        pq.write_table(table.append_column("rms_energy", column).cast(features.arrow_schema), shard)
    extractors = {"features.extractors.rms": {"window_s": WINDOW_S}} if recorded else {}  # in the card or not
    write_card(out, ("train", "validation", "test"), build_config(**extractors))
    return out


@pytest.mark.usefixtures("rms")
def test_the_audio_input_is_the_column_config_names_with_the_datas_width_and_period(
    make_config: Callable[..., TrainConfig], planted_dir: Path, tmp_path: Path
) -> None:
    data = _with_rms(planted_dir, tmp_path / "dataset")
    config = make_config("baseline_audio.yaml", data=str(data), model__inputs__audio="rms_energy")
    splits, inputs = session_datasets(data, config.model, None)
    assert inputs.specs == {"audio": InputSpec("rms_energy", 1, WINDOW_S)}
    item = splits["train"][0]
    assert item["audio"].shape[1] == 1 and (item["n_steps"] - 1) / WINDOW_S <= item["audio"].shape[0] <= item["n_steps"] / WINDOW_S
    mfcc_config = make_config("baseline_audio.yaml", data=str(data))
    assert session_datasets(data, mfcc_config.model, None)[1].specs == {"audio": InputSpec("mfcc", 40, 0.010)}


class _Untimed(RmsExtractor):
    """The plugin without a frame period: its column cannot be timed as an audio stream."""

    def period_s(self, settings, column):  # type: ignore[no-untyped-def]
        return None


def test_an_audio_column_missing_unowned_or_untimed_is_refused(
    make_config: Callable[..., TrainConfig], planted_dir: Path, tmp_path: Path
) -> None:
    config = make_config("baseline_audio.yaml", model__inputs__audio="rms_energy")
    with pytest.raises(DatasetFormatError, match=r"missing column\(s\) \['rms_energy'\].*model\.inputs\.audio is 'rms_energy'"):
        session_datasets(planted_dir, config.model, None)
    for extractor, recorded, message in (
        (RmsExtractor(), False, r"no extractor of frames, mfcc, text writes a column 'rms_energy' \(is its plugin installed\?\)"),
        (_Untimed(), True, r"column 'rms_energy' \(extractor 'rms'\) declares no frame period.*model\.inputs\.audio"),
    ):
        register_extractor(extractor)
        try:
            data = _with_rms(planted_dir, tmp_path / type(extractor).__name__, recorded=recorded)
            with pytest.raises(DatasetFormatError, match=message):
                session_datasets(data, config.model, None)
        finally:
            unregister_extractor("rms")


@pytest.mark.slow
@pytest.mark.usefixtures("rms")
def test_a_plugin_feature_trains_and_streams_as_the_audio_input_by_config_alone(
    make_config: Callable[..., TrainConfig], planted_dir: Path, tmp_path: Path
) -> None:
    from edu_emotionnet.checkpoint import load_trained
    from edu_emotionnet.train import train

    data = _with_rms(planted_dir, tmp_path / "dataset")
    run = tmp_path / "run"
    results = train(make_config("baseline_audio.yaml", data=str(data), model__inputs__audio="rms_energy",
                                model__audio__strides=[1, 1], train__epochs=8), run)
    assert results["inputs"] == {"audio": {"column": "rms_energy", "width": 1, "period_s": WINDOW_S}}
    assert results["test"]["macro_f1"] >= 0.6, results["test"]  # the planted level separates the classes; chance 0.25
    trained = load_trained(run)
    assert trained.model.encoder.encoders["audio"].convs[0].in_channels == 1  # type: ignore[index, union-attr]
    predictor = StreamingPredictor(run)
    assert predictor.incremental
    item = find_session(run, "test:2")
    with torch.no_grad():
        offline = trained.model(collate([item])).step_log_probs[0].exp()
    streamed = torch.tensor([list(step.probs.values()) for step in stream_item(predictor, item)])
    assert torch.allclose(streamed, offline, atol=1e-5)


def test_the_audio_inputs_suite_runs_what_its_names_say() -> None:
    """suite_audio_inputs.yaml: each variant rebased onto tiny_cpu keeps its arch, its audio column and its window."""
    from edu_emotionnet.experiments import load_suite

    from tests.model.conftest import CONFIGS

    runs = {c.name: (c.model.arch, c.model.inputs.audio, c.model.attention_window_s, c.model.d_model)
            for c in load_suite(CONFIGS / "suite_audio_inputs.yaml")}
    assert runs == {
        "edu_emotionnet": ("edu_emotionnet", "mfcc", 10.0, 32),
        "edu_emotionnet_egemaps": ("edu_emotionnet", "egemaps", 10.0, 32),
        "edu_emotionnet_no_window": ("edu_emotionnet", "mfcc", None, 32),
        "audio_only": ("audio_only", "mfcc", 10.0, 32),
        "audio_only_egemaps": ("audio_only", "egemaps", 10.0, 32),
    }
