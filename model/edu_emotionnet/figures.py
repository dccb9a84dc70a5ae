"""The report's figures (paper Fig. 3-6), drawn with matplotlib's Agg backend into PNG files.

Each PNG is written through `core.atomic` (a temporary sibling renamed over the target), so a
killed report leaves the previous figure or none, never a truncated one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from edu_affect_data.core.atomic import atomic_write
from edu_affect_data.core.vocabulary import CLASSES
from edu_emotionnet.evaluate import TEST_OUTPUTS
from edu_emotionnet.registry import models_with_role
from edu_emotionnet.robustness import KINDS
from edu_emotionnet.runs import ModelRuns
from edu_emotionnet.significance import bootstrap_mean_ci

MIN_SESSIONS_PER_STEP = 5
_KIND_TITLES = {"modality": "whole modalities dropped (one kept)", "timestep": "timesteps dropped (per modality)"}


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    plt = _pyplot()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120))
    plt.close(fig)


def modality_weights(full: ModelRuns, path: Path) -> bool:
    """Fig. 3: mean MIE weight per modality over time, 95% bootstrap interval over test sessions."""
    stacks, modalities = [], None
    for run_dir in full.run_dirs:
        outputs = np.load(run_dir / TEST_OUTPUTS)
        if bool(outputs["has_weights"]):
            stacks.append(outputs["weights"])
            modalities = [str(m) for m in outputs["modalities"]]
    if not stacks or modalities is None:
        return False
    horizon = max(s.shape[1] for s in stacks)
    weights = np.concatenate([np.pad(s, ((0, 0), (0, horizon - s.shape[1]), (0, 0)), constant_values=np.nan) for s in stacks])
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for m, name in enumerate(modalities):
        steps, mean, low, high = [], [], [], []
        for t in range(horizon):
            column = weights[:, t, m]
            column = column[~np.isnan(column)]
            if len(column) >= MIN_SESSIONS_PER_STEP:
                mu, lo, hi = bootstrap_mean_ci(column, seed=t * 7 + m)
                steps.append(t + 1)
                mean.append(mu)
                low.append(lo)
                high.append(hi)
        ax.plot(steps, mean, label=name)
        ax.fill_between(steps, low, high, alpha=0.25)
    ax.set(xlabel="step", ylabel="modality weight w_t", title=f"{full.name}: modality weights over time (95% bootstrap CI)")
    ax.legend()
    _save(fig, path)
    return True


def per_class_f1(full: ModelRuns, other: ModelRuns, path: Path) -> None:
    """Fig. 4: per-class F1 of the full model against one baseline (mean +- std over seeds)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(CLASSES))
    for offset, runs in ((-0.2, full), (0.2, other)):
        values = np.array([[r["test"]["per_class_f1"][c] for c in CLASSES] for r in runs.results])
        ax.bar(x + offset, values.mean(0), 0.4, yerr=values.std(0), capsize=3, label=runs.name)
    ax.set_xticks(x, CLASSES)
    ax.set(ylabel="F1 (test)", ylim=(0, 1.05), title="Per-class F1")
    ax.legend()
    _save(fig, path)


def missing_rate(groups: list[ModelRuns], path: Path) -> None:
    """Fig. 5: test accuracy against the missing rate, whole modalities and timesteps dropped."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(KINDS), figsize=(11, 4), sharey=True)
    for ax, kind in zip(axes, KINDS, strict=True):
        for runs in groups:
            curves = [[row["accuracy"] for row in r["robustness"][kind]] for r in runs.results]
            rates = [100 * row["rate"] for row in runs.results[0]["robustness"][kind]]
            ax.plot(rates, np.mean(curves, axis=0), marker="o", label=runs.name, linewidth=2.5 if runs.is_full_model else 1)
        ax.set(xlabel="missing rate (%)", title=_KIND_TITLES[kind])
    axes[0].set_ylabel("accuracy (test)")
    axes[-1].legend(fontsize=7)
    _save(fig, path)


def loss_curves(full: ModelRuns, path: Path) -> None:
    """Fig. 6: training and validation loss per epoch, one line per seed."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, run_dir in enumerate(full.run_dirs):
        records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
        epochs = [r["epoch"] + 1 for r in records]
        ax.plot(epochs, [r["train_loss"] for r in records], color="C0", alpha=0.8, label="train" if i == 0 else None)
        ax.plot(epochs, [r["val_loss"] for r in records], color="C1", alpha=0.8, label="validation" if i == 0 else None)
    ax.set(xlabel="epoch", ylabel="loss", title=f"{full.name}: loss curves ({len(full.run_dirs)} seeds)")
    ax.legend()
    _save(fig, path)


def comparison_model(groups: list[ModelRuns], baseline: str | None = None) -> ModelRuns | str:
    """Fig. 4's other model: the run named `baseline`, else the one run of the model that holds the
    registry's `figure_4` role (the paper's HybridFusion), or why there is none.

    Named, never chosen by score: picking the best baseline on test would be a selection on the
    test split, even if only for a picture. Reads run names, archs and options only.
    """
    full = next((g for g in groups if g.is_full_model), None)
    if full is None:
        return "no full-model run"
    others = [g for g in groups if g is not full]
    names = ", ".join(g.name for g in others) or "none"
    if baseline is not None:
        match = next((g for g in others if g.name == baseline), None)
        return match or f"no run named {baseline!r} among the runs ({names}); name another with --baseline NAME"
    holders = [g for g in others if g.has_role("figure_4")]
    if len(holders) == 1:
        return holders[0]
    if holders:
        return f"several runs of Fig. 4's model ({', '.join(g.name for g in holders)}); name one with --baseline NAME"
    models = ", ".join(models_with_role("figure_4")) or "none registered"
    return f"no run of Fig. 4's model ({models}) among the runs ({names}); name another with --baseline NAME"


def draw_all(groups: list[ModelRuns], out: Path, baseline: str | None = None) -> tuple[list[tuple[str, str]], list[str]]:
    """Draw every figure the runs allow: (file name, caption) pairs, and a note per figure left out.

    Which models a figure shows depends on run names, archs and options only, never on a metric.
    """
    drawn: list[tuple[str, str]] = []
    notes: list[str] = []
    full = next((g for g in groups if g.is_full_model), None)
    if full is not None and modality_weights(full, out / "fig3_modality_weights.png"):
        drawn.append(("fig3_modality_weights.png", "Fig. 3: modality weights over time (95% bootstrap intervals)"))
    else:
        notes.append("Fig. 3 not drawn: no full-model run with MIE weights")
    other = comparison_model(groups, baseline)
    if isinstance(other, str):
        notes.append(f"Fig. 4 not drawn: {other}")
    else:
        assert full is not None
        per_class_f1(full, other, out / "fig4_per_class_f1.png")
        drawn.append(("fig4_per_class_f1.png", f"Fig. 4: per-class F1, {full.name} against {other.name}"))
    missing_rate(groups, out / "fig5_missing_rate.png")
    drawn.append(("fig5_missing_rate.png", "Fig. 5: accuracy against missing rate"))
    if full is not None:
        loss_curves(full, out / "fig6_loss_curves.png")
        drawn.append(("fig6_loss_curves.png", "Fig. 6: training and validation loss"))
    return drawn, notes
