"""`edu-data`: a thin typer layer; every command calls one library function and prints.

Each submodule registers the commands of one area on `app`. Another installed package adds its
own commands through the entry-point group `edu_affect_data.commands`: each entry point names a
`register(app)` function that adds them (and names its user errors, `errors.Typer.add_user_errors`).
The model package joins this way (`edu-data train/experiments/evaluate/report/predict`), so this
package never imports it. Every command goes through `cli.errors.handle_errors` (the app is an
`errors.Typer`): an error is one line and exit 2 for a user error, 1 for a failed stage, with the
traceback only under `edu-data --debug`.

Examples in help texts follow one convention, so that tests/test_help_examples.py finds and checks
every one (parsed by its command, its config loaded with its `--set` values): a full command line
starts with `edu-data ` on its own line of the command's docstring; an option's help shows its own
flag with a value (`--set KEY=VALUE`, a key the command reads); an argument's help shows
`e.g. VALUE`. Paths in examples are relative to the repository, as in the README.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import typer

from edu_affect_data.cli.errors import FLAG, Typer, set_debug
from edu_affect_data.core.registry import Registry, RegistryError

COMMANDS_GROUP = "edu_affect_data.commands"

app = Typer(
    name="edu-data",
    help="Build the learner-emotion dataset from IEMOCAP and CMU-MOSEI, annotate it, train on it.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def main(
    debug: bool = typer.Option(
        False, "--debug", metavar=FLAG, help="On an error, also print the traceback (default: one line naming what is wrong)."
    ),
) -> None:
    """Build the learner-emotion dataset from IEMOCAP and CMU-MOSEI, annotate it, train on it."""
    from edu_affect_data.core.arrow_memory import choose_arrow_pool
    from edu_affect_data.core.progress import quiet_library_bars

    choose_arrow_pool()  # before any command loads pyarrow: Arrow reads its allocator once
    set_debug(debug)
    quiet_library_bars()  # a log file gets plain lines, never another library's progress bar


@app.command()
def version() -> None:
    """Print the installed version."""
    from edu_affect_data import __version__

    typer.echo(__version__)


@app.command("config-reference")
def config_reference() -> None:
    """Print the Markdown reference of every pipeline configuration key (the block kept in docs/configuration.md)."""
    from edu_affect_data.config_doc import config_reference_markdown

    typer.echo(config_reference_markdown())


def _check_commands(name: str, register: Any) -> Callable[[Typer], None]:
    if not callable(register):
        raise RegistryError(f"{register!r} is not a register(app) function")
    return register


#: Packages that add commands: name -> `register(app)` (entry points; `register` for tests).
COMMAND_PLUGINS: Registry[Callable[[Typer], None]] = Registry("edu-data command plugin", COMMANDS_GROUP, _check_commands)


def add_plugin_commands(target: Typer) -> None:
    """Let every command plugin add its commands to `target`; a broken one fails naming itself."""
    for name in COMMAND_PLUGINS.names():
        register = COMMAND_PLUGINS.get(name)  # an entry point that does not import names itself
        try:
            register(target)
        except Exception as exc:
            raise RegistryError(f"edu-data command plugin {name!r}: its register(app) failed: {exc}") from exc


for _area in ("synth", "build", "annotate", "dataset", "sessions", "agreement"):
    importlib.import_module(f"{__name__}.{_area}")
add_plugin_commands(app)
