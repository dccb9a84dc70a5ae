"""The connection to Label Studio: where it is, which key opens it, and patience when it blips.

Settings come from ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY`` in the environment, else from
``.labelstudio/env`` (written by ``scripts/labelstudio.sh start``) in the working directory or the
repository. The API key is a secret: it is kept out of ``repr``, and every message this package
builds from a server error passes through :func:`redact`, so it never reaches a terminal, log,
exception or file.

Every call to the server, through the SDK or ``requests``, goes through :func:`call_with_retries`:
a server being restarted or failing (connection refused or dropped, any 5xx) is waited for with
exponential backoff, then reported in one clear line naming the URL. Client errors (4xx) are not
retried: they will not get better. The SDK's own retries are switched off (:func:`connect`): it
would replay a POST blindly, while our callers re-check what the server already holds before
trying again, which is what keeps push and vote submission free of duplicates.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import requests
    from label_studio_sdk import LabelStudio

LOG = logging.getLogger(__name__)
_T = TypeVar("_T")

URL_VARIABLE = "LABEL_STUDIO_URL"
KEY_VARIABLE = "LABEL_STUDIO_API_KEY"
#: Where the server serves local files from; clip URLs are relative to it. Default "/" (see the script).
DOCUMENT_ROOT_VARIABLE = "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"
ENV_FILE = Path(".labelstudio") / "env"
#: Statuses from this one up (5xx) mean "the server or a proxy before it failed", worth waiting for.
_FIRST_SERVER_ERROR = 500


class LabelStudioError(RuntimeError):
    """Label Studio refused or could not do what was asked; the message says what and where."""


class LabelStudioUnavailable(LabelStudioError):
    """The server did not answer within the retry budget."""


class LabelStudioNotConfigured(LabelStudioError):
    """No URL/API key in the environment or in a ``.labelstudio/env`` file."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``first_delay_s``, doubling up to ``max_delay_s``, ``attempts`` tries."""

    attempts: int = 7
    first_delay_s: float = 1.0
    max_delay_s: float = 15.0

    def delays(self) -> list[float]:
        return [
            min(self.first_delay_s * 2**i, self.max_delay_s) for i in range(self.attempts - 1)
        ]


@dataclass(frozen=True)
class LabelStudioSettings:
    url: str
    api_key: str = field(repr=False)
    document_root: Path = Path("/")
    #: Where the settings came from, for messages ("environment" or the env file's path).
    origin: str = "environment"
    retry: RetryPolicy = RetryPolicy()

    def redact(self, text: str) -> str:
        return redact(text, self.api_key)


def redact(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` replaced; applied to anything built from errors."""
    return text.replace(secret, "[redacted]") if secret else text


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep:
            raise LabelStudioNotConfigured(f"{path}:{number}: expected KEY=VALUE")
        values[key.strip()] = value.strip()
    return values


def _candidate_env_files() -> list[Path]:
    repo = Path(__file__).resolve().parents[2]
    candidates = [Path.cwd() / ENV_FILE, repo / ENV_FILE]
    return list(dict.fromkeys(candidates))


def load_settings(env_file: Path | None = None) -> LabelStudioSettings:
    """Settings from the environment, else from ``env_file`` or the first ``.labelstudio/env`` found."""
    url, key = os.environ.get(URL_VARIABLE), os.environ.get(KEY_VARIABLE)
    root = os.environ.get(DOCUMENT_ROOT_VARIABLE)
    if url and key and env_file is None:
        return LabelStudioSettings(url.rstrip("/"), key, Path(root or "/"), "environment")
    files = [env_file] if env_file is not None else _candidate_env_files()
    for path in files:
        if path.is_file():
            values = _read_env_file(path)
            missing = [name for name in (URL_VARIABLE, KEY_VARIABLE) if not values.get(name)]
            if missing:
                raise LabelStudioNotConfigured(f"{path}: no value for {', '.join(missing)}")
            return LabelStudioSettings(
                values[URL_VARIABLE].rstrip("/"),
                values[KEY_VARIABLE],
                Path(values.get(DOCUMENT_ROOT_VARIABLE) or root or "/"),
                str(path),
            )
    looked = ", ".join(str(p) for p in files)
    raise LabelStudioNotConfigured(
        f"Label Studio is not configured: set {URL_VARIABLE} and {KEY_VARIABLE}, or start the local "
        f"server with `bash scripts/labelstudio.sh start` (looked for {looked})"
    )


def connect(settings: LabelStudioSettings, api_key: str | None = None) -> LabelStudio:
    """An SDK client for ``settings.url``, as the admin or as the owner of ``api_key``."""
    from label_studio_sdk import LabelStudio

    # max_retries=0: one retry policy (ours), whose callers make each retry idempotent.
    return LabelStudio(base_url=settings.url, api_key=api_key or settings.api_key, max_retries=0)


class ServerError(LabelStudioError):
    """A 5xx answer to a plain ``requests`` call (the SDK raises its ``ApiError`` instead); transient."""

    def __init__(self, status_code: int, url: str) -> None:
        super().__init__(f"HTTP {status_code} from {url.split('?')[0]}")
        self.status_code = status_code


def raise_for_server_error(response: requests.Response) -> requests.Response:
    """``response`` unchanged unless it is a 5xx, which becomes a (retried) :class:`ServerError`."""
    if response.status_code >= _FIRST_SERVER_ERROR:
        raise ServerError(response.status_code, str(response.url))
    return response


def _is_transient(exc: BaseException) -> bool:
    import httpx
    import requests
    from label_studio_sdk.core.api_error import ApiError

    if isinstance(exc, ServerError | httpx.TransportError):
        return True
    if isinstance(exc, requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError):
        return True
    if isinstance(exc, requests.HTTPError):
        return exc.response is not None and exc.response.status_code >= _FIRST_SERVER_ERROR
    return isinstance(exc, ApiError) and exc.status_code is not None and exc.status_code >= _FIRST_SERVER_ERROR


def describe_error(exc: BaseException, settings: LabelStudioSettings) -> str:
    """One line about a failed call, without the API key (and without response headers).

    Whitespace is collapsed (an HTML error page or a chained exception spans lines) and the text is
    cut at 300 characters, so a message built from it stays one readable line.
    """
    from label_studio_sdk.core.api_error import ApiError

    if isinstance(exc, ApiError):
        text = f"HTTP {exc.status_code}: {exc.body}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    one_line = " ".join(settings.redact(text).split())
    return one_line if len(one_line) <= 300 else one_line[:299] + "…"


def call_with_retries(
    call: Callable[[], _T],
    *,
    what: str,
    settings: LabelStudioSettings,
    sleep: Callable[[float], None] = time.sleep,
) -> _T:
    """Run ``call``; on a transient failure wait and try again per ``settings.retry``.

    ``what`` names the operation for messages ("export of project 3"). A call that is not
    idempotent must make itself so (re-check what the server already has) before it is passed here.
    """
    import requests
    from label_studio_sdk.core.api_error import ApiError

    delays = settings.retry.delays()
    for attempt in range(len(delays) + 1):
        try:
            return call()
        except Exception as exc:
            if not _is_transient(exc):
                if isinstance(exc, ApiError | requests.RequestException):
                    raise LabelStudioError(
                        f"{what} at {settings.url} failed: {describe_error(exc, settings)}"
                    ) from None
                raise
            if attempt == len(delays):
                waited = sum(delays)
                raise LabelStudioUnavailable(
                    f"{what}: Label Studio at {settings.url} did not answer after "
                    f"{attempt + 1} tries over {waited:.0f} s ({describe_error(exc, settings)}); "
                    f"is it running? `bash scripts/labelstudio.sh status`"
                ) from None
            LOG.warning(
                "%s: %s; retrying in %.1f s", what, describe_error(exc, settings), delays[attempt]
            )
            sleep(delays[attempt])
    raise AssertionError("unreachable")


def find_project(ls: LabelStudio, title: str, settings: LabelStudioSettings) -> int | None:
    """Id of the one project titled exactly ``title``; None when there is none."""
    def matching() -> list[Any]:
        found: list[Any] = list(ls.projects.list(title=title))
        return [project for project in found if project.title == title]

    projects = call_with_retries(
        matching,
        what=f"lookup of project {title!r}",
        settings=settings,
    )
    if len(projects) > 1:
        ids = sorted(int(p.id) for p in projects if p.id is not None)
        raise LabelStudioError(
            f"several Label Studio projects are titled {title!r} (ids {ids}); rename or delete all but one"
        )
    return int(projects[0].id) if projects and projects[0].id is not None else None


def user_emails(ls: LabelStudio, settings: LabelStudioSettings) -> dict[int, str]:
    """User id -> e-mail of every account the admin can see (to resolve ``completed_by``)."""
    users = call_with_retries(lambda: list(ls.users.list()), what="list of users", settings=settings)
    return {int(u.id): str(u.email) for u in users if u.id is not None}
