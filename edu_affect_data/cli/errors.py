"""The one error path of `edu-data`: every failure becomes one line on stderr and an exit status.

Exit statuses: 2 for a user error (a bad input file, folder, table, configuration or flag: the
user fixes something and reruns), 1 for a stage that failed on good input. The line names the
path, session or recording the exception names; the traceback is printed only with
`edu-data --debug ...`, so a hostile input never greets a new user with 40 lines of frames.

Which exceptions are user errors is decided here, in one place, by exception type (`USER_ERRORS`,
subclasses included): a configuration or flag the user wrote (`ConfigError`, `BuildError` with
its held lock on `--out`, `CampaignError`), a file or folder the user named (a corpus folder,
speaker map, ratings table, labeling config, truth file, model or weights), and an OS error about
a path (missing, a file where a folder is needed, no permission). Everything else (a stage's
`RuntimeError`, `WorkerLost`, a `SplitError` about an upstream artifact, a library error) is a
stage failure: exit 1, the message names the recording or session the stage was working on.
A package that adds commands to the app (`edu_affect_data.commands` entry points) names its own
user errors on it (`Typer.add_user_errors`); this module names none of another package's.

Ctrl-C and SIGTERM stop any command the same way (`core.interrupt`): the command unwinds (its
temporaries removed, its workers and ffmpeg children stopped), then one line says where it stopped
and what to do (`edu-data build`: the stage, and that a rerun resumes), and the exit status is
128 + the signal number: 130 for Ctrl-C, 143 for SIGTERM.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from typer.models import CommandFunctionType

from edu_affect_data.core.interrupt import interrupt_on_signals, interruption, take_requested

EXIT_FAILED = 1
EXIT_USER_ERROR = 2

#: Packages of the project (their exceptions' messages are written to be shown as they are); a
#: package adding commands joins them on its app (`Typer.add_user_errors`).
PROJECT_PACKAGES = ("edu_affect_data",)
#: Exceptions (by `module.QualName`, subclasses included) that mean "fix what you gave and rerun".
#: Named, not imported: checking a status must not import torch; `tests/faults` imports each.
USER_ERRORS = (
    "edu_affect_data.core.strict_config.ConfigError",
    "edu_affect_data.build_errors.BuildError",
    "edu_affect_data.core.lock.LockHeld",
    "edu_affect_data.annotation.campaign.CampaignError",
    "edu_affect_data.corpora.common.CorpusLayoutError",
    "edu_affect_data.corpora.mosei.SpeakerMapError",
    "edu_affect_data.annotation.estimators.VotesTableError",
    "edu_affect_data.annotation.labeling.LabelingConfigError",
    "edu_affect_data.annotation.simulate.TruthError",
    "edu_affect_data.annotation.gold.GoldFileError",
    "edu_affect_data.annotation.pseudonyms.PseudonymFileError",
    "edu_affect_data.stages.features.embedder.EmbedderError",
    "edu_affect_data.stages.features.text.TextModelError",
    "edu_affect_data.core.registry.RegistryError",
    "edu_affect_data.stages.validate.NotADataset",
    "edu_affect_data.audit.AuditError",
)
#: OS errors that are about a path the user gave, not about the machine (a full disk is not).
PATH_ERRORS: tuple[type[OSError], ...] = (
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)

P = ParamSpec("P")
R = TypeVar("R")


def _project_error(exc: BaseException, packages: Collection[str]) -> bool:
    return any(cls.__module__.split(".")[0] in packages for cls in type(exc).__mro__[:-1])


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def exit_status(exc: BaseException, user_errors: Collection[str] = USER_ERRORS) -> int:
    """2 for a user error (`user_errors`, or an OS error naming a path), 1 for a failed stage."""
    if any(_qualified(cls) in user_errors for cls in type(exc).__mro__):
        return EXIT_USER_ERROR
    if isinstance(exc, PATH_ERRORS) and exc.filename is not None:
        return EXIT_USER_ERROR
    return EXIT_FAILED


def one_line(exc: BaseException, packages: Collection[str] = PROJECT_PACKAGES) -> str:
    """The exception as one line: multi-line messages (a config's key list) joined with '; '.

    An OS error gets `PATH: what is wrong`; an exception from outside the project is prefixed with
    its type, since its message alone ("cannot reshape ...") does not say what kind of failure it is.
    """
    if isinstance(exc, OSError) and exc.filename is not None:
        target = f" -> {exc.filename2}" if exc.filename2 is not None else ""
        text = f"{exc.filename}{target}: {exc.strerror or exc}"
    else:
        text = str(exc) or type(exc).__name__
        if not _project_error(exc, packages):
            text = f"{type(exc).__name__}: {text}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    head, rest = lines[0], lines[1:]
    if not rest:
        return head
    return f"{head.rstrip(':')}: {'; '.join(rest)}"


class _Flags:
    """`edu-data --debug`, set by the app callback on every invocation (so a test's next call resets it)."""

    debug = False


def set_debug(enabled: bool) -> None:
    """Record the root command's `--debug` (called by the app callback, which runs first every time)."""
    _Flags.debug = enabled


def debug_requested() -> bool:
    """Whether this invocation got `--debug`."""
    return _Flags.debug


def report(
    exc: BaseException, user_errors: Collection[str] = USER_ERRORS, packages: Collection[str] = PROJECT_PACKAGES
) -> typer.Exit:
    """Print `error: ...` (and the traceback with --debug) on stderr; the Exit to raise."""
    status = exit_status(exc, user_errors)
    if debug_requested():
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    hint = "" if status == EXIT_USER_ERROR or debug_requested() else " (rerun with --debug for the traceback)"
    typer.echo(f"error: {one_line(exc, packages)}{hint}", err=True)
    return typer.Exit(status)


def report_interruption(exc: KeyboardInterrupt) -> typer.Exit:
    """Print where the command stopped (and the traceback with --debug) on stderr; the Exit to raise."""
    stopped = interruption(exc)
    if debug_requested():
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    typer.echo(str(stopped), err=True)
    return typer.Exit(stopped.exit_status)


def handle_errors(
    function: Callable[P, R], user_errors: Collection[str] = USER_ERRORS, packages: Collection[str] = PROJECT_PACKAGES
) -> Callable[P, R]:
    """Run a command body with SIGINT/SIGTERM raising; an exception except click's own becomes
    `report`'s line and status, an interruption `report_interruption`'s.

    `user_errors` and `packages` are read when an error happens (an app passes its live sets).
    """

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with interrupt_on_signals():
                try:
                    return function(*args, **kwargs)
                except Exception as exc:
                    if (stopped := take_requested()) is not None:  # caused by the signal (a worker it reached first)
                        raise stopped from exc
                    raise
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # exit statuses and usage errors the command chose itself
        except KeyboardInterrupt as exc:
            raise report_interruption(exc) from exc
        except Exception as exc:
            raise report(exc, user_errors, packages) from exc

    return wrapper


def check_out_folder(out: Path, flag: str = "--out") -> None:
    """`--out` must be a folder or not exist yet: a file there is a user error named up front."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(20, f"{flag} must be a folder (or not exist yet), but it is a file", str(out))


#: The type column of a flag in `--help` (`metavar=FLAG`): a flag takes no value, and typer would
#: print `<bool>` there, as if `--force true` were the way to write it.
FLAG = ""


class Typer(typer.Typer):
    """A typer app whose every command goes through `handle_errors` (the one error path).

    The app holds which exceptions are user errors for its commands: this module's `USER_ERRORS`,
    and those a package that adds commands names with `add_user_errors`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_errors: set[str] = set(USER_ERRORS)
        self.project_packages: set[str] = set(PROJECT_PACKAGES)

    def add_user_errors(self, *names: str) -> None:
        """Exceptions (`module.QualName`, subclasses included) of a package adding commands that mean
        "fix what you gave": exit 2; the package's messages are then shown as they are written."""
        for name in names:
            module, _, qualname = name.rpartition(".")
            if not module or not qualname:
                raise ValueError(f"user error {name!r} is not 'module.QualName'")
            self.user_errors.add(name)
            self.project_packages.add(module.split(".")[0])

    def command(self, *args: Any, **kwargs: Any) -> Callable[[CommandFunctionType], CommandFunctionType]:
        register = super().command(*args, **kwargs)

        def decorator(function: CommandFunctionType) -> CommandFunctionType:
            register(handle_errors(function, self.user_errors, self.project_packages))
            return function

        return decorator
