"""A `build_state.json` for a build folder assembled by hand, as `edu-data build` would have left it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from edu_affect_data.build_state import STATE_VERSION, save_state
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.outputs import record_outputs


def plant_state(paths: BuildPaths, outputs: Mapping[str, Sequence[str]], input_hash: str = "planted") -> None:
    """Record each stage complete with `outputs` (relative to the build folder) as they are now, digests included."""
    record = {"input_hash": input_hash, "complete": True, "message": "", "stats": {}, "seconds": 0.0}
    save_state(
        paths.build_state,
        {
            "version": STATE_VERSION,
            "stages": {
                stage: {**record, "outputs": list(files), "files": record_outputs(paths.out, files)}
                for stage, files in outputs.items()
            },
        },
    )
