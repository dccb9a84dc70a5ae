"""`edu-data build`: run the stages in order, skipping those whose inputs did not change.

Stages are data (`STAGES`): a name, the `module:function` that runs it, the config keys and
upstream stages it reads. A stage module is imported only when the build reaches it, so a
pipeline can run up to a stage while later ones are still being written or lack optional
dependencies.

`build_state.json` (under `--out`) records per stage the hash of its inputs, the outputs it
reported and whether it completed. A stage is skipped when it completed before with the same
input hash and all its outputs still exist, each Parquet output still reading with the row count
and schema recorded when the stage completed (a truncated table means rerun). The input hash covers

* the package version and the stage's config keys (as validated, so formatting and comments
  do not matter; a code change within one version needs `--force STAGE`),
* for ingest, the corpora as a listing of every file's relative path, size, mtime and permissions
  (not their content: hashing IEMOCAP's ~13 GB on every build would cost minutes), following
  symlinked folders once each and listing dangling links with their targets (never a crash),
* the fingerprint of each upstream stage's outputs: SHA-256 of file content for files, the
  listing (path, size, mtime) for folders such as per-session feature shards.

Every digest is `edu_affect_data.core.fingerprint`'s (`path_fingerprint`, `json_digest`).

Each stage function receives a `ConfigSlice` of the configuration holding only its declared
`config_keys` (the keys its input hash covers); reading any other key fails, naming the stage
and the key, instead of silently skipping the stage on a changed input.

A stage that returns `complete=False` (people still annotating) stops the build with its message;
it is never skipped on the next run, which resumes there. Exit statuses of the CLI: 0 done,
1 a stage failed, 2 bad configuration or flags, 3 waiting for people (see `BuildResult`),
130 / 143 stopped by Ctrl-C / SIGTERM.

Ctrl-C and SIGTERM stop the build within seconds (`core.interrupt`): the stage unwinds (ffmpeg
children killed, temporaries removed), the process pool is stopped (`parallel.LocalPool.stop`:
no worker is waited for beyond a short grace), the lock is released and `Interrupted` names the
stage it stopped in; a rerun resumes from what the stages had finished.

One build at a time per `--out`: `run_build` holds `edu_affect_data.core.lock.hold_out_lock` throughout,
and a second build fails with `BuildLocked` (exit 2) naming the holder's pid and host.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console

from edu_affect_data import __version__
from edu_affect_data.config import PipelineConfig
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.atomic import atomic_write_text
from edu_affect_data.core.fingerprint import json_digest, path_fingerprint
from edu_affect_data.core.interrupt import interrupt_on_signals, interruption
from edu_affect_data.core.lock import LockHeld, hold_out_lock
from edu_affect_data.core.parallel import executor_or_pool
from edu_affect_data.core.stage import ConfigSlice, StageOutcome, UnknownConfigKey

STATE_VERSION = 1
#: Exit status of `edu-data build` when a stage waits for people (annotation, adjudication).
EXIT_WAITING = 3

StageFunction = Callable[..., StageOutcome]


class BuildError(RuntimeError):
    """The build cannot go on as asked (unknown stage, missing upstream artifacts, bad target)."""


class BuildLocked(BuildError):
    """Another build holds the lock on `--out` (the message names its pid and host)."""


@dataclass(frozen=True)
class StageSpec:
    name: str
    #: "package.module:function" with the signature `(config, paths, *, executor=None) -> StageOutcome`.
    target: str
    #: Dotted config keys whose values are inputs of the stage: hashed, and all the stage may read.
    config_keys: tuple[str, ...]
    #: Stages whose outputs this stage reads.
    upstream: tuple[str, ...] = ()
    #: Whether the source corpora themselves are inputs.
    reads_corpora: bool = False


STAGES: tuple[StageSpec, ...] = (
    StageSpec("ingest", "edu_affect_data.stages.ingest:run_ingest", ("corpora", "sessions", "gaps", "media"), reads_corpora=True),
    StageSpec("annotate", "edu_affect_data.stages.annotate:run_annotate", ("seed", "annotation"), ("ingest",)),
    StageSpec(
        "pull",
        "edu_affect_data.stages.pull:run_pull",
        ("seed", "annotation", "aggregation.min_votes"),
        ("ingest", "annotate"),
    ),
    StageSpec(
        "aggregate", "edu_affect_data.stages.aggregate:run_aggregate", ("seed", "aggregation", "annotation.gold", "annotation.overlap"), ("pull",)
    ),
    StageSpec("split", "edu_affect_data.stages.split:run_split", ("seed", "balance", "split"), ("ingest", "aggregate")),
    StageSpec(
        "features",
        "edu_affect_data.stages.features:run_features",
        ("features", "gaps"),
        ("ingest", "split"),
    ),
    StageSpec(
        "publish",
        "edu_affect_data.stages.publish:run_publish",
        ("name", "dataset", "features", "gaps"),
        ("ingest", "aggregate", "split", "features"),
    ),
)


@dataclass(frozen=True)
class BuildResult:
    #: False when a stage is waiting for people; the CLI then exits with `EXIT_WAITING`.
    complete: bool
    message: str
    ran: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    waiting_stage: str | None = None
    outcomes: dict[str, StageOutcome] = field(default_factory=dict)


def run_build(
    config: PipelineConfig,
    out: Path,
    *,
    until: str | None = None,
    start_from: str | None = None,
    force: str | None = None,
    executor: Executor | None = None,
    dask_scheduler: str | None = None,
    stages: Sequence[StageSpec] | None = None,
    console: Console | None = None,
) -> BuildResult:
    """Run `stages[start_from..until]` under `out`, skipping unchanged ones; `force` reruns from there.

    `stages` defaults to `STAGES` (looked up at call time, so tests can register fake stages).
    """
    stages = STAGES if stages is None else tuple(stages)
    console = console or Console(stderr=True)
    paths = BuildPaths(Path(out))
    names = [s.name for s in stages]
    for flag, value in (("--until", until), ("--from", start_from), ("--force", force)):
        if value is not None and value not in names:
            raise BuildError(f"{flag} {value}: unknown stage (stages: {', '.join(names)})")
    first = names.index(start_from) if start_from else 0
    last = names.index(until) if until else len(names) - 1
    if first > last:
        raise BuildError(f"--from {start_from} comes after --until {until}")
    forced_from = names.index(force) if force else len(names)
    state = load_state(paths.build_state)
    selected = list(stages[first : last + 1])
    _require_upstream(selected, names[:first], state, paths)
    views = {spec.name: stage_config(spec, config) for spec in selected}

    paths.out.mkdir(parents=True, exist_ok=True)
    try:
        with interrupt_on_signals(), hold_out_lock(paths.out, lambda text: console.print(f"[yellow]warning:[/] {text}")):
            return _run_stages(selected, names, forced_from, views, config, paths, state,
                               executor, dask_scheduler, console)
    except LockHeld as exc:
        raise BuildLocked(str(exc)) from None


def _run_stages(
    selected: list[StageSpec],
    names: list[str],
    forced_from: int,
    views: dict[str, PipelineConfig],
    config: PipelineConfig,
    paths: BuildPaths,
    state: dict[str, Any],
    executor: Executor | None,
    dask_scheduler: str | None,
    console: Console,
) -> BuildResult:
    """The stage loop of `run_build`, run while holding the lock on `--out`.

    An interruption leaves it as `Interrupted` naming the stage it stopped in and the stages done
    (`_interruption_named`), once the pool has stopped (leaving `_build_executor`).
    """
    ran: list[str] = []
    skipped: list[str] = []
    outcomes: dict[str, StageOutcome] = {}
    with _build_executor(config, executor, dask_scheduler) as pool, _interruption_named(names, ran, skipped) as current:
        for spec in selected:
            current.stage = spec.name
            digest = input_hash(spec, config, paths, state)
            record = state["stages"].get(spec.name)
            if names.index(spec.name) < forced_from and _up_to_date(record, digest, paths):
                console.print(f"[bold]{spec.name:>9}[/] skipped: inputs unchanged, outputs present")
                skipped.append(spec.name)
                continue
            console.print(f"[bold]{spec.name:>9}[/] running {spec.target}")
            started = time.perf_counter()
            outcome = resolve_stage(spec.target)(views[spec.name], paths, executor=pool)
            seconds = time.perf_counter() - started
            outcomes[spec.name] = outcome
            ran.append(spec.name)
            state["stages"][spec.name] = _record(digest, outcome, seconds, paths)
            save_state(paths.build_state, state)
            colour = "green" if outcome.complete else "yellow"
            console.print(f"[bold]{spec.name:>9}[/] [{colour}]{'done' if outcome.complete else 'waiting'}[/] "
                          f"in {seconds:.1f} s: {outcome.message}")
            if not outcome.complete:
                return BuildResult(False, outcome.message, tuple(ran), tuple(skipped), spec.name, outcomes)
    return BuildResult(True, f"build complete up to {selected[-1].name}", tuple(ran), tuple(skipped), None, outcomes)


@dataclass
class _Current:
    """The stage the loop is in (None: not in one yet)."""

    stage: str | None = None


@contextmanager
def _interruption_named(names: list[str], ran: list[str], skipped: list[str]) -> Iterator[_Current]:
    """Re-raise an interruption of the block as `Interrupted` saying where it stopped and what to do."""
    current = _Current()
    try:
        yield current
    except KeyboardInterrupt as exc:
        done = [name for name in names if name in ran or name in skipped]
        if current.stage is None:
            where = "before the first stage"
        elif current.stage in done:
            where = f"after stage {current.stage}"
        else:
            where = f"in stage {current.stage}"
        if done:
            where += f" ({', '.join(done)} done)"
        raise interruption(exc).during(where, "rerun the same command to resume") from exc


def stage_config(spec: StageSpec, config: PipelineConfig) -> PipelineConfig:
    """The view of `config` that `spec`'s function receives: only its declared `config_keys`.

    Typed as `PipelineConfig` so stage code keeps its annotations; at run time it is a
    `ConfigSlice`, which raises `UndeclaredConfigKey` on any other key.
    """
    try:
        return cast(PipelineConfig, ConfigSlice(config, spec.name, spec.config_keys))
    except UnknownConfigKey as exc:
        raise BuildError(f"stage {spec.name}: {exc}") from exc


def resolve_stage(target: str) -> StageFunction:
    """Import `module:function` now (lazily: only stages the build reaches are imported)."""
    module_name, _, function_name = target.partition(":")
    if not function_name:
        raise BuildError(f"stage target {target!r} is not 'module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BuildError(f"stage target {target!r}: cannot import {module_name}: {exc}") from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise BuildError(f"stage target {target!r}: {module_name} has no function {function_name}")
    return function  # type: ignore[no-any-return]


def _require_upstream(selected: list[StageSpec], before: list[str], state: dict[str, Any], paths: BuildPaths) -> None:
    """With --from, the stages not run must have left complete outputs for the ones that are."""
    for spec in selected:
        for name in spec.upstream:
            if name not in before:
                continue
            record = state["stages"].get(name)
            if record is None or not record["complete"] or not _outputs_exist(record, paths):
                raise BuildError(
                    f"--from {selected[0].name}: stage {spec.name} needs the outputs of {name}, "
                    f"which {paths.build_state} does not show complete and present; build up to {name} first"
                )


def _up_to_date(record: dict[str, Any] | None, digest: str, paths: BuildPaths) -> bool:
    return (
        record is not None
        and record["complete"]
        and record["input_hash"] == digest
        and _outputs_exist(record, paths)
    )


def _outputs_exist(record: dict[str, Any], paths: BuildPaths) -> bool:
    """Every recorded output is there and every recorded Parquet file still reads as recorded.

    A truncated or rewritten `sessions.parquet` exists but is no longer the stage's output, so
    existence alone would skip the stage with broken outputs; the footer holds the row count and
    schema, which costs one small read per file to check.
    """
    if not all((paths.out / rel).exists() for rel in record["outputs"]):
        return False
    recorded: dict[str, dict[str, Any] | None] = record.get("parquet", {})
    return all(_parquet_summary(paths.out / rel) == summary for rel, summary in recorded.items())


def _record(digest: str, outcome: StageOutcome, seconds: float, paths: BuildPaths) -> dict[str, Any]:
    outputs = [_relative(p, paths) for p in outcome.outputs]
    return {
        "input_hash": digest,
        "complete": outcome.complete,
        "outputs": outputs,
        "parquet": _parquet_summaries(outputs, paths),
        "message": outcome.message,
        "stats": outcome.stats,
        "seconds": round(seconds, 3),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _parquet_summaries(outputs: list[str], paths: BuildPaths) -> dict[str, dict[str, Any] | None]:
    """`{relative path: {rows, schema}}` of every Parquet output file (folders: the files under them)."""
    found: list[Path] = []
    for rel in outputs:
        path = paths.out / rel
        if path.is_file() and path.suffix == ".parquet":
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(path.rglob("*.parquet")))
    return {_relative(p, paths): _parquet_summary(p) for p in found}


def _parquet_summary(path: Path) -> dict[str, Any] | None:
    """Row count and schema digest from the Parquet footer; None when the file cannot be read.

    The Parquet schema, not its Arrow form: Arrow renders extension types (`datasets`' Array2D)
    differently depending on whether `datasets` was imported, which made a fresh process see
    "changed" outputs and rerun a finished stage.
    """
    try:
        metadata = pq.read_metadata(path)
    except (OSError, pa.ArrowException):
        return None
    columns = "|".join(f"{c.path}:{c.physical_type}:{c.logical_type}:{c.max_repetition_level}" for c in metadata.schema)
    schema = json_digest(columns, short=True)
    return {"rows": metadata.num_rows, "schema": schema}


def _relative(path: Path, paths: BuildPaths) -> str:
    """Outputs are recorded relative to `--out` when inside it, so a build folder can move."""
    try:
        return str(Path(path).resolve().relative_to(paths.out.resolve()))
    except ValueError:
        return str(Path(path).resolve())


# ------------------------------------------------------------------------------------ hashing
def input_hash(spec: StageSpec, config: PipelineConfig, paths: BuildPaths, state: dict[str, Any]) -> str:
    """SHA-256 over the stage's config values, corpora listing and upstream output fingerprints."""
    dumped = config.model_dump(mode="json")
    inputs: dict[str, Any] = {
        "stage": spec.name,
        "version": __version__,
        "config": {k: _lookup(dumped, k) for k in spec.config_keys},
    }
    if spec.reads_corpora:
        # Every configured corpus's root and every path-valued reader option (e.g. a speaker map).
        inputs["corpora"] = {
            name: {
                key: path_fingerprint(Path(value))
                for key, value in {"root": entry.root, **entry.options}.items()
                if isinstance(value, Path)
            }
            for name, entry in sorted(config.corpora.items())
            if entry.root is not None
        }
    upstream: dict[str, Any] = {}
    for name in spec.upstream:
        record = state["stages"].get(name)
        outputs = record["outputs"] if record else []
        upstream[name] = {rel: path_fingerprint(paths.out / rel, content=True) for rel in outputs}
    inputs["upstream"] = upstream
    return json_digest(inputs)


def _lookup(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for key in dotted.split("."):
        node = node[key]
    return node


# -------------------------------------------------------------------------------------- state
def load_state(path: Path) -> dict[str, Any]:
    """The recorded build state, or an empty one; a state from another format version is ignored."""
    if not path.is_file():
        return {"version": STATE_VERSION, "stages": {}}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BuildError(f"{path}: not valid JSON ({exc}); delete it to rebuild everything") from exc
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION or not isinstance(state.get("stages"), dict):
        return {"version": STATE_VERSION, "stages": {}}
    return state


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write the state atomically (a crash mid-write must not lose what earlier stages did)."""
    atomic_write_text(path, json.dumps(state, indent=2, sort_keys=True, default=str) + "\n")


# ----------------------------------------------------------------------------------- executor
@contextmanager
def _build_executor(
    config: PipelineConfig, executor: Executor | None, dask_scheduler: str | None
) -> Iterator[Executor]:
    """One executor for the whole build: the caller's, a Dask cluster's, or a local process pool.

    A Dask `Client` is not an Executor; its `get_executor()` is (submit, map, `as_completed`). The
    local pool is `parallel.local_pool` with `features.workers` processes (all cores when null);
    its workers start only when a stage submits work, so serial stages cost nothing.
    """
    if executor is None and dask_scheduler is not None:
        with _dask_client(dask_scheduler) as client:
            dask = client.get_executor()
            try:
                yield dask
            except BaseException as exc:
                if not isinstance(exc, Exception):
                    dask.shutdown(wait=False)  # interrupted: cancel the build's tasks on the cluster
                raise
        return
    with executor_or_pool(executor, config.features.workers) as pool:
        yield pool


def _dask_client(address: str) -> Any:
    """A `distributed.Client` of the scheduler at `address`; `BuildError` (exit 2) naming it when unreachable.

    The wait is Dask's own connect timeout (`distributed.comm.timeouts.connect`, 30 s by default).
    """
    try:
        from distributed import Client
    except ImportError as exc:  # optional dependency group `dask`
        raise BuildError("--dask-scheduler needs `pip install edu-affect-data[dask]`") from exc
    try:
        return Client(address)
    except (OSError, ValueError) as exc:  # a timeout is an OSError; a malformed address a ValueError
        raise BuildError(
            f"--dask-scheduler {address}: cannot reach a Dask scheduler there ({exc}); start one "
            "(`dask scheduler`) or leave the flag out to run on local processes"
        ) from exc
