"""Nothing in the report is chosen by a test score: which models a table, a figure or a claim
shows, and in which order, must not change when the test metrics do.

Two ways to catch a selection on test: (1) permute the test metrics between the runs and check
every choice stays; (2) hand the choice code results whose `test` entry raises when read. The old
Fig. 4 rule (`max(..., key=summary("macro_f1"))`) fails both.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from edu_emotionnet import figures, runs
from edu_emotionnet.report import write_report
from edu_emotionnet.runs import collect_runs

from tests.model.fabricated_runs import write_run

LABELS = np.arange(24) % 4
#: name -> (variant, wrong test sessions); Fig. 4's default is the run of the arch holding the registry's
#: `figure_4` role (hybrid_fusion), here named "hf" so no choice can lean on a run name.
RUNS = {"edu_emotionnet": ("edu_emotionnet.yaml", 3), "hf": ("baseline_hybrid_fusion.yaml", 6),
        "late_fusion": ("baseline_late_fusion.yaml", 2), "audio_only": ("baseline_audio.yaml", 9),
        "no_mie": ("ablation_no_mie.yaml", 5)}


def wrong_on(count: int) -> np.ndarray:
    predicted = LABELS.copy()
    predicted[:count] = (LABELS[:count] + 1) % 4
    return predicted


def write_world(root: Path) -> Path:
    for name, (variant, wrong) in RUNS.items():
        for seed in (0, 1):
            write_run(root / name, variant, seed, LABELS, wrong_on(wrong + seed), data=root / "dataset", name=name,
                      weights=[np.tile([0.25, 0.5, 0.25], (4, 1))] * len(LABELS) if name == "edu_emotionnet" else None)
    return root


def permute_test_metrics(root: Path) -> None:
    """Rotate the `test` and `robustness` entries of the non-full runs: the best baseline becomes the worst."""
    names = [n for n in RUNS if n != "edu_emotionnet"]
    for seed in (0, 1):
        paths = [root / n / f"seed{seed}" / "results.json" for n in names]
        results = [json.loads(p.read_text()) for p in paths]
        rotated = results[1:] + results[:1]
        for path, result, other in zip(paths, results, rotated, strict=True):
            result["test"], result["robustness"] = other["test"], other["robustness"]
            path.write_text(json.dumps(result))


def choices(report_md: str) -> dict[str, Any]:
    """Every model choice a report makes: Fig. 4's pair, the rows of each table, the claims' lines."""
    return {
        "fig4": re.findall(r"Fig\. 4[^\n]*", report_md),
        "rows": re.findall(r"^\| ([\w ]+?) \|", report_md, flags=re.M),
        "claims": re.findall(r"^\| (\([a-e]\)[^|]*)\|", report_md, flags=re.M),
    }


@pytest.mark.slow
def test_permuting_test_metrics_changes_no_choice(tmp_path: Path) -> None:
    root = write_world(tmp_path / "runs")
    before = choices(write_report([root], tmp_path / "before", resamples=200).read_text())
    best_before = max((g for g in collect_runs([root]) if g.name not in ("edu_emotionnet", "no_mie")), key=lambda g: g.summary("macro_f1")[0])
    permute_test_metrics(root)
    after = choices(write_report([root], tmp_path / "after", resamples=200).read_text())
    best_after = max((g for g in collect_runs([root]) if g.name not in ("edu_emotionnet", "no_mie")), key=lambda g: g.summary("macro_f1")[0])
    assert best_before.name != best_after.name  # the permutation does move the test ranking
    assert before == after
    caption = "Fig. 4: per-class F1 on the test split, Edu-EmotionNet against HybridFusion (run hf)"
    assert caption in [line.split(";")[0] for line in before["fig4"]]  # the pair the validation split chose


class Poisoned(dict):
    """A results.json whose test metrics must not be read."""

    def __getitem__(self, key: str) -> Any:
        if key in ("test", "robustness"):
            raise AssertionError(f"a choice read the {key!r} metrics")
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        if key in ("test", "robustness"):
            raise AssertionError(f"a choice read the {key!r} metrics")
        return super().get(key, default)


def test_choices_never_read_test_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_world(tmp_path / "runs")
    monkeypatch.setattr(runs.json, "loads", lambda text: Poisoned(json.JSONDecoder().decode(text)))
    groups = collect_runs([root])  # grouping and order read names, archs and options only
    assert groups[0].name == "edu_emotionnet"
    drawn: list[tuple[str, ...]] = []
    # The drawing itself shows test metrics; the choice of what to draw must not read them.
    monkeypatch.setattr(figures, "modality_weights", lambda full, path, truth, data: drawn.append(("fig3", full.name)) or True)
    monkeypatch.setattr(figures, "per_class_f1", lambda full, other, path: drawn.append(("fig4", full.name, other.name)))
    monkeypatch.setattr(figures, "missing_rate", lambda groups, path: drawn.append(("fig5", *(g.name for g in groups))))
    monkeypatch.setattr(figures, "loss_curves", lambda full, path: drawn.append(("fig6", full.name)))
    figures.draw_all(groups, tmp_path)
    assert ("fig4", "edu_emotionnet", "hf") in drawn
    assert ("fig5", *(g.name for g in groups)) in drawn
    drawn.clear()
    _, notes = figures.draw_all([g for g in groups if g.name != "hf"], tmp_path)
    assert not any(d[0] == "fig4" for d in drawn)  # the registry's model is absent: no fallback to "the best"
    assert notes == ["Fig. 4 not drawn: no run of Fig. 4's model (hybrid_fusion) among the runs (audio_only, late_fusion, no_mie); name another with --baseline NAME"]
    _, notes = figures.draw_all(groups, tmp_path, baseline="hybrid_fusion")
    assert notes == ["Fig. 4 not drawn: no run named 'hybrid_fusion' among the runs (audio_only, hf, late_fusion, no_mie); name another with --baseline NAME"]
