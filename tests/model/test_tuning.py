"""The equal tuning budget: every run of a suite searches the same grid on validation, records it,
trains its seeds with the choice, and the report says what each model got."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from edu_emotionnet.config import TrainConfigError
from edu_emotionnet.experiments import load_suite, run_suite
from edu_emotionnet.runs import collect_runs
from edu_emotionnet.tuning import SearchConfig, render

from tests.model.conftest import CONFIGS


def test_the_grid_is_every_combination_in_order() -> None:
    search = SearchConfig(grid={"train.lr": [1e-3, 3e-4], "model.dropout": [0.1, 0.3]})
    assert search.points() == [{"train.lr": 1e-3, "model.dropout": 0.1}, {"train.lr": 1e-3, "model.dropout": 0.3},
                               {"train.lr": 3e-4, "model.dropout": 0.1}, {"train.lr": 3e-4, "model.dropout": 0.3}]
    with pytest.raises(ValueError, match="at least one value"):
        SearchConfig(grid={"train.lr": []})


@pytest.mark.slow
def test_every_model_gets_the_same_grid_chosen_on_validation(planted_dir: Path, tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"base: {CONFIGS / 'tiny_cpu.yaml'}\nruns: [{CONFIGS / 'edu_emotionnet.yaml'}, {CONFIGS / 'baseline_late_fusion.yaml'}]\n"
        "search: {grid: {train.lr: [1.0e-7, 0.003]}, seed: 5}\n"
    )
    overrides = {"data": str(planted_dir), "cache_dir": str(tmp_path / "cache"), "train.progress": False,
                 "train.epochs": 3, "train.batch_size": 8, "eval.missing_rates": [0.0]}
    assert [c.train.lr for c in load_suite(suite, overrides)] == [1e-3, 1e-3]  # tiny_cpu's, before the search
    out = tmp_path / "runs"
    run_suite(suite, out, [0], overrides, only=["late_fusion"])  # one process's share of the suite
    assert sorted(p.name for p in out.iterdir()) == ["late_fusion"]
    run_suite(suite, out, [0], overrides)  # the rest; late_fusion's finished trials and seed are reused
    for name in ("edu_emotionnet", "late_fusion"):
        record = json.loads((out / name / "search.json").read_text())
        scores = [t["best_val_macro_f1"] for t in record["trials"]]
        assert [t["point"] for t in record["trials"]] == [{"train.lr": 1e-7}, {"train.lr": 0.003}]
        assert record["chosen"] == record["trials"][scores.index(max(scores))]["point"]  # validation decides
        assert record["budget"] == {"trials": 2, "epochs": sum(t["epochs_run"] for t in record["trials"])}
        trained = json.loads((out / name / "seed0" / "results.json").read_text())
        assert trained["config"]["train"]["lr"] == record["chosen"]["train.lr"] and trained["seed"] == 0
        assert json.loads((out / name / "search" / "0" / "results.json").read_text())["seed"] == 5
    # lr 1e-7 cannot learn in 3 epochs: the search must not pick it
    assert json.loads((out / "edu_emotionnet" / "search.json").read_text())["chosen"] == {"train.lr": 0.003}
    groups = collect_runs([out])  # the trials are not runs of the report
    assert sorted((g.name, len(g.results)) for g in groups) == [("edu_emotionnet", 1), ("late_fusion", 1)]
    section = "\n".join(render(groups))
    assert section.startswith("Every model got the same grid.") and "| late_fusion | `train.lr` [1e-07, 0.003] (seed 5) | 2 (" in section


def test_only_a_run_the_suite_has_can_be_named(tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"base: {CONFIGS / 'tiny_cpu.yaml'}\nruns: [{CONFIGS / 'edu_emotionnet.yaml'}]\n")
    with pytest.raises(TrainConfigError, match=r"no run named late_fusion \(its runs: edu_emotionnet\)"):
        run_suite(suite, tmp_path / "runs", [0], {"data": str(tmp_path)}, only=["late_fusion"])
    assert not (tmp_path / "runs").exists()


def test_the_report_says_when_the_budget_was_not_equal(tmp_path: Path) -> None:
    import numpy as np

    from tests.model.fabricated_runs import write_run

    labels = np.arange(8) % 4
    for name, variant in (("edu_emotionnet", "edu_emotionnet.yaml"), ("late_fusion", "baseline_late_fusion.yaml")):
        write_run(tmp_path / "runs" / name, variant, 0, labels, labels, data=tmp_path)
    assert render(collect_runs([tmp_path / "runs"]))[0].startswith("No tuning search: every model ran with its suite's settings")
    (tmp_path / "runs" / "edu_emotionnet" / "search.json").write_text(json.dumps({
        "grid": {"train.lr": [1e-3]}, "seed": 0, "chosen": {"train.lr": 1e-3},
        "trials": [{"point": {"train.lr": 1e-3}, "best_val_macro_f1": 0.5, "epochs_run": 2}], "budget": {"trials": 1, "epochs": 2}}))
    section = render(collect_runs([tmp_path / "runs"]))
    assert section[0].startswith("**The budget was not equal**: not tuned: late_fusion.")
    assert "| late_fusion | – | – | not tuned | – |" in section
