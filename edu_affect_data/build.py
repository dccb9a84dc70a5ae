"""`edu-data build`: run the stages in order, skipping those whose inputs did not change, saying why.

Stages are data (`STAGES`): a name, the `module:function` that runs it, the config keys and
upstream stages it reads. A stage module is imported only when the build reaches it, so a
pipeline can run up to a stage while later ones are still being written or lack optional
dependencies.

`build_state.json` (under `--out`) records per stage the hash of its inputs, the outputs it
reported, every file under them with its size, mtime, inode and SHA-256 (`core.outputs`), and
whether it completed. A stage is skipped only when it completed before with the same input hash
and its outputs are still the files it wrote: before deciding, each recorded file is checked
(stat always, the digest where the stat changed, every digest with `verify`, i.e.
`edu-data build --verify`). A changed file is named, deleted (a stage that reuses its finished
files by name, such as ingest's proxies or the feature parts, must not reuse it) and its stage
reruns. Damage that kept the stat is found when the file is read: project Parquet carries page
checksums (`core.parquet`), and a stage that meets a `DamagedParquet` makes the build delete the
file and rerun the stage that wrote it, then go on; where that stage is not part of this run
(`--from`), the build stops with exit 1 naming the file and the stage. Whether a stage runs is
decided by `build_check.check_stage`, whose reasons (`core.rerun`: which config key old -> new,
which corpus folder, upstream stage or output file) the build prints on the stage's first line
and `edu-data build --dry-run` (`dry_run.py`) prints without running anything. The input hash covers

* the package version and the stage's config keys (as validated, so formatting and comments
  do not matter; a code change within one version needs `--force STAGE`),
* for ingest, the corpora as a listing of every file's relative path, size, mtime and permissions
  (not their content: hashing IEMOCAP's ~13 GB on every build would cost minutes), following
  symlinked folders once each and listing dangling links with their targets (never a crash),
* the recorded SHA-256 of every file each upstream stage wrote (checked as above, so content,
  not modification times: an upstream stage rerun to byte-identical outputs spares the stages
  after it).

Every digest is `edu_affect_data.core.fingerprint`'s (`path_fingerprint`, `file_digest`, `json_digest`).

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

Each build first writes `build_config.json` (`write_build_config`): the whole resolved configuration
(paths as the card shows them) and whether each corpus is synthetic. The dataset card embeds it.
It is deliberately not an input of any stage: a change that no stage reads (`features.workers`)
must not rerun publish. The card still describes the build that made its dataset, because a stage
is skipped only when every key it reads is unchanged, so the configuration a publish run sees agrees
with every upstream stage on the keys they read (unless `--from` skipped stages without checking).
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from rich.console import Console
from rich.markup import escape

from edu_affect_data.build_check import Selection, StageCheck, check_stage, reasons_line
from edu_affect_data.build_errors import BuildError, BuildLocked, DamagedInput
from edu_affect_data.build_state import load_state, relative_to_out, save_state, stage_record
from edu_affect_data.config import PipelineConfig
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.atomic import atomic_write_text
from edu_affect_data.core.interrupt import (
    checkpoint,
    interrupt_on_signals,
    interruption,
    take_requested,
)
from edu_affect_data.core.lock import LockHeld, hold_out_lock
from edu_affect_data.core.outputs import check_outputs
from edu_affect_data.core.parallel import executor_or_pool
from edu_affect_data.core.parquet import damage_behind
from edu_affect_data.core.progress import log_console
from edu_affect_data.core.stage import ConfigSlice, StageOutcome, StageSpec, UnknownConfigKey
from edu_affect_data.corpora.registry import get_corpus
from edu_affect_data.stages.card import public_config

#: Exit status of `edu-data build` when a stage waits for people (annotation, adjudication).
EXIT_WAITING = 3

StageFunction = Callable[..., StageOutcome]


STAGES: tuple[StageSpec, ...] = (
    StageSpec(
        "ingest", "edu_affect_data.stages.ingest:run_ingest", ("corpora", "sessions", "gaps", "media"), reads_corpora=True,
        title="read the corpora, cut sessions, drop those with gaps",
    ),
    StageSpec(
        "annotate", "edu_affect_data.stages.annotate:run_annotate", ("seed", "annotation"), ("ingest",),
        title="cut clips, send tasks to Label Studio, wait for the votes",
    ),
    StageSpec(
        "pull",
        "edu_affect_data.stages.pull:run_pull",
        ("seed", "annotation", "aggregation.min_votes"),
        ("ingest", "annotate"),
        title="pull and check the votes from Label Studio",
    ),
    StageSpec(
        "aggregate",
        "edu_affect_data.stages.aggregate:run_aggregate",
        ("seed", "aggregation", "annotation.gold", "annotation.overlap"),
        ("annotate", "pull"),  # annotate: the gold tasks it drew (annotation/gold.parquet)
        title="turn the votes into labels",
    ),
    StageSpec(
        "split", "edu_affect_data.stages.split:run_split", ("seed", "balance", "split"), ("ingest", "aggregate"),
        title="balance the classes and split by speaker",
    ),
    StageSpec(
        "features",
        "edu_affect_data.stages.features:run_features",
        ("features", "gaps"),
        ("ingest", "split"),
        title="extract audio, video and text features",
    ),
    StageSpec(
        "publish",
        "edu_affect_data.stages.publish:run_publish",
        ("name", "dataset", "features", "gaps"),
        ("ingest", "aggregate", "split", "features"),
        title="write the dataset and its card",
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
    verify: bool = False,
    executor: Executor | None = None,
    dask_scheduler: str | None = None,
    stages: Sequence[StageSpec] | None = None,
    console: Console | None = None,
) -> BuildResult:
    """Run `stages[start_from..until]` under `out`, skipping unchanged ones; `force` reruns from there.

    `verify`: compare every recorded output's SHA-256, not only those whose stat changed.
    `stages` defaults to `STAGES` (looked up at call time, so tests can register fake stages).
    """
    console = console or log_console()
    paths = BuildPaths(Path(out))
    selection = select_stages(stages, until, start_from, force)
    state = load_state(paths.build_state)
    require_upstream(selection.selected, selection.before, state, paths, verify)
    views = {spec.name: stage_config(spec, config) for spec in selection.selected}

    paths.out.mkdir(parents=True, exist_ok=True)
    try:
        with interrupt_on_signals(), hold_out_lock(paths.out, lambda text: console.print(f"[yellow]warning:[/] {text}")):
            write_build_config(config, paths)
            return _run_stages(selection, views, config, paths, state, verify, executor, dask_scheduler, console)
    except LockHeld as exc:
        raise BuildLocked(str(exc)) from None


def select_stages(
    stages: Sequence[StageSpec] | None, until: str | None, start_from: str | None, force: str | None
) -> Selection:
    """`stages[start_from..until]` (default `STAGES`), every flag checked against the stage names."""
    stages = STAGES if stages is None else tuple(stages)
    names = [s.name for s in stages]
    for flag, value in (("--until", until), ("--from", start_from), ("--force", force)):
        if value is not None and value not in names:
            raise BuildError(f"{flag} {value}: unknown stage (stages: {', '.join(names)})")
    first = names.index(start_from) if start_from else 0
    last = names.index(until) if until else len(names) - 1
    if first > last:
        raise BuildError(f"--from {start_from} comes after --until {until}")
    return Selection(list(stages[first : last + 1]), names, force)


def _run_stages(
    selection: Selection,
    views: dict[str, PipelineConfig],
    config: PipelineConfig,
    paths: BuildPaths,
    state: dict[str, Any],
    verify: bool,
    executor: Executor | None,
    dask_scheduler: str | None,
    console: Console,
) -> BuildResult:
    """The stage loop of `run_build`, run while holding the lock on `--out`.

    Each stage is checked (`check_stage`) and runs only with a reason, printed on one line
    ("running because config: gaps.threshold_s: 2.0 -> 3.0"). A stage that meets a damaged file
    sends the loop back to the stage that wrote it (`_recompute_from`); each file gets one such
    repair per build. An interruption leaves it as `Interrupted` naming the stage it stopped in and
    the stages done (`_interruption_named`), once the pool has stopped (leaving `_build_executor`).
    """
    selected, names = selection.selected, selection.names
    ran: list[str] = []
    skipped: list[str] = []
    outcomes: dict[str, StageOutcome] = {}
    repaired: set[str] = set()
    position = 0
    with _build_executor(config, executor, dask_scheduler) as pool, _interruption_named(names, ran, skipped) as current:
        while position < len(selected):
            checkpoint()
            spec = selected[position]
            current.stage = spec.name
            record = state["stages"].get(spec.name)
            check = check_stage(spec, selection, config, paths, state, verify)
            _settle_outputs(record, check, paths, state)
            if not check.reasons:
                console.print(f"[bold]{spec.name:>9}[/] skipped: inputs unchanged, outputs as the stage wrote them")
                skipped.append(spec.name)
                position += 1
                continue
            what = f" ({escape(spec.title)})" if spec.title else ""
            console.print(f"[bold]{spec.name:>9}[/] running{what} because {reasons_line(check.reasons)}")
            started = time.perf_counter()
            try:
                outcome = resolve_stage(spec.target)(views[spec.name], paths, executor=pool)
            except Exception as exc:
                checkpoint()  # an error that a stop signal caused (a worker it reached first) is the stop
                order = [s.name for s in selected[: position + 1]]
                back = _recompute_from(exc, spec.name, order, paths, state, repaired, console)
                if back is None:
                    raise
                skipped[:] = [name for name in skipped if name not in order[back:]]  # in place: _interruption_named reads it
                position = back
                continue
            seconds = time.perf_counter() - started
            outcomes[spec.name] = outcome
            ran.append(spec.name)
            state["stages"][spec.name] = stage_record(check, outcome, seconds, paths, record)
            save_state(paths.build_state, state)
            colour = "green" if outcome.complete else "yellow"
            console.print(f"[bold]{spec.name:>9}[/] [{colour}]{'done' if outcome.complete else 'waiting'}[/] "
                          f"in {seconds:.1f} s: {escape(outcome.message)}")
            if not outcome.complete:
                return BuildResult(False, outcome.message, tuple(ran), tuple(skipped), spec.name, outcomes)
            position += 1
        checkpoint()  # a signal during the last stage, which finished: "stopped after stage ..."
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
    except (KeyboardInterrupt, Exception) as exc:
        stopped = take_requested() if isinstance(exc, Exception) else interruption(exc)
        if stopped is None:
            raise
        done = [name for name in names if name in ran or name in skipped]
        if current.stage is None:
            where = "before the first stage"
        elif current.stage in done:
            where = f"after stage {current.stage}"
        else:
            where = f"in stage {current.stage}"
        if done:
            where += f" ({', '.join(done)} done)"
        raise stopped.during(where, "rerun the same command to resume") from exc


def _settle_outputs(record: dict[str, Any] | None, check: StageCheck, paths: BuildPaths, state: dict[str, Any]) -> None:
    """Act on what `check_stage` found in the stage's recorded outputs (the real build only).

    Changed files are deleted: the stage would otherwise reuse them by name on the rerun (a proxy,
    a feature part). The record is then marked incomplete at once, so a rerun that fails still
    leaves the stage to run next time. Unchanged files whose stat moved (a touch) get the new stat.
    """
    if record is None or check.refreshed is None:
        return
    if not check.changes:
        if check.refreshed != record["files"]:
            record["files"] = check.refreshed
            save_state(paths.build_state, state)
        return
    for change in check.changes:
        if change.path in record["files"]:
            (paths.out / change.path).unlink(missing_ok=True)
    record["files"], record["complete"] = check.refreshed, False
    save_state(paths.build_state, state)


def _recompute_from(
    exc: BaseException,
    stage: str,
    order: list[str],
    paths: BuildPaths,
    state: dict[str, Any],
    repaired: set[str],
    console: Console,
) -> int | None:
    """Where the loop resumes after `stage` met a damaged file: the position in `order` of its writer.

    None when `exc` is not about a damaged file. The file is deleted and its writer reruns; a file
    no stage of this run can recompute (written before `--from`, by no stage, or damaged again
    after a recompute) stops the build with `DamagedInput`.
    """
    damaged = damage_behind(exc)
    if damaged is None:
        return None
    rel = relative_to_out(damaged.path, paths)
    owner = next((name for name, record in state["stages"].items() if rel in record.get("files", {})), None)
    what = f"{stage}: {damaged.path} is damaged ({damaged.reason})"
    if owner is None:
        raise DamagedInput(f"{what}; no stage of this build wrote it") from exc
    if owner not in order:
        raise DamagedInput(f"{what}; stage {owner} wrote it: rerun from there (edu-data build --from {owner})") from exc
    if rel in repaired:
        raise DamagedInput(f"{what} again after stage {owner} recomputed it: check the disk") from exc
    repaired.add(rel)
    (paths.out / rel).unlink(missing_ok=True)
    state["stages"][owner]["complete"] = False
    save_state(paths.build_state, state)
    console.print(f"[bold]{stage:>9}[/] [yellow]{rel} is damaged[/] ({damaged.reason}): deleted; rerunning {owner}, which wrote it")
    return order.index(owner)


def write_build_config(config: PipelineConfig, paths: BuildPaths) -> Path:
    """`build_config.json`: the resolved configuration with every path made public as the card shows
    it (`stages.card.public_config`: no path of this machine in an artifact), and per configured
    corpus whether its plugin says it is synthetic (`CorpusPlugin.synthetic`)."""
    corpora = {
        name: {"synthetic": bool(get_corpus(name).synthetic(entry.root))}
        for name, entry in sorted(config.corpora.items())
        if entry.root is not None
    }
    document = {"config": public_config(config.model_dump(mode="json"), paths), "corpora": corpora}
    return atomic_write_text(paths.build_config, json.dumps(document, indent=2, sort_keys=True) + "\n")


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


def require_upstream(
    selected: list[StageSpec], before: list[str], state: dict[str, Any], paths: BuildPaths, verify: bool
) -> None:
    """With --from, the stages not run must have left complete outputs, as they wrote them, for the ones that are."""
    checked: set[str] = set()
    for spec in selected:
        for name in spec.upstream:
            if name not in before or name in checked:
                continue
            checked.add(name)
            record = state["stages"].get(name)
            if record is None or not record["complete"] or "files" not in record:
                problem = f"which {paths.build_state} does not show complete"
            else:
                changes, refreshed = check_outputs(paths.out, record["outputs"], record["files"], verify=verify)
                record["files"] = refreshed
                more = f" (and {len(changes) - 1} more)" if len(changes) > 1 else ""
                problem = f"whose output {changes[0]}{more}" if changes else ""
            if problem:
                raise BuildError(
                    f"--from {selected[0].name}: stage {spec.name} needs the outputs of {name}, "
                    f"{problem}; build up to {name} first"
                )


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
            # pure=False: every submit is its own task, as on a pool (no hashing of the arguments
            # for a key, no merging of two equal submits into one result).
            dask = client.get_executor(pure=False)
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
