"""`edu-data build`: the whole pipeline, resumable (registered on the shared typer app).

Exit statuses: 0 done (up to `--until`), 1 a stage failed, 2 bad configuration or flags,
3 a stage waits for people (annotations or adjudication): rerun the same command later.
`run_stages` maps build results to these statuses for every command that runs stages (`build`,
`split`, `features`, `publish`); errors go through the app's one error path (`cli.errors`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from edu_affect_data.cli import app
from edu_affect_data.cli.errors import FLAG

STAGE_HELP = "a stage name in build order, e.g. features; an unknown name lists them all"
DRY_RUN_HELP = (
    "Print which stages would run and why (config key old -> new, changed input or output) and which "
    "sessions would go to annotators; write nothing."
)


def dry_run_option() -> Any:
    """The `--dry-run` switch of every command that runs stages."""
    return typer.Option("--dry-run", metavar=FLAG, help=DRY_RUN_HELP)


def set_option(example: str) -> Any:
    """The `--set KEY=VALUE` option of a command that loads the pipeline, its help showing `example`
    (a key the command reads; tests/test_help_examples.py loads it with pipelines/demo.yaml)."""
    return typer.Option("--set", help=f"Override a config key (YAML value, repeatable): --set {example}")


def run_stages(
    config: Path,
    set_: list[str] | None,
    out: Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    until: str | None = None,
    start_from: str | None = None,
    force: str | None = None,
    verify: bool = False,
    dask_scheduler: str | None = None,
    dry_run: bool = False,
) -> None:
    """Load CONFIG with `--set` and flag `overrides`, run the stages, exit as documented above.

    `dry_run`: print which stages would run and why, and which sessions would go to annotators
    (`dry_run.plan_build`), write nothing, exit 0.

    Errors are not caught here: the command's `errors.handle_errors` turns bad configuration,
    flags or inputs (`ConfigError`, `BuildError`, a corpus or speaker-map error, `--out` a file)
    into one line and exit 2, and a stage failure into one line and exit 1. `--out` inside a
    corpus folder is refused (exit 2) before anything runs. A stage waiting
    for people prints where it stands and exits 3.
    """
    from edu_affect_data.build import EXIT_WAITING, run_build
    from edu_affect_data.cli.errors import check_out_folder
    from edu_affect_data.config import load_config, parse_overrides
    from edu_affect_data.corpora.config import check_out_outside_corpora

    check_out_folder(out)
    pipeline = load_config(config, {**parse_overrides(set_ or []), **(overrides or {})})
    check_out_outside_corpora(pipeline.corpora, out)
    if dry_run:
        from edu_affect_data.dry_run import plan_build

        plan = plan_build(pipeline, out, until=until, start_from=start_from, force=force, verify=verify)
        for line in plan.lines():
            typer.echo(line)
        return
    result = run_build(
        pipeline, out, until=until, start_from=start_from, force=force, verify=verify, dask_scheduler=dask_scheduler
    )
    if not result.complete:
        typer.echo(f"{result.waiting_stage}: {result.message}; rerun this command to resume")
        raise typer.Exit(EXIT_WAITING)
    typer.echo(result.message)


def corpus_roots(pairs: list[str], iemocap: Path | None = None, mosei: Path | None = None) -> dict[str, Path]:
    """`--corpus NAME=PATH` values (and the `--iemocap`/`--mosei` shorthands) as name -> root.

    A malformed or repeated value is a `ConfigError`: one line, exit 2, like the same key in a file.
    """
    from edu_affect_data.config import ConfigError

    roots: dict[str, Path] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise ConfigError(f"--corpus {pair!r}: expected NAME=PATH, e.g. --corpus mosei=/data/CMU_MOSEI")
        roots[name.strip()] = Path(text.strip())
    for name, flag in (("iemocap", iemocap), ("mosei", mosei)):
        if flag is not None:
            if name in roots:
                raise ConfigError(f"--{name} and --corpus {name}=... both given; keep one")
            roots[name] = flag
    return roots


@app.command("build")
def build(
    config: Annotated[Path, typer.Argument(help="Pipeline YAML, e.g. pipelines/demo.yaml.")],
    iemocap: Annotated[Path | None, typer.Option(help="IEMOCAP_full_release/ folder (sets corpora.iemocap.root).")] = None,
    mosei: Annotated[Path | None, typer.Option(help="CMU-MOSEI folder (sets corpora.mosei.root).")] = None,
    corpus: Annotated[
        list[str] | None,
        typer.Option("--corpus", help="NAME=PATH: read registered corpus NAME at PATH (sets corpora.NAME.root); repeatable."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Build folder: every artifact and build_state.json.")] = Path("build-output"),
    until: Annotated[str | None, typer.Option(help=f"Stop after this stage ({STAGE_HELP}).")] = None,
    start_from: Annotated[
        str | None, typer.Option("--from", help="Start at this stage; earlier stages' outputs must exist.")
    ] = None,
    force: Annotated[str | None, typer.Option(help="Rerun this stage and every later one even if unchanged.")] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            metavar=FLAG,
            help="Check the SHA-256 of every recorded output before reusing it, not only of those whose "
            "size, mtime or inode changed (finds damage that kept the file's stat).",
        ),
    ] = False,
    set_: Annotated[list[str] | None, set_option("gaps.threshold_s=1.5")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (sets features.workers).")] = None,
    dask_scheduler: Annotated[
        str | None, typer.Option(help="Run parallel work on this Dask scheduler (tcp://host:8786).")
    ] = None,
    dry_run: Annotated[bool, dry_run_option()] = False,
) -> None:
    """Run the stages in order, skipping those whose inputs did not change (exit 3: waiting for people).

    Examples:

      edu-data build pipelines/demo.yaml --iemocap corpora/IEMOCAP_full_release --mosei corpora/CMU_MOSEI --out build-output

      edu-data build pipelines/demo.yaml --out build-output --until ingest --set gaps.threshold_s=1.5

      edu-data build pipelines/demo.yaml --corpus mosei=corpora/CMU_MOSEI --out build-output --force features

      edu-data build pipelines/demo.yaml --out build-output --set gaps.threshold_s=3 --dry-run
    """
    overrides: dict[str, Any] = {
        f"corpora.{name}.root": path.resolve() for name, path in corpus_roots(corpus or [], iemocap, mosei).items()
    }
    if workers is not None:
        overrides["features.workers"] = workers
    run_stages(
        config, set_, out, overrides=overrides, until=until, start_from=start_from, force=force, verify=verify,
        dask_scheduler=dask_scheduler, dry_run=dry_run,
    )
