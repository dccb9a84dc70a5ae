"""Why a stage runs: the one function behind the build's "reran because ..." lines and `--dry-run`.

A build skips a stage only when it finished before, on the same inputs, and its outputs are still
the files it wrote (`core.outputs`). Whichever of those fails is the reason it runs, and a user who
must defend a number needs it named: *which* config key changed (old -> new), *which* corpus
folder's listing, *which* upstream stage's outputs, *which* output file. So each stage record in
`build_state.json` keeps, beside the hash of its inputs, a readable summary of them
(`InputSummary`: the config values it read as the card would show them, a digest per value, the
corpora fingerprints and a digest per upstream stage's outputs); `rerun_reasons` compares that
summary with today's. An empty list means the stage is skipped: the build decides with it, so the
dry run and the real run cannot disagree.

Reason codes (stable; docs/pipeline.md lists them):

- `first-run`: no record of the stage in this build folder;
- `forced`: `--force` names it or an earlier stage;
- `incomplete`: it did not finish last time (waiting for people, failed, interrupted);
- `output`: an output file is missing, changed or not written by the stage;
- `version`: the package version changed;
- `config`: a config key the stage reads changed (named, with old -> new);
- `input`: a corpus folder or file the stage reads changed (its fingerprint, named);
- `upstream`: an upstream stage's outputs changed since this stage last ran;
- `upstream-reruns`: (dry run only) an upstream stage will rerun first: this one reruns only if
  those outputs come out different;
- `inputs`: the input hash changed but the record predates the summary (no detail kept).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edu_affect_data.core.outputs import Change

#: Changed outputs named one by one before the reasons say how many more there are.
SHOWN_CHANGES = 5

REASON_CODES = (
    "first-run", "forced", "incomplete", "output", "version", "config", "input", "upstream", "upstream-reruns", "inputs",
)  # fmt: skip


@dataclass(frozen=True)
class Reason:
    """One reason a stage runs: a code from `REASON_CODES` and the readable detail."""

    code: str
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


def rerun_reasons(
    record: Mapping[str, Any] | None,
    digest: str,
    summary: Mapping[str, Any],
    *,
    changes: Sequence[Change] = (),
    forced_by: str | None = None,
) -> list[Reason]:
    """Every reason the stage with this `record` must run on inputs `digest`/`summary`; [] to skip it.

    `changes`: its recorded outputs that are no longer what it wrote (`check_outputs`);
    `forced_by`: the stage `--force` names, when it is this one or an earlier one.
    """
    reasons: list[Reason] = []
    if forced_by is not None:
        reasons.append(Reason("forced", f"--force {forced_by}"))
    if record is None:
        return [*reasons, Reason("first-run", "no record of this stage in build_state.json")]
    reasons.extend(Reason("output", str(change)) for change in changes[:SHOWN_CHANGES])
    if len(changes) > SHOWN_CHANGES:
        reasons.append(Reason("output", f"... and {len(changes) - SHOWN_CHANGES} more changed outputs"))
    if not record.get("complete"):
        last = record.get("message") or "no message recorded"
        reasons.append(Reason("incomplete", f"did not complete last time ({last})"))
    if record.get("input_hash") != digest:
        reasons.extend(input_changes(record.get("inputs"), summary))
    return reasons


def input_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[Reason]:
    """What differs between two input summaries, one reason per config leaf, corpus path or upstream stage."""
    if old is None:
        return [Reason("inputs", "inputs changed (recorded by an older build: no detail kept)")]
    reasons: list[Reason] = []
    if old.get("version") != new.get("version"):
        reasons.append(Reason("version", f"package version {old.get('version')} -> {new.get('version')}"))
    old_digests, new_digests = old.get("config_digest", {}), new.get("config_digest", {})
    for key in sorted(set(old_digests) | set(new_digests)):
        if old_digests.get(key) == new_digests.get(key):
            continue
        before, after = old.get("config", {}).get(key, _ABSENT), new.get("config", {}).get(key, _ABSENT)
        if before is _ABSENT or after is _ABSENT:  # the stage's declared keys changed (a new version of it)
            now = f"now read by this stage ({_shown(after)})" if before is _ABSENT else "no longer read by this stage"
            reasons.append(Reason("config", f"{key}: {now}"))
            continue
        leaves = leaf_changes(key, before, after)
        reasons.extend(Reason("config", line) for line in leaves)
        if not leaves:  # the values differ only where the summary shows a path by its name
            reasons.append(Reason("config", f"{key}: a path outside the build folder changed"))
    old_corpora, new_corpora = old.get("corpora", {}), new.get("corpora", {})
    for name in sorted(set(old_corpora) | set(new_corpora)):
        before, after = old_corpora.get(name, {}), new_corpora.get(name, {})
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                reasons.append(Reason("input", f"corpora.{name}.{key}: {_fingerprint_change(before.get(key), after.get(key))}"))
    old_up, new_up = old.get("upstream", {}), new.get("upstream", {})
    for name in sorted(set(old_up) | set(new_up)):
        if old_up.get(name) != new_up.get(name):
            reasons.append(Reason("upstream", f"the outputs of {name} changed since this stage last ran"))
    return reasons or [Reason("inputs", "the input hash changed (no recorded input differs)")]


def leaf_changes(prefix: str, old: Any, new: Any) -> list[str]:
    """`key.sub: old -> new` for every leaf that differs between two dumped config values."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            lines.extend(leaf_changes(f"{prefix}.{key}", old.get(key, _ABSENT), new.get(key, _ABSENT)))
        return lines
    if old == new:
        return []
    return [f"{prefix}: {_shown(old)} -> {_shown(new)}"]


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "(not set)"
    return json.dumps(value, sort_keys=True, default=str)


def _fingerprint_change(old: str | None, new: str | None) -> str:
    if old is None:
        return "newly read"
    if new is None:
        return "no longer read"
    if new == "missing":
        return "the folder or file is gone"
    return "its fingerprint changed (a file added, removed, resized, touched or its permissions changed)"


class _Absent:
    def __repr__(self) -> str:
        return "(not set)"


_ABSENT: Any = _Absent()
