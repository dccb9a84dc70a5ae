"""`edu-data`: a thin typer layer; every command calls one library function and prints.

Each submodule registers the commands of one area on `app`.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="edu-data",
    help="Build the learner-emotion dataset from IEMOCAP and CMU-MOSEI, annotate it, train on it.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)



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
