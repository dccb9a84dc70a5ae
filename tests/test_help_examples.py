"""Every example in every `edu-data ... --help` is read from the commands and checked for meaning.

Issue 20: `annotate status --help` showed `--set annotation.maximum_annotations=2`, a key removed
two rounds earlier, and `split --help` an example of a features key. The help texts are read from
the command objects that `--help` renders (the data package's commands and the model's, which join
through the `edu_affect_data.commands` entry point), so a new command is covered without editing
this file. What counts as an example (the convention `edu_affect_data.cli` documents):

* a line starting `edu-data ` in a command's help: a full command line; it must name that command;
* an option's help showing its own flag with a value (`--set KEY=VALUE`): that option, given so;
* an argument's help showing `e.g. VALUE`, or a path in parentheses (`(model/configs/*.yaml)`,
  each file of a glob): that argument.

Each example is parsed by its command (its click parser: flags exist, values convert, required
arguments filled from the arguments' own examples) and then checked for meaning: the pipeline,
training or suite config it names loads with its `--set` values (a removed or misspelled key fails
here), a `--set` key is one the command's stages read, stage names exist, `--corpus` pairs parse and
a `split:row` session names a split. Running them would need a finished build, a Label Studio
server or a trained run; the loaders are what would reject them first.
"""

from __future__ import annotations

import glob
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer

from edu_affect_data.build import STAGES
from edu_affect_data.cli import app
from edu_affect_data.cli.build import corpus_roots
from edu_affect_data.config import load_config, parse_overrides
from edu_affect_data.core.vocabulary import SPLITS

REPO = Path(__file__).resolve().parents[1]
ROOT = typer.main.get_command(app)
#: The stages whose config keys a command's `--set` may name (the keys it reads; build: any).
STAGES_OF: dict[tuple[str, ...], tuple[str, ...]] = {
    ("build",): tuple(s.name for s in STAGES),
    ("split",): ("split",),
    ("features",): ("features",),
    ("publish",): ("publish",),
    **{("annotate", sub): ("annotate", "pull", "aggregate") for sub in ("push", "pull", "status", "adjudicate")},
}
#: Commands whose `--set` amends a training config (every other `--set` amends the pipeline's).
MODEL_COMMANDS = {("train",), ("experiments",)}
STAGE_FLAGS = ("until", "start_from")


def commands() -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, command) of every command under `edu-data`, groups included."""

    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
        yield path, command
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, (*path, name))

    yield from walk(ROOT, ())


@dataclass
class Example:
    path: tuple[str, ...]
    #: Example values by parameter name (an argument's, or an option's flag and value).
    given: list[str] = field(default_factory=list)
    where: str = ""

    def __str__(self) -> str:
        return f"edu-data {' '.join(self.path)} {shlex.join(self.given)}  ({self.where})"


def argument_examples(param: Any) -> list[str]:
    """The example values an argument's help shows (`e.g. X`, or a path in parentheses, glob expanded)."""
    values = []
    for match in re.finditer(r"e\.g\. ([^\s(),;]+)|\(([^\s()]*/[^\s()]*)\)", param.help or ""):
        value = (match.group(1) or match.group(2)).rstrip(".")
        values.extend(sorted(glob.glob(value, root_dir=REPO)) if "*" in value else [value])
    return values


def _filled(command: Any) -> list[str]:
    """The command's required arguments, each given its own first example (or a harmless value)."""
    args = []
    for param in _required(command):
        examples = argument_examples(param)
        args.append(examples[0] if examples else ".")  # the repository (the cwd): a folder that exists
    return args


def _required_options(command: Any, but: Any = None) -> list[str]:
    """Required options (`experiments --out`) but `but`, with a harmless value, so an example of another parses."""
    return [
        word
        for p in command.params
        if p.param_type_name == "option" and p.required and p is not but
        for word in (p.opts[0], ".")
    ]


def examples() -> Iterator[Example]:
    for path, command in commands():
        for text in (command.help or "", command.epilog or ""):
            for line in text.splitlines():
                if line.strip().startswith("edu-data "):
                    words = shlex.split(line.strip())[1:]
                    assert tuple(words[: len(path)]) == path, f"the help of {path} shows another command: {line}"
                    yield Example(path, words[len(path) :], "command help")
        for param in command.params:
            if param.param_type_name == "argument":
                for value in argument_examples(param):
                    args = [value if p is param else a for p, a in zip(_required(command), _filled(command), strict=True)]
                    yield Example(path, [*args, *_required_options(command)], f"argument {param.name}")
                continue
            for flag in param.opts:
                for match in re.finditer(rf"(?<![\w-]){re.escape(flag)}[ =]([^\s()]+)", param.help or ""):
                    value = match.group(1).rstrip(".,;")
                    others = _required_options(command, but=param)
                    yield Example(path, [*_filled(command), *others, flag, value], f"option {flag}")


def _required(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "argument" and p.required]


EXAMPLES = list(examples())


def test_the_examples_are_found() -> None:
    """Guards the extraction itself: the known examples are there, so the checks below are not vacuous."""
    shown = {str(e).split("  (")[0] for e in EXAMPLES}
    assert "edu-data annotate status pipelines/demo.yaml --set annotation.overlap.max=3" in shown
    assert "edu-data split pipelines/demo.yaml --set split.folds=5" in shown
    assert any(e.path == ("train",) and "train.epochs=3" in e.given for e in EXAMPLES)
    assert any(e.path == ("predict",) and "test:3" in e.given for e in EXAMPLES)
    with_set = {path for path, command in commands() if any(p.name == "set_" for p in command.params)}
    assert with_set == {e.path for e in EXAMPLES if "--set" in e.given}, "a command with --set shows no example of it"
    assert len(EXAMPLES) >= 30


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_every_help_example_parses_and_means_something(example: Example, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # examples name files relative to the repository, as the README does
    command = ROOT
    for name in example.path:
        command = command.commands[name]
    context = command.make_context(" ".join(example.path), list(example.given))
    check(example.path, context.params)


def check(path: tuple[str, ...], params: dict[str, Any]) -> None:
    """What an example's values mean: the loaders and lookups the command would run first."""
    sets = list(params.get("set_") or [])
    if path in MODEL_COMMANDS:
        from edu_emotionnet.config import load_train_config
        from edu_emotionnet.config import parse_overrides as train_overrides
        from edu_emotionnet.experiments import load_suite

        overrides = train_overrides(sets)
        if path == ("train",):
            load_train_config(Path(params["config"]), overrides)
        else:
            assert load_suite(Path(params["suite"]), overrides)
    elif "config" in params:
        load_config(Path(params["config"]), parse_overrides(sets))
        if sets:
            readable = {key for stage in STAGES if stage.name in STAGES_OF[path] for key in stage.config_keys}
            for item in sets:
                key = item.partition("=")[0]
                assert any(key == k or key.startswith(f"{k}.") for k in readable), (
                    f"--set {key}: `edu-data {' '.join(path)}` reads none of it (its stages read {sorted(readable)})"
                )
    else:
        assert not sets, f"{path}: --set without a config to load it into"
    for name in STAGE_FLAGS:
        if params.get(name) is not None:
            assert params[name] in {s.name for s in STAGES}, params[name]
    if path == ("build",) and isinstance(params.get("force"), str):
        assert params["force"] in {s.name for s in STAGES}
    if params.get("corpus"):
        corpus_roots(params["corpus"])
    if path == ("predict",) and ":" in params["session"]:
        split, _, row = params["session"].partition(":")
        assert split in SPLITS and row.isdigit(), params["session"]


def test_no_flag_shows_a_type_in_help() -> None:
    """Issue 22: every switch showed `<bool>` in `--help`, as if it took a value. A flag's type column
    is empty (`metavar=FLAG`); typer's own `--help` and completion options are not ours to change."""
    typed = [
        f"edu-data {' '.join(path)} {param.opts[0]}"
        for path, command in commands()
        for param in command.params
        if getattr(param, "is_flag", False) and param.name not in {"help", "install_completion", "show_completion"}
        and param.metavar != ""
    ]
    assert typed == []
