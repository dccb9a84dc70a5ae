"""CLI commands of the dataset area: `validate`, and `split` / `features` / `publish` one stage at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edu_affect_data.cli import app

ConfigArg = Annotated[
    Path,
    typer.Argument(help="Pipeline YAML, e.g. pipelines/demo.yaml.", exists=True, dir_okay=False),
]
OutOption = Annotated[
    Path, typer.Option(help="Build folder holding the earlier stages' artifacts.")
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config key: --set features.video.fps=5."),
]


@app.command("validate")
def validate(
    dataset: Annotated[
        Path,
        typer.Argument(
            help="A published dataset folder (README.md + data/).", exists=True, file_okay=False
        ),
    ],
) -> None:
    """Check speaker independence, duplicates, card statistics, shapes, finite values, times (exit 1 on any violation)."""
    from edu_affect_data.validate import validate_dataset

    violations = validate_dataset(dataset)
    for violation in violations:
        typer.echo(str(violation))
    if violations:
        typer.echo(f"{dataset}: {len(violations)} violations", err=True)
        raise typer.Exit(1)
    typer.echo(f"{dataset}: valid")


def _run_stage(stage: str, config: Path, out: Path, set_: list[str] | None) -> None:
    from edu_affect_data.artifacts import BuildPaths
    from edu_affect_data.config import ConfigError, load_config, parse_overrides

    try:
        pipeline = load_config(config, parse_overrides(set_ or []))
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if stage == "split":
        from edu_affect_data.splits import run_split as run
    elif stage == "features":
        from edu_affect_data.features.run import run_features as run
    else:
        from edu_affect_data.dataset import run_publish as run
    outcome = run(pipeline, BuildPaths(out))
    typer.echo(outcome.message)


@app.command("split")
def split(config: ConfigArg, out: OutOption = Path("build-output"), set_: SetOption = None) -> None:
    """Balance the labelled sessions and split them by speaker (splits/assignment.parquet, report.md)."""
    _run_stage("split", config, out, set_)


@app.command("features")
def features(
    config: ConfigArg, out: OutOption = Path("build-output"), set_: SetOption = None
) -> None:
    """Extract MFCC, frames and token embeddings into features/ (resumes finished sessions)."""
    _run_stage("features", config, out, set_)


@app.command("publish")
def publish(
    config: ConfigArg, out: OutOption = Path("build-output"), set_: SetOption = None
) -> None:
    """Write dataset/ (Parquet shards + README.md card) from features/."""
    _run_stage("publish", config, out, set_)
