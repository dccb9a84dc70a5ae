"""The report's figures (paper Fig. 3-6), drawn with matplotlib's Agg backend into PNG files.

Each figure says what it shows on its own: axes with units, bands and bars named in a caption the
report prints under it, the paper's display names, legends outside the data. Which models a
figure shows depends on run names, archs and options only, never on a metric. Each PNG is written
through `core.atomic` (a temporary sibling renamed over the target), so a killed report leaves
the previous figure or none, never a truncated one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edu_affect_data.core.atomic import atomic_write
from edu_affect_data.core.vocabulary import CLASSES
from edu_emotionnet.claims import burst_steps, load_noise, split_places
from edu_emotionnet.registry import models_with_role
from edu_emotionnet.robustness import KINDS
from edu_emotionnet.runs import ModelRuns
from edu_emotionnet.significance import bootstrap_mean_ci, load_outputs

#: A step's weights are drawn only when at least this many test sessions reach it.
MIN_SESSIONS_PER_STEP = 5
#: Chance accuracy of a 4-class problem, drawn as a reference in Fig. 5.
CHANCE = 1.0 / len(CLASSES)
_KIND_TITLES = {
    "modality": "whole modalities dropped",
    "timestep": "time steps dropped",
}
_KIND_EXPLAINED = {
    "modality": "each modality is removed from a whole test session with probability r (at least one always stays)",
    "timestep": "each one-step slice of each modality is removed with probability r",
}
FULL_COLOUR, REFERENCE_COLOUR, OTHER_COLOUR = "#1f4e9c", "#e07b00", "#b3b3b3"


@dataclass(frozen=True)
class Figure:
    """A drawn figure: its file name and the caption the report prints under it."""

    name: str
    caption: str


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    plt = _pyplot()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, bbox_inches="tight"))
    plt.close(fig)


def _label(runs: ModelRuns) -> str:
    """The paper's display name, with the run's own name when it says something more (a renamed run)."""
    return runs.display if runs.name in (runs.arch, runs.display) or runs.is_ablation else f"{runs.display} (run {runs.name})"


def _step_s(runs: ModelRuns) -> float:
    return float(runs.results[0]["config"]["model"]["step_s"])


def _planted_counts(full: ModelRuns, truth: Path | None, data: Path | None, horizon: int) -> tuple[dict[str, np.ndarray], str]:
    """modality -> (horizon,) number of test sessions with planted noise of that modality at each step
    (first seed's test sessions), or empty with the reason when it cannot be known."""
    noise = load_noise(truth)
    if isinstance(noise, str):
        return {}, noise
    result = full.results[0]
    directory = full.dataset_of(full.run_dirs[0], data)
    if isinstance(directory, str):
        return {}, directory
    if not directory.is_dir():
        return {}, f"dataset {directory} not found (pass --data)"
    found = split_places(Path(directory))
    if isinstance(found, str):
        return {}, found
    places, _ = found
    outputs = load_outputs(full, [int(result["seed"])])
    if isinstance(outputs, str):
        return {}, outputs
    out = outputs[int(result["seed"])]
    step_s = _step_s(full)
    counts = {m: np.zeros(horizon, dtype=int) for m in out.modalities}
    for i, sid in enumerate(out.session_ids):
        if sid not in places:
            continue
        n_steps = int(np.sum(~np.isnan(out.step_probs[i][:, 0])))
        for m in out.modalities:
            hit = burst_steps(places[sid], noise, m, n_steps, step_s)
            counts[m][: len(hit)] += hit
    return counts, ""


def modality_weights(full: ModelRuns, path: Path, truth: Path | None = None, data: Path | None = None) -> Figure | None:
    """Fig. 3: the MIE weight of each modality over session time, with how many sessions reach
    each step and, on synthetic corpora, how many carry planted noise there."""
    stacks, modalities = [], None
    for run_dir in full.run_dirs:
        outputs = np.load(run_dir / "test_outputs.npz")
        if bool(outputs["has_weights"]):
            stacks.append(outputs["weights"])
            modalities = [str(m) for m in outputs["modalities"]]
    if not stacks or modalities is None:
        return None
    horizon = max(s.shape[1] for s in stacks)
    weights = np.concatenate([np.pad(s, ((0, 0), (0, horizon - s.shape[1]), (0, 0)), constant_values=np.nan) for s in stacks])
    step_s = _step_s(full)
    seconds = step_s * (np.arange(horizon) + 1)  # a step's value is known at its end
    reaching = np.sum(~np.isnan(weights[:, :, 0]), axis=0) // len(stacks)  # sessions per seed
    planted, why_not = _planted_counts(full, truth, data, horizon)
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]})
    for m, name in enumerate(modalities):
        x, mean, low, high = [], [], [], []
        for t in range(horizon):
            column = weights[:, t, m]
            column = column[~np.isnan(column)]
            if len(column) >= MIN_SESSIONS_PER_STEP * len(stacks):
                mu, lo, hi = bootstrap_mean_ci(column, seed=t * 7 + m)
                x.append(seconds[t])
                mean.append(mu)
                low.append(lo)
                high.append(hi)
        top.plot(x, mean, color=f"C{m}", label=name, linewidth=2)
        top.fill_between(x, low, high, color=f"C{m}", alpha=0.2, linewidth=0)
    top.set(ylabel="modality weight $w_t$", ylim=(0, 1), title=f"{full.display}: modality weights over session time")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="modality")
    bottom.bar(seconds, reaching, width=0.8 * step_s, color="#d9d9d9", label="test sessions reaching the step")
    for m, name in enumerate(modalities):
        if name in planted:
            bottom.plot(seconds, planted[name], color=f"C{m}", marker=".", label=f"with planted {name} noise")
    bottom.set(xlabel=f"time from the session start (s; steps of {step_s:g} s)", ylabel="sessions")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    _save(fig, path)
    seeds = len(stacks)
    noise = "; the lines in the lower panel count the sessions with planted noise at each step" if planted else (
        f"; planted noise not shown: {why_not}"
    )
    return Figure(
        path.name,
        f"Fig. 3: mean MIE weight per modality of {full.display} at each step of the test sessions ({seeds} seed{'s' if seeds != 1 else ''} "
        f"pooled); bands: 95% bootstrap interval over sessions; steps reached by fewer than {MIN_SESSIONS_PER_STEP} "
        f"sessions are not drawn, and the lower panel shows how many sessions each step averages over (later steps: "
        f"fewer, longer sessions, wider bands){noise}.",
    )


def per_class_f1(full: ModelRuns, other: ModelRuns, path: Path) -> Figure:
    """Fig. 4: per-class F1 of the full model against one baseline (mean over seeds, bars from the
    lowest to the highest seed)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4))
    x = np.arange(len(CLASSES))
    for offset, runs, colour in ((-0.2, full, FULL_COLOUR), (0.2, other, REFERENCE_COLOUR)):
        values = np.array([[r["test"]["per_class_f1"][c] for c in CLASSES] for r in runs.results])
        mean = values.mean(0)
        ax.bar(x + offset, mean, 0.4, color=colour, label=f"{_label(runs)} ({len(values)} seeds)")
        ax.errorbar(x + offset, mean, yerr=[mean - values.min(0), values.max(0) - mean], fmt="none", ecolor="black", capsize=3)
    ax.set_xticks(x, CLASSES)
    ax.set(ylabel="F1 on the test split", ylim=(0, 1.05), title=f"Per-class F1: {_label(full)} and {_label(other)}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(fig, path)
    return Figure(
        path.name,
        f"Fig. 4: per-class F1 on the test split, {_label(full)} against {_label(other)}; bars: mean over seeds, "
        "whiskers: lowest and highest seed.",
    )


def missing_rate(groups: list[ModelRuns], path: Path) -> Figure:
    """Fig. 5: test accuracy against the missing rate; the full model and the paper's robustness
    reference (late fusion) highlighted with their seed ranges, every other model in grey."""
    full = next((g for g in groups if g.is_full_model), None)
    reference = next((g for g in groups if g.has_role("claim_d")), None)
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(KINDS), figsize=(12, 4.3), sharey=True)
    for ax, kind in zip(axes, KINDS, strict=True):
        for runs in sorted(groups, key=lambda g: g is full or g is reference):  # highlighted ones on top
            curves = np.array([[row["accuracy"] for row in r["robustness"][kind]] for r in runs.results])
            rates = [100 * row["rate"] for row in runs.results[0]["robustness"][kind]]
            if runs is full or runs is reference:
                colour = FULL_COLOUR if runs is full else REFERENCE_COLOUR
                ax.fill_between(rates, curves.min(0), curves.max(0), color=colour, alpha=0.18, linewidth=0)
                ax.plot(rates, curves.mean(0), color=colour, marker="o", linewidth=2.5, label=f"{_label(runs)} (seed range shaded)")
            else:
                ax.plot(rates, curves.mean(0), color=OTHER_COLOUR, linewidth=1, zorder=1)
        ax.axhline(CHANCE, color="black", linestyle=":", linewidth=1)
        ax.set(xlabel="missing rate r (%)", title=_KIND_TITLES[kind], ylim=(0, 1))
    axes[0].set_ylabel("accuracy on the test split")
    handles, labels = axes[0].get_legend_handles_labels()
    others = [_label(g) for g in groups if g is not full and g is not reference]
    if others:
        handles.append(plt.Line2D([], [], color=OTHER_COLOUR, linewidth=1))
        labels.append(f"the other {len(others)} models")
    handles.append(plt.Line2D([], [], color="black", linestyle=":", linewidth=1))
    labels.append("chance (4 classes)")
    fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 0.92))
    fig.tight_layout()
    _save(fig, path)
    grey = f" Grey: {', '.join(others)}." if others else ""
    return Figure(
        path.name,
        f"Fig. 5: accuracy on the test split as inputs go missing, mean over seeds (shaded: lowest to highest seed). "
        f"Left: {_KIND_EXPLAINED['modality']}; right: {_KIND_EXPLAINED['timestep']}; the same drops for every model.{grey}",
    )


def loss_curves(full: ModelRuns, path: Path) -> Figure:
    """Fig. 6: training and validation loss per epoch, one line per seed, the chosen epoch marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4))
    runs = full.by_seed()
    for i, (_, (result, run_dir)) in enumerate(sorted(runs.items())):
        records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
        epochs = [r["epoch"] + 1 for r in records]
        ax.plot(epochs, [r["train_loss"] for r in records], color="C0", alpha=0.8, label="train" if i == 0 else None)
        ax.plot(epochs, [r["val_loss"] for r in records], color="C1", alpha=0.8, label="validation" if i == 0 else None)
        best = next((r for r in records if r["epoch"] == result.get("best_epoch")), None)
        if best is not None:
            ax.plot(best["epoch"] + 1, best["val_loss"], marker="*", markersize=13, color="black", linestyle="none",
                    label="chosen epoch (best validation macro-F1)" if i == 0 else None)
    ax.set(xlabel="epoch", ylabel="loss", title=f"{full.display}: loss per epoch ({len(runs)} seeds)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(fig, path)
    return Figure(
        path.name,
        f"Fig. 6: training and validation loss of {full.display}, one line per seed; the star marks the epoch whose "
        "checkpoint was kept (highest validation macro-F1, ties broken by lower loss); training stopped after "
        "`patience` epochs without a better one.",
    )


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


def draw_all(
    groups: list[ModelRuns], out: Path, baseline: str | None = None, truth: Path | None = None, data: Path | None = None
) -> tuple[list[Figure], list[str]]:
    """Draw every figure the runs allow: the drawn figures with their captions, and a note per figure left out."""
    drawn: list[Figure] = []
    notes: list[str] = []
    full = next((g for g in groups if g.is_full_model), None)
    weights = modality_weights(full, out / "fig3_modality_weights.png", truth, data) if full is not None else None
    if weights is not None:
        drawn.append(weights)
    else:
        notes.append("Fig. 3 not drawn: no full-model run with MIE weights")
    other = comparison_model(groups, baseline)
    if isinstance(other, str):
        notes.append(f"Fig. 4 not drawn: {other}")
    else:
        assert full is not None
        drawn.append(per_class_f1(full, other, out / "fig4_per_class_f1.png"))
    drawn.append(missing_rate(groups, out / "fig5_missing_rate.png"))
    if full is not None:
        drawn.append(loss_curves(full, out / "fig6_loss_curves.png"))
    return drawn, notes
