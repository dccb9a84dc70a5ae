"""Stage ``features``: every selected feature extractor over every assigned session, as part files.

The stage function is `run_features` (`run.py`, exported here lazily so that reading the
registry does not import the stage); the extension point is `FeatureExtractor` (`extractor.py`)
with its registry (`registry.py`); the built-ins are `mfcc`, `frames` (with its frame `embedder`)
and `text`. The parts and `index.parquet` are what `publish` reads.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_features"]


def __getattr__(name: str) -> Any:
    if name == "run_features":
        from edu_affect_data.stages.features.run import run_features

        return run_features
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
