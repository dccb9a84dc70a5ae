"""Stages and a driver for the signal tests: `edu-data build` running one stage of our choice.

`run(stage, config, out)` replaces the build's stages with one (`STAGES` is read when a build
starts) and runs the real command line, so an interrupted run goes through everything a user's
does: the CLI's signal handlers and its one line, the build's stage loop and lock, the build's
process pool. `clips` is the clip-making the annotate stage does (`make_clips` over the build's
executor), without the Label Studio server around it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from edu_affect_data.annotation.clips import clips_dir, make_clips
from edu_affect_data.annotation.options import ClipConfig
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.stage import StageOutcome

CLIP = ClipConfig(height=96, fps=12.5, crf=30)
#: stage -> (target, config keys): the real functions, except `clips` below.
TARGETS = {
    "clips": ("tests.faults.signal_stages:clips", ("name",)),
    "features": ("edu_affect_data.stages.features:run_features", ("features", "gaps")),
    "publish": ("edu_affect_data.stages.publish:run_publish", ("name", "dataset", "features", "gaps")),
}


def media_root(out: Path) -> Path:
    return Path(out) / "media"


def kept_sessions(sessions: Path) -> list[dict[str, Any]]:
    return [row for row in pq.read_table(sessions).to_pylist() if row["status"] == "kept"]


def clips(config: Any, paths: BuildPaths, *, executor: Any = None) -> StageOutcome:
    """The kept sessions' clips under OUT/media/clips/, cut on the build's executor."""
    made = make_clips(kept_sessions(paths.sessions), media_root(paths.out), CLIP, executor=executor)
    return StageOutcome(True, f"{len(made)} clips", (clips_dir(media_root(paths.out)),))


def script(stage: str, config: Path, out: Path) -> str:
    """`python -c` source running `edu-data build CONFIG --out OUT` with `stage` as the only stage."""
    target, keys = TARGETS[stage]
    return (
        "import edu_affect_data.build as build\n"
        f"build.STAGES = (build.StageSpec({stage!r}, {target!r}, {keys!r}),)\n"
        "from edu_affect_data.cli import app\n"
        f"app(['build', {str(config)!r}, '--out', {str(out)!r}], prog_name='edu-data')\n"
    )
