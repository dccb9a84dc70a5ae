"""What every pipeline stage function returns, so `edu-data build` can drive them uniformly.

A stage is a plain function `run(config: PipelineConfig, paths: BuildPaths, *, executor=None)
-> StageOutcome`. It reads the previous artifact, writes its own (validated first), and says
whether the pipeline may go on: annotation by real people returns `complete=False` until every
session has its votes, and the build stops there with a documented exit status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class StageOutcome:
    complete: bool
    message: str
    outputs: tuple[Path, ...] = ()
    #: Figures for the build log (counts, seconds, ...).
    stats: dict[str, float | int | str] = field(default_factory=dict)
