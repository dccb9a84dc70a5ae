"""CLI commands that read a build's artifacts about its sessions: `why` (one session's fate) and
`sessions` (the candidates, filtered). They read files only: no server, no corpora, no config."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from edu_affect_data.cli import app

BuildOption = Annotated[
    Path, typer.Option("--out", help="The build folder (what `edu-data build --out` wrote).", file_okay=False)
]


@app.command("why")
def why(
    session: Annotated[str, typer.Argument(help="A candidate session id, as in manifest/sessions.parquet.")],
    out: BuildOption = Path("demo-output/build"),
    output_format: Annotated[
        Literal["text", "json"], typer.Option("--format", help="text (one stage a line) or json.")
    ] = "text",
) -> None:
    """Why a session was kept or dropped: its window, gap verdict (recording and session seconds),
    votes, label, reviewer, split, features and whether it is published.

    Example: edu-data why Ses01F_impro01_F000 --out demo-output/build
    """
    from dataclasses import asdict

    from edu_affect_data.audit import describe, explain
    from edu_affect_data.core.artifacts import BuildPaths

    fate = explain(BuildPaths(out), session)
    if output_format == "json":
        typer.echo(json.dumps(asdict(fate), indent=2, default=str))
        return
    for line in describe(fate):
        typer.echo(line)


@app.command("sessions")
def sessions(
    out: BuildOption = Path("demo-output/build"),
    status: Annotated[
        list[str] | None, typer.Option("--status", help="Keep these statuses (repeatable): kept, gap, short, error.")
    ] = None,
    corpus: Annotated[list[str] | None, typer.Option("--corpus", help="Keep these corpora (repeatable).")] = None,
    split: Annotated[
        list[str] | None, typer.Option("--split", help="Keep these splits (repeatable): train, validation, test, excluded.")
    ] = None,
    output_format: Annotated[
        Literal["table", "csv", "json"], typer.Option("--format", help="table (aligned text), csv or json.")
    ] = "table",
) -> None:
    """List the candidate sessions with their status, reason, label and split.

    Example: edu-data sessions --out demo-output/build --status gap --format csv
    """
    from edu_affect_data.audit import SESSION_COLUMNS, session_table
    from edu_affect_data.core.artifacts import BuildPaths
    from edu_affect_data.core.vocabulary import SESSION_STATUSES

    unknown = sorted(set(status or ()) - set(SESSION_STATUSES))
    if unknown:
        raise typer.BadParameter(f"--status {', '.join(unknown)}: not one of {', '.join(SESSION_STATUSES)}")
    rows = [
        row
        for row in session_table(BuildPaths(out))
        if (not status or row["status"] in status)
        and (not corpus or row["corpus"] in corpus)
        and (not split or row["split"] in split)
    ]
    if output_format == "json":
        typer.echo(json.dumps(rows, indent=2))
    elif output_format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(SESSION_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        shown = [{k: _cell(v) for k, v in row.items()} for row in rows]
        widths = {k: max([len(k), *(len(r[k]) for r in shown)]) for k in SESSION_COLUMNS}
        typer.echo("  ".join(k.ljust(widths[k]) for k in SESSION_COLUMNS).rstrip())
        for row in shown:
            typer.echo("  ".join(row[k].ljust(widths[k]) for k in SESSION_COLUMNS).rstrip())
    typer.echo(f"{len(rows)} sessions", err=True)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)
