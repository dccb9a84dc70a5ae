"""What a stage's inputs are, as one hash (skip or run) and as a readable summary (why it runs).

The hash covers the package version, the config keys the stage declares (as validated), for
ingest the corpora listings (`core.fingerprint.path_fingerprint`), and the recorded SHA-256 of
every file each upstream stage wrote (see `edu_affect_data.build`). The summary is what
`core.rerun.rerun_reasons` compares to name a change: the same config values as the dataset card
shows them (`stages.card.public_config`: no path of this machine in `build_state.json`) with a
digest of each real value, the corpora fingerprints, and one digest per upstream stage's files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from edu_affect_data import __version__
from edu_affect_data.config import PipelineConfig
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.core.fingerprint import json_digest, path_fingerprint
from edu_affect_data.stages.card import public_config

if TYPE_CHECKING:
    from edu_affect_data.core.stage import StageSpec


def stage_inputs(
    spec: StageSpec, config: PipelineConfig, paths: BuildPaths, state: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """(SHA-256 over the stage's inputs, their readable summary) from one reading of them."""
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
    for name in spec.upstream:  # the digests recorded when it wrote them, checked before this stage
        files = (state["stages"].get(name) or {}).get("files", {})
        upstream[name] = {rel: entry.get("sha256") for rel, entry in sorted(files.items())}
    inputs["upstream"] = upstream
    summary = {
        "version": __version__,
        "config": {key: public_config(value, paths) for key, value in inputs["config"].items()},
        "config_digest": {key: json_digest(value) for key, value in inputs["config"].items()},
        "corpora": inputs.get("corpora", {}),
        "upstream": {name: json_digest(files) for name, files in upstream.items()},
    }
    return json_digest(inputs), summary


def input_hash(spec: StageSpec, config: PipelineConfig, paths: BuildPaths, state: dict[str, Any]) -> str:
    """SHA-256 over the stage's config values, corpora listing and upstream outputs' recorded digests."""
    return stage_inputs(spec, config, paths, state)[0]


def _lookup(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for key in dotted.split("."):
        node = node[key]
    return node
