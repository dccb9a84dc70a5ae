"""Evaluation metrics, robustness masks, the report's tables and figures."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from edu_emotionnet.batch import Batch
from edu_emotionnet.checkpoint import load_trained
from edu_emotionnet.config import EvalConfig, load_train_config
from edu_emotionnet.data import session_datasets
from edu_emotionnet.distributed import DistContext
from edu_emotionnet.evaluate import (
    TEST_OUTPUTS,
    classification_metrics,
    evaluate_model,
    shard_loader,
)
from edu_emotionnet.report import build_tables
from edu_emotionnet.robustness import apply_drop, kept_steps
from edu_emotionnet.runs import collect_runs
from torch.utils.data import Dataset as TorchDataset
from typer.testing import CliRunner

from edu_affect_data.cli import app


def test_metrics_on_a_known_confusion() -> None:
    metrics = classification_metrics(np.array([0, 0, 1, 2, 3, 3]), np.array([0, 1, 1, 2, 3, 0]))
    assert metrics["accuracy"] == 4 / 6
    assert metrics["confusion_matrix"][0] == [1, 1, 0, 0]
    assert metrics["per_class_f1"]["Bored"] == 1.0
    assert abs(metrics["macro_f1"] - np.mean(list(metrics["per_class_f1"].values()))) < 1e-12


def test_drop_masks_are_fixed_by_seed_and_keep_one_modality() -> None:
    for i in range(200):
        keep = kept_steps(0, "modality", 0.6, f"s{i}", 7)
        assert keep.any(axis=0).all() and (keep == keep[:, :1]).all()
        assert np.array_equal(keep, kept_steps(0, "modality", 0.6, f"s{i}", 7))
    rate = 1 - np.mean([kept_steps(3, "timestep", 0.4, f"s{i}", 10).mean() for i in range(300)])
    assert 0.35 < rate < 0.45


def test_timestep_drop_masks_inputs_of_dropped_steps_only() -> None:
    batch = Batch(labels=torch.zeros(1, dtype=torch.long), n_steps=torch.tensor([3]),
                  audio=torch.zeros(1, 300, 40), audio_mask=torch.ones(1, 300, dtype=torch.bool), session_ids=("x",))
    dropped = apply_drop(batch, "timestep", 0.5, 1, 1.0, 0.010)
    keep = kept_steps(1, "timestep", 0.5, "x", 3)[0]
    for step in range(3):
        assert bool(dropped.audio_mask[0, step * 100 : (step + 1) * 100].all()) == keep[step]
        assert bool(dropped.audio_mask[0, step * 100 : (step + 1) * 100].any()) == keep[step]
    assert apply_drop(batch, "timestep", 0.0, 1, 1.0, 0.010) is batch


@pytest.mark.slow
def test_evaluate_command_rewrites_results(trained_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    before = json.loads((run / "results.json").read_text())
    result = CliRunner().invoke(app, ["evaluate", str(run)])
    assert result.exit_code == 0, result.output
    after = json.loads((run / "results.json").read_text())
    assert after["test"] == before["test"]  # same best checkpoint, same masks: same numbers
    assert "modality drop" in result.output


class CountingReads(TorchDataset):
    """A split that counts how often each session is read."""

    def __init__(self, inner: TorchDataset) -> None:
        self.inner = inner
        self.reads: Counter[int] = Counter()

    def __len__(self) -> int:
        return len(self.inner)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        self.reads[index] += 1
        return self.inner[index]


@pytest.mark.slow
def test_streamed_evaluation_reads_each_test_session_once_whatever_the_batching(trained_run: Path, tmp_path: Path) -> None:
    trained = load_trained(trained_run)
    config = trained.config.model_copy(update={"eval": EvalConfig(missing_rates=[0.0, 0.3, 0.6])})
    assert config.data is not None
    datasets, _ = session_datasets(config.data, config.model, config.cache_dir)
    evaluated = []
    for batch_size in (5, 1):
        split = CountingReads(datasets["test"])
        loader = shard_loader(split, batch_size, DistContext.single())
        evaluated.append(evaluate_model(trained.model, loader, config, DistContext.single(), tmp_path))
        # Test and the whole sweep (2 kinds x 3 rates) in one pass: every session read exactly once.
        assert sorted(split.reads.items()) == [(i, 1) for i in range(len(split))]
    by_five, by_one = evaluated
    assert by_five is not None and by_one is not None
    assert {k: v for k, v in by_five["test"].items() if k != "loss"} == {k: v for k, v in by_one["test"].items() if k != "loss"}
    assert by_five["test"]["loss"] == pytest.approx(by_one["test"]["loss"], rel=1e-6)
    assert by_five["robustness"] == by_one["robustness"]
    trained_results = json.loads((trained_run / "results.json").read_text())
    assert by_five["test"]["confusion_matrix"] == trained_results["test"]["confusion_matrix"]
    # The outputs carry each test session's speaker, read from the dataset (planted: test_spk<index % 5>).
    with np.load(tmp_path / TEST_OUTPUTS) as z:
        speakers = dict(zip(z["session_ids"].tolist(), z["speaker_ids"].tolist(), strict=True))
    assert len(speakers) == len(split) and speakers == {s: f"test_spk{int(s.split('_')[1]) % 5}" for s in speakers}


@pytest.mark.slow
def test_report_tables_and_figures(trained_run: Path, make_config, tmp_path: Path) -> None:
    from edu_emotionnet.train import train_seeds

    runs = tmp_path / "runs"
    shutil.copytree(trained_run, runs / "edu_emotionnet" / "seed0")
    train_seeds(make_config("baseline_audio.yaml", train__epochs=1), runs / "audio_only", [0, 1])
    train_seeds(make_config("ablation_no_mie.yaml", train__epochs=1), runs / "no_mie", [0])
    groups = collect_runs([runs])
    assert groups[0].name == "edu_emotionnet"
    tables = build_tables(groups)
    assert set(tables) == {"I", "II", "III"}
    assert "| Audio-only | audio_only | 2 |" in tables["II"] and "| Edu-EmotionNet -MIE | no_mie | 1 |" in tables["III"]
    assert "no_mie" not in tables["II"] and tables["II"].splitlines()[-1].startswith("| Edu-EmotionNet | edu_emotionnet | 1 |")
    result = CliRunner().invoke(app, ["report", str(runs), "--out", str(tmp_path / "report"), "--baseline", "audio_only"])
    assert result.exit_code == 0, result.output
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| edu_emotionnet vs audio_only (baseline) | 1 |" in report  # one seed in common
    assert "not computed (1 paired seed: the t-test needs at least 2)" in report
    assert "## Paper claims on synthetic data" in report and "not evaluated: no truth file given" in report
    sizes = {g.name: g.results[0]["parameters"] for g in groups}
    assert "## Model sizes" in report
    assert f"| audio_only | audio_only | {sizes['audio_only']:,} |" in report
    ratio = sizes["no_mie"] / sizes["edu_emotionnet"]
    assert f"| no_mie | edu_emotionnet | {sizes['no_mie']:,} |" in report and f" {ratio:.2f} |" in report
    for figure in ("fig3_modality_weights.png", "fig4_per_class_f1.png", "fig5_missing_rate.png", "fig6_loss_curves.png"):
        assert f"({figure})" in report
        assert (tmp_path / "report" / figure).read_bytes()[:4] == b"\x89PNG"


def test_tables_place_runs_by_their_registry_entry_and_options(tmp_path: Path) -> None:
    from tests.model.fabricated_runs import write_run

    labels = np.arange(8) % 4
    for name, variant in (("no_cmaa", "ablation_no_cmaa.yaml"), ("mult", "baseline_mult.yaml"),
                          ("full", "edu_emotionnet.yaml"), ("audio", "baseline_audio.yaml")):
        write_run(tmp_path / "runs" / name, variant, 0, labels, labels, data=tmp_path / "dataset", name=name)
    groups = collect_runs([tmp_path / "runs"])
    assert [g.name for g in groups] == ["full", "audio", "mult", "no_cmaa"]  # full model first, then as found
    tables = build_tables(groups)
    rows = {key: [line.split(" | ")[0].lstrip("| ") for line in table.splitlines()[2:]] for key, table in tables.items()}
    assert rows == {"I": ["Edu-EmotionNet", "Audio-only", "MulT", "Edu-EmotionNet -CMAA"],
                    "II": ["Audio-only", "MulT", "Edu-EmotionNet"],  # unimodal, fusion, the full model last
                    "III": ["Edu-EmotionNet", "Edu-EmotionNet -CMAA"]}
    assert set(build_tables([g for g in groups if g.name in ("mult", "no_cmaa")])) == {"I"}  # one fusion model: nothing to compare


def test_the_size_matched_mult_row_is_named_so_and_shows_its_parameter_ratio(tmp_path: Path) -> None:
    """Beside the paper-depth MulT: its own display name in Tables I-II and its size relative to the
    full model in the report's table of sizes (counts as the trainer stores them: here the paper
    config's, from the model-size tooling)."""
    from edu_emotionnet.model_size import parameter_counts
    from edu_emotionnet.report import model_sizes

    from tests.helpers.model import planted_inputs
    from tests.model.fabricated_runs import CONFIGS, write_run

    labels = np.arange(8) % 4
    variants = {"full": "edu_emotionnet.yaml", "mult": "baseline_mult.yaml", "mult_sm": "baseline_mult_size_matched.yaml"}
    counts = parameter_counts([load_train_config(CONFIGS / v) for v in variants.values()], planted_inputs(384))
    for (name, variant), count in zip(variants.items(), counts, strict=True):
        run = write_run(tmp_path / "runs" / name, variant, 0, labels, labels, data=tmp_path / "dataset", name=name)
        results = json.loads((run / "results.json").read_text())
        (run / "results.json").write_text(json.dumps({**results, "parameters": count.parameters}))
    groups = collect_runs([tmp_path / "runs"])
    tables = build_tables(groups)
    assert [line.split(" | ")[0].lstrip("| ") for line in tables["I"].splitlines()[2:]] == ["Edu-EmotionNet", "MulT", "MulT (size-matched)"]
    full, mult, matched = (c.parameters for c in counts)
    sizes = model_sizes(groups, next(g for g in groups if g.is_full_model))
    assert f"| mult_sm | mult_size_matched | {matched:,} | {matched / 1e6:.2f} M | {matched / full:.2f} |" in sizes
    assert f"| mult | mult | {mult:,} | {mult / 1e6:.2f} M | {mult / full:.2f} |" in sizes
    assert f"{matched / full:.2f}" == "1.00" and f"{mult / full:.2f}" == "2.55"
