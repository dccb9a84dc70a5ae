"""`edu-data agreement`: inter-annotator agreement of the last pull or of any ratings table."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from edu_affect_data.cli import app

if TYPE_CHECKING:
    from edu_affect_data.annotation.agreement import AgreementReport


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


def _print_table(report: AgreementReport) -> None:
    from rich.console import Console
    from rich.table import Table

    from edu_affect_data.annotation.agreement_report import format_number

    console = Console()
    summary = Table(
        title=f"Agreement: {report.n_sessions} sessions, {report.n_annotators} annotators, "
        f"{report.n_ratings} ratings (95% bootstrap CI, {report.n_boot} resamples)"
    )
    summary.add_column("statistic")
    summary.add_column("estimate", justify="right")
    summary.add_column("95% CI", justify="right")
    per_class = [
        (f"kappa {label} (one vs rest)", value) for label, value in report.per_class_kappa.items()
    ]
    for name, value in [*report.summary_rows(), *per_class]:
        summary.add_row(
            name,
            format_number(value.estimate),
            f"[{format_number(value.ci_low)}, {format_number(value.ci_high)}]",
        )
    console.print(summary)
    pairs = Table(title="Cohen's kappa per annotator pair")
    for column in ("a", "b"):
        pairs.add_column(column)
    for column in ("n", "kappa", "95% CI"):
        pairs.add_column(column, justify="right")
    for pair in report.cohen_kappa_pairwise:
        pairs.add_row(
            pair.a,
            pair.b,
            str(pair.n),
            format_number(pair.kappa),
            f"[{format_number(pair.ci_low)}, {format_number(pair.ci_high)}]",
        )
    console.print(pairs)
    for note in report.notes:
        console.print(f"note: {note}", markup=False)


@app.command("agreement")
def agreement(
    annotations: Annotated[
        Path | None,
        typer.Option(
            "--annotations",
            help="CSV or Parquet with session_id, annotator, label (default: OUT's last pull).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Build folder whose annotation/annotations.parquet to read."),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="What to print on stdout.")
    ] = OutputFormat.table,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap resampling.")] = 0,
    n_boot: Annotated[
        int, typer.Option("--n-boot", min=0, help="Bootstrap resamples (0: no intervals).")
    ] = 1000,
    report_dir: Annotated[
        Path | None,
        typer.Option(
            "--report-dir",
            help="Where agreement.json/.md and the heatmaps go (default: <input dir>/agreement).",
        ),
    ] = None,
) -> None:
    """Cohen's kappa (pairwise, per class), Fleiss' kappa, Krippendorff's alpha with bootstrap intervals."""
    from edu_affect_data.annotation.agreement import agreement_for_file
    from edu_affect_data.artifacts import BuildPaths

    if annotations is None and out is None:
        raise typer.BadParameter(
            "give --annotations FILE or --out OUT (reads OUT/annotation/annotations.parquet)"
        )
    source = annotations if annotations is not None else BuildPaths(out).annotations  # type: ignore[arg-type]
    # A table that cannot be used (empty, header only, corrupt Parquet, a missing column) is a
    # `VotesTableError` naming the file: the app's error path prints it on one line, exit 2.
    report, written = agreement_for_file(source, report_dir, seed=seed, n_boot=n_boot)
    if output_format is OutputFormat.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    elif output_format is OutputFormat.markdown:
        sys.stdout.write(report.to_markdown())
    else:
        _print_table(report)
    typer.echo(f"wrote {', '.join(str(path) for path in written)}", err=True)
