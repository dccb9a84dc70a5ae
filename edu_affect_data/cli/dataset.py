"""CLI commands of the dataset area: `validate`, and `split` / `features` / `publish` one stage at a time.

A one-stage command is `edu-data build --from STAGE --until STAGE`: it records `build_state.json`,
is skipped when its inputs did not change (`--force` reruns it), needs its upstream stages
recorded complete, and exits with the same statuses (0 done, 1 failed, 2 bad config, 3 waiting).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edu_affect_data.cli import app
from edu_affect_data.cli.build import dry_run_option, run_stages, set_option
from edu_affect_data.cli.errors import FLAG

ConfigArg = Annotated[
    Path,
    typer.Argument(help="Pipeline YAML, e.g. pipelines/demo.yaml."),
]
OutOption = Annotated[
    Path, typer.Option(help="Build folder holding the earlier stages' artifacts and build_state.json.")
]
ForceOption = Annotated[
    bool, typer.Option("--force", metavar=FLAG, help="Rerun the stage even if its inputs did not change.")
]
DryRunOption = Annotated[bool, dry_run_option()]


@app.command("validate")
def validate(
    dataset: Annotated[
        Path,
        typer.Argument(
            help="A published dataset folder (README.md + data/)."
        ),
    ],
) -> None:
    """Check speaker independence, duplicates, every card count, shards, shapes, finite values, times (exit 1 on any violation).

    A damaged or missing shard is a violation naming the file; a DATASET that is not a folder, or
    an empty one, is a user error (one line, exit 2).

    Example:

      edu-data validate build-output/dataset
    """
    from edu_affect_data.stages.validate import validate_dataset

    violations = validate_dataset(dataset)
    for violation in violations:
        typer.echo(str(violation))
    if violations:
        typer.echo(f"{dataset}: {len(violations)} violations", err=True)
        raise typer.Exit(1)
    typer.echo(f"{dataset}: valid")


def _run_stage(stage: str, config: Path, out: Path, set_: list[str] | None, force: bool, dry_run: bool) -> None:
    run_stages(config, set_, out, start_from=stage, until=stage, force=stage if force else None, dry_run=dry_run)


@app.command("split")
def split(
    config: ConfigArg,
    out: OutOption = Path("build-output"),
    set_: Annotated[list[str] | None, set_option("split.folds=5")] = None,
    force: ForceOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """Balance the labelled sessions and split them by speaker (splits/assignment.parquet, report.md).

    Example:

      edu-data split pipelines/demo.yaml --out build-output --set split.folds=5
    """
    _run_stage("split", config, out, set_, force, dry_run)


@app.command("features")
def features(
    config: ConfigArg,
    out: OutOption = Path("build-output"),
    set_: Annotated[list[str] | None, set_option("features.extractors.frames.fps=5")] = None,
    force: ForceOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """Extract MFCC, frames and token embeddings into features/ (resumes finished sessions).

    Example:

      edu-data features pipelines/demo.yaml --out build-output --set features.extractors.frames.fps=5
    """
    _run_stage("features", config, out, set_, force, dry_run)


@app.command("publish")
def publish(
    config: ConfigArg,
    out: OutOption = Path("build-output"),
    set_: Annotated[list[str] | None, set_option("dataset.max_shard_mb=200")] = None,
    force: ForceOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """Write dataset/ (Parquet shards + README.md card) from features/.

    Example:

      edu-data publish pipelines/demo.yaml --out build-output --force
    """
    _run_stage("publish", config, out, set_, force, dry_run)
