"""`edu-data agreement`: inter-annotator agreement of the last pull, any ratings table, or a Label Studio export.

Labels are data: a table or export is measured on the labels it holds unless `--classes` names
them; the abstention (`--abstain`, "Cannot tell" by default) is a missing rating counted per
annotator. `--out OUT` measures the build's own pull on the project's classes, with its gold tasks
and its first-ratings rule (as the aggregate stage does, and says so). The report goes to a new
folder (`OUT/agreement/`, or beside the input; `-2`, `-3`... when taken) unless `--report-dir`
names one, and never to `OUT/annotation/agreement/`, which only the aggregate stage writes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from edu_affect_data.cli import app
from edu_affect_data.cli.errors import FLAG
from edu_affect_data.core.vocabulary import ABSTAIN, CLASSES

if TYPE_CHECKING:
    from rich.table import Table

    from edu_affect_data.annotation.agreement import AgreementReport
    from edu_affect_data.annotation.agreement_report import PairKappa


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


#: Annotator pairs a terminal table shows; the rest are in the report's files (15 annotators: 105 pairs).
SHOWN_PAIRS = 10


def pairwise_table(pairs: Sequence[PairKappa], title: str, full_list: str | None = None) -> Table:
    """Cohen's kappa of each annotator pair with n and its interval (here and in `annotate status`).

    At most `SHOWN_PAIRS` rows, the pairs that rated the most sessions together; the caption says
    how many more there are and where they are listed (`full_list`).
    """
    from rich.table import Table

    from edu_affect_data.annotation.agreement_report import format_number

    table = Table(title=title)
    for column in ("a", "b"):
        table.add_column(column)
    for column in ("n", "kappa", "95% CI"):
        table.add_column(column, justify="right")
    shown = sorted(pairs, key=lambda pair: -pair.n)[:SHOWN_PAIRS]
    if len(pairs) > len(shown):
        table.caption = (
            f"the {len(shown)} pairs with the most sessions in common; {len(pairs) - len(shown)} more"
            + (f" in {full_list}" if full_list else "")
        )
    for pair in shown:
        table.add_row(
            pair.a, pair.b, str(pair.n), format_number(pair.kappa),
            f"[{format_number(pair.ci_low)}, {format_number(pair.ci_high)}]",
        )  # fmt: skip
    return table


def _print_table(report: AgreementReport, full_list: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    from edu_affect_data.annotation.agreement_report import format_number, per_session_text

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
    console.print(pairwise_table(report.cohen_kappa_pairwise, "Cohen's kappa per annotator pair", full_list))
    console.print(_annotator_table(report))
    console.print(
        f"sessions by number of ratings: {per_session_text(report.ratings_per_session)} "
        f"('{report.abstain}' not counted)",
        markup=False,
        soft_wrap=True,
    )
    for note in report.notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)


def _annotator_table(report: AgreementReport) -> Table:
    """Per annotator: ratings, abstentions and, with gold sessions, accuracy on them."""
    from rich.table import Table

    from edu_affect_data.annotation.agreement_report import format_number

    gold = {entry.annotator: entry for entry in report.gold_accuracy}
    table = Table(title="Annotators" + (" (gold: correct/rated, accuracy, 95% Wilson CI)" if gold else ""))
    table.add_column("annotator")
    for column in ("ratings", report.abstain, *(("gold", "accuracy", "95% CI") if gold else ())):
        table.add_column(column, justify="right", no_wrap=True)
    for name in sorted(set(report.annotators) | set(gold)):
        row = [name, str(report.ratings_per_annotator.get(name, 0)), str(report.cannot_tell.get(name, 0))]
        if gold:
            entry = gold.get(name)
            row += (
                [f"{entry.correct}/{entry.rated}", format_number(entry.accuracy),
                 f"[{format_number(entry.ci_low)}, {format_number(entry.ci_high)}]"]
                if entry is not None else ["0/0", "n/a", ""]
            )  # fmt: skip
        table.add_row(*row)
    return table


def _classes_option(value: str | None) -> list[str] | None:
    """``--classes a,b,c`` -> ["a", "b", "c"]; an empty or repeated class is a usage error."""
    if value is None:
        return None
    names = [name.strip() for name in value.split(",")]
    if not all(names) or len(set(names)) != len(names):
        raise typer.BadParameter(f"--classes {value!r}: expected distinct, non-empty names separated by commas")
    return names


@app.command("agreement")
def agreement(
    annotations: Annotated[
        Path | None,
        typer.Option(
            "--annotations",
            help="CSV, TSV or Parquet with session_id, annotator, label, or a Label Studio JSON "
            "export (.json) (default: OUT's last pull).",
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
            help="Where agreement.json/.md and the heatmaps go (default: a new folder agreement/, "
            "agreement-2/, ... in OUT or beside the input; never OUT/annotation/agreement/).",
        ),
    ] = None,
    classes: Annotated[
        str | None,
        typer.Option(
            "--classes",
            help="Comma-separated classes (any other label but the abstention is an error); "
            "default: the labels found in --annotations, the project's classes with --out.",
        ),
    ] = None,
    abstain: Annotated[
        str,
        typer.Option(
            "--abstain", help="The abstention label: a missing rating, counted per annotator."
        ),
    ] = ABSTAIN,
    control: Annotated[
        str | None,
        typer.Option(
            "--control",
            help="Choices or Taxonomy control of a Label Studio export to read (needed when it has several).",
        ),
    ] = None,
    level: Annotated[
        int | None,
        typer.Option(
            "--level",
            min=1,
            help="With a Taxonomy control: the depth of the path taken as the label (1 = the top; default: the leaf).",
        ),
    ] = None,
    gold: Annotated[
        Path | None,
        typer.Option(
            "--gold",
            help="CSV session_id,label of gold sessions: per-annotator accuracy; left out of the "
            "agreement (default with --out: the build's gold tasks).",
        ),
    ] = None,
    include_gold: Annotated[
        bool, typer.Option("--include-gold", metavar=FLAG, help="Keep gold sessions in the agreement figures.")
    ] = False,
    first: Annotated[
        int | None,
        typer.Option(
            "--first",
            min=1,
            help="Only each session's first N ratings (by annotation_id, else file order): the unbiased "
            "figures of an adaptive-overlap campaign (N = overlap.initial; the default with --out, "
            "from the build's pull).",
        ),
    ] = None,
    all_ratings: Annotated[
        bool,
        typer.Option("--all-ratings", metavar=FLAG, help="Count every rating, even where --out's build would count the first N only."),
    ] = False,
) -> None:
    """Cohen's kappa (pairwise, per class), Fleiss' kappa, Krippendorff's alpha with bootstrap intervals.

    Examples:

      edu-data agreement --annotations votes.csv --n-boot 1000

      edu-data agreement --out build-output --seed 0

      edu-data agreement --annotations project-3.json --control mood --gold gold.csv

      edu-data agreement --annotations taxonomy-export.json --control affect --level 2
    """
    from edu_affect_data.annotation.agreement import agreement_for_file
    from edu_affect_data.annotation.gold import read_gold
    from edu_affect_data.core.artifacts import BuildPaths

    if (annotations is None) == (out is None):
        raise typer.BadParameter(
            "give --annotations FILE or --out OUT (reads OUT/annotation/annotations.parquet), not both"
        )
    if first is not None and all_ratings:
        raise typer.BadParameter("--first N and --all-ratings contradict each other; give one")
    if report_dir is not None:
        _refuse_build_agreement_dir(report_dir)
    chosen = _classes_option(classes)
    gold_source: Path | dict[str, str] | None = gold
    if annotations is not None:
        source = annotations
    else:
        assert out is not None
        source = BuildPaths(out).annotations
        chosen = list(CLASSES) if chosen is None else chosen
        gold_source = gold if gold is not None else read_gold(BuildPaths(out))
        if first is None and not all_ratings:
            first = _build_first_ratings(source)
    # A file that cannot be used (empty, header only, corrupt Parquet, a missing column, an
    # unknown label with --classes, an export with several controls and no --control) is a
    # `VotesTableError` naming the file: the app's error path prints it on one line, exit 2.
    report, written = agreement_for_file(
        source,
        report_dir,
        seed=seed,
        n_boot=n_boot,
        classes=chosen,
        abstain=abstain,
        control=control,
        gold=gold_source or None,
        include_gold=include_gold,
        first=first,
        level=level,
    )
    if output_format is OutputFormat.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    elif output_format is OutputFormat.markdown:
        sys.stdout.write(report.to_markdown())
    else:
        markdown = next((str(path) for path in written if path.suffix == ".md"), None)
        _print_table(report, markdown)
    typer.echo(f"wrote {', '.join(str(path) for path in written)}", err=True)


def _build_first_ratings(pulled: Path) -> int | None:
    """The build's first-ratings rule recorded in its pulled table, said on stderr (None: every rating)."""
    from edu_affect_data.annotation.export import recorded_first_ratings

    if not pulled.is_file():
        return None  # the reader names the missing file
    recorded, first = recorded_first_ratings(pulled)
    if not recorded:
        typer.echo(
            f"note: {pulled} does not record the campaign's first-ratings rule (pulled by an older version): "
            "every rating counts; for an adaptive-overlap campaign pass --first N (overlap.initial) "
            "to match the aggregate stage",
            err=True,
        )
    elif first is None:
        typer.echo("note: every rating counts, as in the aggregate stage (the campaign's overlap is fixed)", err=True)
    else:
        typer.echo(
            f"note: only each session's first {first} ratings count: the build's first-ratings rule "
            f"(adaptive overlap, overlap.initial {first}), as in the aggregate stage; --all-ratings counts every rating",
            err=True,
        )
    return first


def _refuse_build_agreement_dir(report_dir: Path) -> None:
    """`--report-dir` may not be (inside) a build's `annotation/agreement/`: the aggregate stage's output
    (one line, exit 2, like any flag the user must change)."""
    from edu_affect_data.core.artifacts import BuildPaths
    from edu_affect_data.core.strict_config import ConfigError

    target = report_dir.resolve()
    for folder in (target, *target.parents):
        build = BuildPaths(folder.parent.parent)
        if folder == build.agreement_dir and build.build_state.is_file():
            raise ConfigError(
                f"--report-dir {report_dir} is the build {build.out}'s own agreement report, written by its "
                "aggregate stage (the dataset card reads it); choose another folder"
            )
