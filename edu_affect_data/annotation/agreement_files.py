"""An agreement report on disk: a fresh folder for it, its JSON and Markdown files, its figures.

Kept apart from `agreement_report` (the report's data and its text forms, which `live` and the CLI
also read) because everything here writes files and draws with matplotlib. Figures are drawn on
``matplotlib.figure.Figure`` objects with the Agg canvas directly, so writing a report never touches
pyplot's global figure registry or the user's backend.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from edu_affect_data.annotation.agreement_report import AgreementReport


def _heatmap(
    axes: Any, matrix: np.ndarray, labels_x: list[str], labels_y: list[str], fmt: str, **style: Any
) -> Any:
    image = axes.imshow(np.ma.masked_invalid(matrix), **style)
    axes.set_xticks(range(len(labels_x)), labels_x, rotation=45, ha="right")
    axes.set_yticks(range(len(labels_y)), labels_y)
    for (row, col), value in np.ndenumerate(matrix):
        red, green, blue, _ = image.cmap(image.norm(value)) if np.isfinite(value) else (1, 1, 1, 1)
        dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5  # white text on dark cells
        axes.text(
            col,
            row,
            "n/a" if not np.isfinite(value) else format(value, fmt),
            color="white" if dark else "black",
            ha="center",
            va="center",
            fontsize=8,
        )
    return image


def _save(figure: Any, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    return path


def plot_kappa_heatmap(report: AgreementReport, path: Path) -> Path:
    """Pairwise Cohen's kappa of every annotator pair as an annotated heatmap."""
    from matplotlib.figure import Figure

    size = 1.2 + 0.7 * report.n_annotators
    figure = Figure(figsize=(size + 1.5, size))
    axes = figure.add_subplot()
    image = _heatmap(
        axes,
        report.kappa_matrix(),
        report.annotators,
        report.annotators,
        ".2f",
        vmin=-1,
        vmax=1,
        cmap="RdBu",
    )
    figure.colorbar(image, ax=axes, label="Cohen's kappa")
    axes.set_title("Pairwise Cohen's kappa")
    return _save(figure, path)


def plot_coincidence(report: AgreementReport, path: Path) -> Path:
    """Krippendorff's coincidence matrix as shares of each row, with its counts and a caption.

    The figure that stays informative under adaptive overlap: it pairs the ratings of a session
    with each other (no consensus in it), so the off-diagonal cells show which classes people mix up.
    """
    from matplotlib.figure import Figure

    matrix = np.asarray(report.coincidence, dtype=float).reshape(len(report.classes), len(report.classes))
    totals = matrix.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(totals > 0, matrix / totals, np.nan)
    size = 1.5 + 0.9 * len(report.classes)
    figure = Figure(figsize=(size + 1.8, size + 0.9), layout="constrained")
    axes = figure.add_subplot()
    image = _heatmap(axes, shares, report.classes, report.classes, ".0%", vmin=0, vmax=1, cmap="Blues")
    axes.set_yticks(
        range(len(report.classes)), [f"{label} ({total:.0f})" for label, total in zip(report.classes, totals[:, 0], strict=True)]
    )
    figure.colorbar(image, ax=axes, label="share of the row")
    axes.set_xlabel("the other rating of the same session")
    axes.set_ylabel("a rating (row total in brackets)")
    axes.set_title("Which labels the ratings of one session pair with")
    pairable = sum(count for m, count in report.ratings_per_session.items() if m >= 2)
    which = (
        f"Only each session's first {report.first_ratings} ratings count, all collected before any escalation."
        if report.first_ratings is not None
        else "Every rating counts: under adaptive overlap a third rating exists because the first two\n"
        "disagreed, which lowers the diagonal; `--first 2` counts the first two only."
    )
    figure.text(
        0.0, -0.02,
        f"Krippendorff's coincidences over the {pairable} sessions with 2 or more ratings: every ordered pair\n"
        "of two ratings of one session, weighted 1/(m-1) for m ratings; the diagonal is agreement.\n"
        f"No consensus enters it (with two votes, a consensus is one of them). {which}\n'Cannot tell' is not a rating.",
        fontsize=8, va="top",
    )  # fmt: skip
    return _save(figure, path)


def plot_confusions(report: AgreementReport, path: Path) -> Path:
    """One confusion heatmap per annotator (rows consensus, columns annotator), side by side."""
    from matplotlib.figure import Figure

    n = max(1, report.n_annotators)
    columns = min(n, 4)
    rows = math.ceil(n / columns)
    figure = Figure(figsize=(4.2 * columns, 3.8 * rows), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes, name in zip(grid.flat, report.annotators, strict=False):
        _heatmap(
            axes,
            np.asarray(report.confusion[name], dtype=float),
            report.classes,
            report.classes,
            ".0f",
            cmap="Blues",
        )
        axes.set_title(name)
        axes.set_xlabel("annotator")
        axes.set_ylabel("consensus")
    for axes in list(grid.flat)[report.n_annotators :]:
        axes.set_visible(False)
    return _save(figure, path)


def new_report_dir(base: Path) -> Path:
    """A folder no report was written to before: ``base/agreement``, else ``agreement-2``, ``-3``, ...

    Created here (exclusively), so two runs never share one and an earlier report is never
    overwritten by a run that did not name its folder.
    """
    base.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):
        candidate = base / ("agreement" if n == 1 else f"agreement-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise AssertionError("unreachable")


def write_agreement_report(report: AgreementReport, out_dir: Path) -> list[Path]:
    """Write ``agreement.json``, ``agreement.md``, ``coincidence.png``, ``kappa_heatmap.png`` and
    ``confusion.png``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "agreement.json"
    json_path.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    markdown_path = out_dir / "agreement.md"
    markdown_path.write_text(report.to_markdown(), encoding="utf-8")
    return [
        json_path,
        markdown_path,
        plot_coincidence(report, out_dir / "coincidence.png"),
        plot_kappa_heatmap(report, out_dir / "kappa_heatmap.png"),
        plot_confusions(report, out_dir / "confusion.png"),
    ]
