"""`edu-data`: a thin typer layer; every command calls one library function and prints.

Each submodule registers the commands of one area on `app`. Every command goes through
`cli.errors.handle_errors` (the app is an `errors.Typer`): an error is one line and exit 2 for a
user error, 1 for a failed stage, with the traceback only under `edu-data --debug`.
"""

from __future__ import annotations

import importlib

import typer

from edu_affect_data.cli.errors import Typer, set_debug

app = Typer(
    name="edu-data",
    help="Build the learner-emotion dataset from IEMOCAP and CMU-MOSEI, annotate it, train on it.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def main(
    debug: bool = typer.Option(
        False, "--debug", help="On an error, also print the traceback (default: one line naming what is wrong)."
    ),
) -> None:
    """Build the learner-emotion dataset from IEMOCAP and CMU-MOSEI, annotate it, train on it."""
    set_debug(debug)


@app.command()
def version() -> None:
    """Print the installed version."""
    from edu_affect_data import __version__

    typer.echo(__version__)


@app.command("config-reference")
def config_reference() -> None:
    """Print the Markdown reference of every pipeline configuration key (as in the README)."""
    from edu_affect_data.config_doc import config_reference_markdown

    typer.echo(config_reference_markdown())


for _area in ("synth", "build", "annotate", "dataset", "train", "agreement"):
    importlib.import_module(f"{__name__}.{_area}")
