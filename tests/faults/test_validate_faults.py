"""Fault matrix of `edu-data validate`: a wrong card or a damaged shard is a named violation, never "valid".

Each case damages a copy of a published build (`tests.features.fake_build.published_build`) and
checks the violation (its check and where it points) and the CLI: exit 1, the file or split named,
no traceback. `FAULT_KINDS` counts the kinds covered here (the "Faults tried" table of docs/troubleshooting.md reads it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edu_affect_data.cli import app
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.stages.validate import validate_dataset
from tests import test_validate
from tests.faults.test_agreement_faults import one_error_line

#: The fixtures of `tests/test_validate.py`: a published build, and a writable copy of it per test.
build = test_validate.build
copy = test_validate.copy


def _card_count(dataset: Path, block: str, split: str, change: Callable[[int], int]) -> None:
    """Change the card's `edu_affect.<block>.<split>` count in place."""
    readme = dataset / "README.md"
    text = readme.read_text()
    if block == "class_counts":  # one level deeper: class_counts.<split>.<class>
        pattern = re.compile(rf"(\n  class_counts:\n(?:    \w+:\n(?:      \w+: \d+\n)+)*?    {split}:\n      Confused: )(\d+)")
    else:
        pattern = re.compile(rf"(\n  {block}:\n(?:    \w+: \d+\n)*?    {split}: )(\d+)")
    found = pattern.search(text)
    assert found is not None, block
    readme.write_text(text[: found.start(2)] + str(change(int(found[2]))) + text[found.end(2) :])


def _dataset_info_examples(dataset: Path) -> None:
    readme = dataset / "README.md"
    text = readme.read_text()
    found = re.search(r"  - name: train\n    num_bytes: \d+\n    num_examples: (\d+)", text)
    assert found is not None
    readme.write_text(text[: found.start(1)] + str(int(found[1]) + 1) + text[found.end(1) :])


def _train_shard(dataset: Path, k: int = 1) -> Path:
    return sorted((dataset / "data").glob("train-*.parquet"))[k]


def _truncate(dataset: Path) -> None:
    shard = _train_shard(dataset)
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])


def _garbage(dataset: Path) -> None:
    _train_shard(dataset).write_bytes(b"this is not parquet at all")


def _delete(dataset: Path) -> None:
    _train_shard(dataset).unlink()


#: name -> (damage, the violation's check, where it points: a split or a file under the dataset).
FAULTS: dict[str, tuple[Callable[[Path], None], str, Callable[[Path], str]]] = {
    "wrong card sessions count": (lambda d: _card_count(d, "sessions", "test", lambda n: n + 1), "session-count", lambda d: "test"),
    "wrong card speakers count": (lambda d: _card_count(d, "speakers", "train", lambda n: n - 1), "speaker-count", lambda d: "train"),
    "wrong card class count": (lambda d: _card_count(d, "class_counts", "validation", lambda n: n + 2), "class-counts", lambda d: "validation"),
    "wrong dataset_info examples": (_dataset_info_examples, "dataset-info", lambda d: "train"),
    "truncated shard": (_truncate, "shard", lambda d: str(_train_shard(d).relative_to(d))),
    "not a Parquet shard": (_garbage, "shard", lambda d: str(_train_shard(d).relative_to(d))),
}
FAULT_KINDS = len(FAULTS) + 3  # + a deleted shard, a card without front matter, no dataset folder


def _cli(dataset: Path) -> str:
    result = CliRunner().invoke(app, ["validate", str(dataset)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_wrong_card_or_a_damaged_shard_is_a_named_violation(fault: str, copy: BuildPaths) -> None:
    damage, check, where = FAULTS[fault]
    expected_where = where(copy.dataset)  # before the damage: a deleted file has no name after
    damage(copy.dataset)
    violations = validate_dataset(copy.dataset)
    assert any(v.check == check and v.where == expected_where for v in violations), violations
    assert f"[{check}] {expected_where}: " in _cli(copy.dataset)


def test_a_damaged_shard_is_named_and_the_other_shards_are_still_read(copy: BuildPaths) -> None:
    name = str(_train_shard(copy.dataset).relative_to(copy.dataset))
    _truncate(copy.dataset)
    violations = validate_dataset(copy.dataset)
    shard = [v for v in violations if v.check == "shard"]
    assert [v.where for v in shard] == [name] and "unreadable Parquet" in shard[0].message
    # The rows of the damaged shard are missing, so the card's counts disagree for train only.
    assert {v.where for v in violations if v.check == "session-count"} == {"train"}


def test_a_deleted_shard_is_named(copy: BuildPaths) -> None:
    shard = _train_shard(copy.dataset)
    name = shard.relative_to(copy.dataset).as_posix()
    shard.unlink()
    violations = validate_dataset(copy.dataset)
    missing = [v for v in violations if v.check == "layout"]
    assert [(v.where, v.message) for v in missing] == [(name, "shard missing (the card lists it)")]
    assert {"session-count", "dataset-info", "accounted"} <= {v.check for v in violations}
    assert f"[layout] {name}: shard missing (the card lists it)" in _cli(copy.dataset)


def test_a_card_without_front_matter_is_a_violation(copy: BuildPaths) -> None:
    readme = copy.dataset / "README.md"
    readme.write_text("# just a title\n")
    violations = validate_dataset(copy.dataset)
    assert [(v.check, v.message) for v in violations] == [("card", "README.md has no YAML front matter")]


def test_no_dataset_folder_is_one_line_exit_2(tmp_path: Path) -> None:
    absent = tmp_path / "no-such-dataset"
    result = CliRunner().invoke(app, ["validate", str(absent)])
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert str(absent) in line and "not a dataset folder" in line


def test_the_intact_copy_is_valid(copy: BuildPaths) -> None:
    assert validate_dataset(copy.dataset) == []
