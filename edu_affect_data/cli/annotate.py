"""`edu-data annotate push|pull|status|adjudicate`: the annotation campaign in Label Studio.

The server comes from LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY or `.labelstudio/env`
(`bash scripts/labelstudio.sh start`). Exit statuses: 0 done, 1 Label Studio or media error,
2 bad configuration, 3 still waiting for people (annotate status / adjudicate). `annotate status`
is a look, not work: a server that is not configured or does not answer is exit 2 with one line
saying how to start it, after a few seconds of retries (`_status_retry`), not the minute of retries
that protects a push or a pull in the middle of a campaign.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from edu_affect_data.cli import app
from edu_affect_data.cli.build import set_option
from edu_affect_data.cli.errors import Typer

if TYPE_CHECKING:
    from rich.table import Table

    from edu_affect_data.annotation.campaign import Campaign
    from edu_affect_data.annotation.client import RetryPolicy
    from edu_affect_data.annotation.live import LiveAgreement

annotate = Typer(help="Annotation in Label Studio: push tasks, pull votes, status, adjudication.", no_args_is_help=True)
app.add_typer(annotate, name="annotate")

ConfigArg = Annotated[Path, typer.Argument(help="Pipeline YAML, e.g. pipelines/demo.yaml.")]
OutOpt = Annotated[Path, typer.Option(help="Build folder (holds manifest/sessions.parquet).")]
SetOpt = Annotated[list[str] | None, set_option("annotation.overlap.max=3")]
EXIT_WAITING = 3


def _status_retry() -> RetryPolicy:
    from edu_affect_data.annotation.client import RetryPolicy

    return RetryPolicy(attempts=3, first_delay_s=1.0)


def _open(config: Path, out: Path, set_: list[str] | None, *, retry: RetryPolicy | None = None) -> Campaign:
    """The campaign of CONFIG under OUT; errors go through the app's one error path (`cli.errors`).

    `retry`: how long to wait for an unanswering server (default: the client's `RetryPolicy`).
    """
    from dataclasses import replace

    from edu_affect_data.annotation import campaign as campaigns
    from edu_affect_data.cli.errors import check_out_folder
    from edu_affect_data.config import load_config, parse_overrides
    from edu_affect_data.core.artifacts import BuildPaths

    check_out_folder(out)
    pipeline = load_config(config, parse_overrides(set_ or []))
    settings = None if retry is None else replace(campaigns.load_settings(), retry=retry)  # None: the campaign's own
    return campaigns.open_campaign(pipeline, BuildPaths(out), settings)


@annotate.command("push")
def push(config: ConfigArg, out: OutOpt = Path("build-output"), set_: SetOpt = None) -> None:
    """Cut the clips and create/update the project; add only sessions not yet in it."""
    from edu_affect_data.annotation.campaign import push as push_campaign

    campaign = _open(config, out, set_)
    result = push_campaign(campaign)
    typer.echo(
        f"project {campaign.title!r} (id {result.project_id}) at {campaign.settings.url}: "
        f"{result.created} tasks added, {result.already_there} already there"
    )


@annotate.command("pull")
def pull(config: ConfigArg, out: OutOpt = Path("build-output"), set_: SetOpt = None) -> None:
    """Export everything into a new snapshot; write annotations.parquet and excluded.csv."""
    from rich.console import Console
    from rich.table import Table

    from edu_affect_data.annotation.campaign import pull as pull_campaign

    campaign = _open(config, out, set_)
    result = pull_campaign(campaign)
    console = Console()
    if len(result.excluded):
        table = Table(title=f"{len(result.excluded)} annotations excluded (also in {campaign.layout.excluded})")
        for column in ("session_id", "task_id", "annotation_id", "annotator", "reason"):
            table.add_column(column)
        for row in result.excluded.itertuples():
            table.add_row(str(row.session_id), str(row.task_id), str(row.annotation_id), str(row.annotator), str(row.reason))
        console.print(table)
    console.print(
        f"snapshot {result.snapshot}\n{len(result.annotations)} valid annotations -> {campaign.paths.annotations}"
    )


class StatusFormat(str, Enum):
    table = "table"
    json = "json"


def _live_tables(live: LiveAgreement) -> list[Table]:
    """Per annotator (votes, agreement with the majority, mean kappa, drift), pairs, answer shares."""
    from rich.markup import escape
    from rich.table import Table

    from edu_affect_data.annotation.agreement_report import format_number
    from edu_affect_data.cli.agreement import pairwise_table

    people = Table(
        title=f"Live agreement (95% intervals; drift: last {live.drift.window} votes, "
        f"one-sided Fisher, Holm at {live.drift.alpha})"
    )
    people.add_column("annotator")
    people.add_column("votes", justify="right")
    people.add_column("agreement with the others' majority", justify="right")
    people.add_column("mean kappa", justify="right")
    people.add_column("drift")
    for person in live.annotators:
        drift = escape(person.drift.short())
        people.add_row(
            person.annotator,
            str(person.votes),
            str(person.majority),
            format_number(person.mean_kappa, 2),
            f"[bold red]{drift}[/]" if person.drift.flagged else drift,
        )
    people.caption = "\n".join(
        escape(f"{person.annotator} {person.drift.describe()}") for person in live.annotators if person.drift.flagged
    ) or None
    pairs = pairwise_table(
        live.pairwise, "Cohen's kappa per annotator pair, on the sessions both labelled so far", "--format json"
    )
    answers = Table(
        title="Share of each answer: this annotator's / the other annotators'",
        caption="* the others' share is outside this annotator's 95% Wilson interval (intervals: --format json)",
    )
    answers.add_column("annotator")
    labels = [share.label for share in live.annotators[0].classes] if live.annotators else []
    for label in labels:
        answers.add_column(label, justify="right")
    for person in live.annotators:
        answers.add_row(
            person.annotator,
            *(
                f"{format_number(s.annotator.estimate, 2)}/{format_number(s.pool, 2)}{'*' if s.differs else ''}"
                for s in person.classes
            ),
        )
    tables = [people, pairs, answers]
    if live.gold_accuracy:
        gold = Table(title="Accuracy on gold sessions (95% Wilson CI)")
        for column in ("annotator", "correct / rated", "accuracy", "95% CI"):
            gold.add_column(column, justify="left" if column == "annotator" else "right")
        for entry in live.gold_accuracy:
            gold.add_row(
                entry.annotator, f"{entry.correct} / {entry.rated}", format_number(entry.accuracy),
                f"[{format_number(entry.ci_low)}, {format_number(entry.ci_high)}]",
            )  # fmt: skip
        tables.append(gold)
    return tables


@annotate.command("status")
def status(
    config: ConfigArg,
    out: OutOpt = Path("build-output"),
    set_: SetOpt = None,
    output_format: Annotated[StatusFormat, typer.Option("--format", help="table, or one JSON object on stdout.")] = StatusFormat.table,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="PNG of rolling agreement per annotator (default: OUT/annotation/status/agreement_over_time.png)."),
    ] = None,
) -> None:
    """Sessions complete / total, votes, the reviewer's queue, live agreement and drift (exit 3 while not done).

    Example:

      edu-data annotate status pipelines/demo.yaml --out build-output --set annotation.drift.window=20
    """
    from rich.console import Console
    from rich.table import Table

    from edu_affect_data.annotation.campaign import CampaignError
    from edu_affect_data.annotation.client import LabelStudioNotConfigured, LabelStudioUnavailable
    from edu_affect_data.annotation.live import plot_agreement_over_time
    from edu_affect_data.annotation.status import campaign_status

    try:
        campaign = _open(config, out, set_, retry=_status_retry())
        state = campaign_status(campaign)
    except (LabelStudioNotConfigured, LabelStudioUnavailable) as exc:  # nothing to look at: a user error (exit 2)
        raise CampaignError(f"annotate status needs the campaign's Label Studio server: {exc}") from exc
    written = plot_agreement_over_time(state.live, plot or status_plot_path(campaign.paths.annotation_dir))
    if output_format is StatusFormat.json:
        sys.stdout.write(json.dumps({**state.to_json(), "plot": str(written)}, indent=2) + "\n")
    else:
        console = Console()
        summary = Table(title=f"{state.project_title!r} (project {state.project_id}) at {state.url}")
        summary.add_column("")
        summary.add_column("count", justify="right")
        summary.add_row("sessions complete / total", f"{state.complete} / {state.sessions}")
        summary.add_row("annotations excluded", str(state.excluded))
        summary.add_row("adjudication: decided / queued", f"{state.adjudicated} / {state.adjudication_queue}")
        console.print(summary)
        people = Table(title="Valid votes per annotator")
        people.add_column("annotator")
        people.add_column("votes", justify="right")
        for name, count in state.votes_per_annotator.items():
            people.add_row(name, str(count))
        console.print(people)
        for table in _live_tables(state.live):
            console.print(table)
    typer.echo(f"wrote {written}", err=True)
    if state.waiting:
        raise typer.Exit(EXIT_WAITING)


def status_plot_path(annotation_dir: Path) -> Path:
    """Where ``annotate status`` draws agreement over time unless ``--plot`` says otherwise."""
    return annotation_dir / "status" / "agreement_over_time.png"


@annotate.command("adjudicate")
def adjudicate(config: ConfigArg, out: OutOpt = Path("build-output"), set_: SetOpt = None) -> None:
    """Pull; once annotators are done, send undecided sessions to the reviewer and pull decisions (exit 3 while open)."""
    from edu_affect_data.annotation.rounds import people_for, review_round

    campaign = _open(config, out, set_)
    round_ = review_round(campaign, people_for(campaign.config.annotation.simulate))
    review = round_.adjudication
    if review is None:
        typer.echo(f"waiting for annotations: {len(round_.done)}/{round_.total} sessions complete; nothing sent to the reviewer yet")
        raise typer.Exit(EXIT_WAITING)
    typer.echo(
        f"adjudication project {campaign.review_title!r}: {review.decided}/{len(review.queue)} sessions decided"
        f" -> {campaign.paths.adjudications}"
    )
    if review.decided < len(review.queue):
        raise typer.Exit(EXIT_WAITING)
