"""`edu-data build --dry-run`: which stages a build would run and why, and who would be asked to work.

The plan comes from the build's own check (`build_check.check_stage`, the same reasons the real
build prints as "running because ..."), stage by stage in build order. A stage with no reason of
its own whose upstream stage runs "may run": the build reruns it only if that stage's outputs come
out different (a rerun to byte-identical outputs spares it), which only running it can tell.

When the annotate stage would run, the plan names the sessions that would go to the annotators
(`stages.annotation_queue`). Nothing is written: no folder, no lock, no state, no
`build_config.json` (tests/test_dry_run.py compares the build folder byte for byte).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edu_affect_data.build import load_state, require_upstream, select_stages, stage_config
from edu_affect_data.build_check import check_stage
from edu_affect_data.config import PipelineConfig
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.rerun import Reason
from edu_affect_data.core.stage import StageSpec
from edu_affect_data.stages.annotation_queue import AnnotatorQueue, annotator_queue

#: Sessions listed by id before the plan says how many more there are.
SHOWN_SESSIONS = 20
#: The one config change whose effect on the kept sessions the manifest can tell without ingest.
THRESHOLD_KEY = "gaps.threshold_s"


@dataclass(frozen=True)
class StagePlan:
    spec: StageSpec
    #: "runs", "may run" (only if an upstream stage's outputs change) or "skipped".
    verdict: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class BuildPlan:
    stages: tuple[StagePlan, ...]
    #: Sessions that would go to annotators (None: annotate would not run, or is not in the plan).
    annotators: AnnotatorQueue | None
    #: Why the sessions for annotators cannot be listed yet (empty when they are, or none go).
    annotators_unknown: str = ""

    def lines(self) -> list[str]:
        """The plan as a person reads it: one line per stage, its reasons, then the annotators' part."""
        out: list[str] = []
        for plan in self.stages:
            head = f"{plan.spec.name:>9} {plan.verdict}" + (f" ({plan.spec.title})" if plan.spec.title else "")
            out.append(head + (": " + "; ".join(str(r) for r in plan.reasons) if plan.reasons else ""))
        if self.annotators_unknown:
            out.append(f"annotators: {self.annotators_unknown}")
        elif self.annotators is not None:
            ids = self.annotators.sessions
            shown = ", ".join(ids[:SHOWN_SESSIONS]) + (f", ... and {len(ids) - SHOWN_SESSIONS} more" if len(ids) > SHOWN_SESSIONS else "")
            out.append(f"annotators: {len(ids)} session(s) would go to annotators ({self.annotators.how})" + (f": {shown}" if ids else ""))
        runs = [p.spec.name for p in self.stages if p.verdict != "skipped"]
        out.append(f"dry run: {len(runs)} of {len(self.stages)} stage(s) would or may run; nothing was written")
        return out


def plan_build(
    config: PipelineConfig,
    out: Path,
    *,
    until: str | None = None,
    start_from: str | None = None,
    force: str | None = None,
    verify: bool = False,
    stages: Sequence[StageSpec] | None = None,
) -> BuildPlan:
    """What `run_build` with the same arguments would do, read from `out` without writing to it."""
    paths = BuildPaths(Path(out))
    selection = select_stages(stages, until, start_from, force)
    state = load_state(paths.build_state)
    require_upstream(selection.selected, selection.before, state, paths, verify)
    for spec in selection.selected:
        stage_config(spec, config)  # a stage declaring an unknown key fails here as in the build
    plans: list[StagePlan] = []
    moving: set[str] = set()  # stages that run or may run
    for spec in selection.selected:
        reasons = check_stage(spec, selection, config, paths, state, verify).reasons
        pending = [name for name in spec.upstream if name in moving]
        if reasons:
            plan = StagePlan(spec, "runs", tuple(reasons))
        elif pending:
            plan = StagePlan(spec, "may run", tuple(
                Reason("upstream-reruns", f"{name} runs first: this stage reruns if its outputs change") for name in pending
            ))  # fmt: skip
        else:
            plan = StagePlan(spec, "skipped", ())
        if plan.verdict != "skipped":
            moving.add(spec.name)
        plans.append(plan)
    return _with_annotators(tuple(plans), config, paths)


def _with_annotators(plans: tuple[StagePlan, ...], config: PipelineConfig, paths: BuildPaths) -> BuildPlan:
    """The plan with the sessions that would go to annotators, when annotate would run."""
    by_name = {plan.spec.name: plan for plan in plans}
    annotate = by_name.get("annotate")
    if annotate is None or annotate.verdict == "skipped":
        return BuildPlan(plans, None)
    ingest = by_name.get("ingest")
    if ingest is None or ingest.verdict == "skipped":
        if not paths.sessions.is_file():
            return BuildPlan(plans, None, f"{paths.sessions} does not exist: build up to ingest first")
        return BuildPlan(plans, annotator_queue(paths))
    threshold_only = paths.sessions.is_file() and all(
        r.code == "config" and r.detail.startswith(f"{THRESHOLD_KEY}:") for r in ingest.reasons
    )
    if threshold_only:
        return BuildPlan(plans, annotator_queue(paths, threshold_s=config.gaps.threshold_s, min_s=config.sessions.min_s))
    return BuildPlan(plans, None, (
        "ingest runs first, so which sessions are kept is known only after it: run "
        "`edu-data build ... --until ingest`, then `--dry-run` again to list them"
    ))  # fmt: skip
