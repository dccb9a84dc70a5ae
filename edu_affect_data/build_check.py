"""Whether a stage runs, and why: the one check behind the build's log lines and `--dry-run`.

`check_stage` reads a stage's recorded outputs (`core.outputs.check_outputs`: a stat, a digest
where the stat moved) and its inputs (`build_inputs.stage_inputs`), and asks
`core.rerun.rerun_reasons` why it must run. It writes nothing: the build then acts on what it found
(`build._settle_outputs` deletes changed outputs before the rerun), the dry run only prints it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from edu_affect_data.build_inputs import stage_inputs
from edu_affect_data.config import PipelineConfig
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.outputs import Change, check_outputs
from edu_affect_data.core.rerun import Reason, rerun_reasons

if TYPE_CHECKING:
    from edu_affect_data.core.stage import StageSpec


@dataclass(frozen=True)
class Selection:
    """The stages a build (or a dry run) goes through, and from where `--force` reruns."""

    selected: list[StageSpec]
    names: list[str]
    #: The stage `--force` names (None: none).
    force: str | None

    @property
    def before(self) -> list[str]:
        """The stages before the first selected one (`--from`): not run, their outputs needed."""
        return self.names[: self.names.index(self.selected[0].name)]

    def forced_by(self, name: str) -> str | None:
        """The `--force` stage when it is `name` or comes before it."""
        if self.force is None or self.names.index(name) < self.names.index(self.force):
            return None
        return self.force


@dataclass(frozen=True)
class StageCheck:
    """Where a stage stands before the build decides: its inputs, its changed outputs, why it runs.

    `reasons` empty: the stage is skipped. The build and `--dry-run` both decide with it.
    """

    digest: str
    summary: dict[str, Any]
    changes: list[Change]
    #: The record's files with the stats seen now (None: the record lists no files).
    refreshed: dict[str, dict[str, Any]] | None
    reasons: list[Reason]


def check_stage(
    spec: StageSpec, selection: Selection, config: PipelineConfig, paths: BuildPaths, state: dict[str, Any], verify: bool
) -> StageCheck:
    """Read what decides whether `spec` runs (outputs, then inputs); writes nothing."""
    record = state["stages"].get(spec.name)
    changes: list[Change] = []
    refreshed: dict[str, dict[str, Any]] | None = None
    if record is not None and "files" not in record:  # not recorded by this version of the build
        changes = [Change("(all outputs)", "not recorded file by file by the build that wrote them")]
    elif record is not None:
        changes, refreshed = check_outputs(paths.out, record["outputs"], record["files"], verify=verify)
    digest, summary = stage_inputs(spec, config, paths, state)
    reasons = rerun_reasons(record, digest, summary, changes=changes, forced_by=selection.forced_by(spec.name))
    return StageCheck(digest, summary, changes, refreshed, reasons)


def reasons_line(reasons: Sequence[Reason]) -> str:
    """The reasons as one log line (markup escaped: config values may hold brackets)."""
    return escape("; ".join(str(reason) for reason in reasons))


