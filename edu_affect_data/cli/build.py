"""`edu-data build`: the whole pipeline, resumable (registered on the shared typer app).

Exit statuses: 0 done (up to `--until`), 1 a stage failed, 2 bad configuration or flags,
3 a stage waits for people (annotations or adjudication): rerun the same command later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edu_affect_data.cli import app

STAGE_NAMES = "ingest, annotate, aggregate, split, features, publish"


@app.command("build")
def build(
    config: Annotated[Path, typer.Argument(help="Pipeline YAML, e.g. pipelines/demo.yaml.", exists=True, dir_okay=False)],
    iemocap: Annotated[Path | None, typer.Option(help="IEMOCAP_full_release/ folder (sets corpora.iemocap).")] = None,
    mosei: Annotated[Path | None, typer.Option(help="CMU-MOSEI folder (sets corpora.mosei).")] = None,
    out: Annotated[Path, typer.Option(help="Build folder: every artifact and build_state.json.")] = Path("build-output"),
    until: Annotated[str | None, typer.Option(help=f"Stop after this stage ({STAGE_NAMES}).")] = None,
    start_from: Annotated[
        str | None, typer.Option("--from", help="Start at this stage; earlier stages' outputs must exist.")
    ] = None,
    force: Annotated[str | None, typer.Option(help="Rerun this stage and every later one even if unchanged.")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a config key: --set sessions.target_s=20 (YAML value).")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (sets features.workers).")] = None,
    dask_scheduler: Annotated[
        str | None, typer.Option(help="Run parallel work on this Dask scheduler (tcp://host:8786).")
    ] = None,
) -> None:
    """Run the stages in order, skipping those whose inputs did not change (exit 3: waiting for people)."""
    from edu_affect_data.build import EXIT_WAITING, BuildError, run_build
    from edu_affect_data.config import ConfigError, load_config, parse_overrides

    try:
        overrides = parse_overrides(set_ or [])
        for key, value in (("corpora.iemocap", iemocap), ("corpora.mosei", mosei)):
            if value is not None:
                overrides[key] = value.resolve()
        if workers is not None:
            overrides["features.workers"] = workers
        pipeline = load_config(config, overrides)
        result = run_build(pipeline, out, until=until, start_from=start_from, force=force, dask_scheduler=dask_scheduler)
    except (ConfigError, BuildError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not result.complete:
        typer.echo(f"{result.waiting_stage}: {result.message}; rerun this command to resume")
        raise typer.Exit(EXIT_WAITING)
    typer.echo(result.message)
