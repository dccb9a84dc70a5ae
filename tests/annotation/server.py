"""Whether the local Label Studio server is there, what a test does when it is not, and the
machinery of the fault tests: a second, killable server and a fault-injecting proxy."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pytest
import requests

from edu_affect_data.annotation.client import (
    LabelStudioNotConfigured,
    LabelStudioSettings,
    RetryPolicy,
    connect,
    find_project,
    load_settings,
)
from edu_affect_data.annotation.review import adjudication_title
from tests.annotation.small_corpus import REPO


def server_or_reason() -> tuple[LabelStudioSettings | None, str]:
    try:
        settings = load_settings()
    except LabelStudioNotConfigured as exc:
        return None, str(exc)
    session = requests.Session()
    session.trust_env = False  # a local server: never through a proxy
    try:
        healthy = session.get(f"{settings.url}/health", timeout=5).status_code == 200
    except requests.RequestException as exc:
        return None, f"Label Studio at {settings.url} is not reachable ({type(exc).__name__})"
    return (settings, "") if healthy else (None, f"Label Studio at {settings.url} is not healthy")


def unavailable(reason: str) -> None:
    """Fail under CI (the server is part of `make test`), skip with the reason locally."""
    message = f"{reason}; start it with `bash scripts/labelstudio.sh start`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def running_server() -> LabelStudioSettings:
    """The running server's settings; without one, what :func:`unavailable` does."""
    settings, reason = server_or_reason()
    if settings is None:
        unavailable(reason)
        raise AssertionError("unreachable")
    return settings


def delete_projects(settings: LabelStudioSettings, title: str) -> None:
    """Delete a campaign's projects (``title`` and its adjudication project), those that exist."""
    ls = connect(settings)
    for name in (title, adjudication_title(title)):
        project_id = find_project(ls, name, settings)
        if project_id is not None:
            ls.projects.delete(id=project_id)


# --- A second, disposable Label Studio instance and a fault-injecting proxy -------------------------
#
# Tests that stop, kill or break the server never touch the one scripts/labelstudio.sh runs for
# everyone: they start their own instance (own LS_HOME, port and SQLite copy of the main database,
# so it starts warm in a few seconds) and put a small HTTP proxy in front of it that can answer 502,
# or SIGKILL the server before or after forwarding a chosen request.

SCRIPT = REPO / "scripts" / "labelstudio.sh"
MAIN_HOME = REPO / ".labelstudio"
#: Patient enough to outlast a warm restart on a loaded 2-core machine (about 85 s in all: a
#: restart takes ~3 s idle, but 30 s and more were seen at a load average of 7).
RESTART_PATIENCE = RetryPolicy(attempts=30, first_delay_s=0.5, max_delay_s=3.0)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "content-length"}


def script(home: Path, action: str) -> None:
    """``scripts/labelstudio.sh ACTION`` for the instance living in ``home``."""
    environment = {**os.environ, "LS_HOME": str(home)}
    subprocess.run(["bash", str(SCRIPT), action], env=environment, check=True, capture_output=True, timeout=300)


@dataclass
class SecondServer:
    """A Label Studio instance of the test's own, which it may stop, SIGKILL and restart."""

    home: Path
    settings: LabelStudioSettings
    kills: int = 0

    def pid(self) -> int | None:
        pid_file = self.home / "server.pid"
        if not pid_file.exists():
            return None
        pid = int(pid_file.read_text().strip())
        return pid if _alive(pid) else None

    def alive(self) -> bool:
        return self.pid() is not None

    def start(self) -> None:
        script(self.home, "start")

    def stop(self) -> None:
        script(self.home, "stop")

    def kill(self) -> None:
        """SIGKILL the server and everything it spawned (it leads its own process group), as a crash."""
        pid = self.pid()
        if pid is None:
            raise AssertionError(f"the server in {self.home} is not running; nothing to kill")
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(pid):
            if time.monotonic() > deadline:
                raise AssertionError(f"pid {pid} survived SIGKILL for 10 s")
            time.sleep(0.05)
        (self.home / "server.pid").unlink()
        self.kills += 1


def _alive(pid: int) -> bool:
    """Running and not a zombie (a killed server whose parent is gone may linger unreaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextmanager
def second_server(main: LabelStudioSettings, root: Path, retry: RetryPolicy) -> Iterator[SecondServer]:
    """Start a warm copy of the main server under ``root``; always stopped afterwards."""
    if not (MAIN_HOME / "secrets").exists() or not (MAIN_HOME / "data" / "label_studio.sqlite3").exists():
        unavailable(f"this test clones the server that scripts/labelstudio.sh manages in {MAIN_HOME}")
    home = root / "ls-second"
    (home / "data").mkdir(parents=True)
    with sqlite3.connect(MAIN_HOME / "data" / "label_studio.sqlite3") as source, sqlite3.connect(
        home / "data" / "label_studio.sqlite3"
    ) as copy:
        source.backup(copy)
    shutil.copy2(MAIN_HOME / "data" / ".env", home / "data" / ".env")
    shutil.copy2(MAIN_HOME / "secrets", home / "secrets")
    script(home, "start")
    try:
        found = load_settings(home / "env")
        assert found.url != main.url
        yield SecondServer(home, LabelStudioSettings(found.url, found.api_key, found.document_root, found.origin, retry))
    finally:
        script(home, "stop")


#: What the proxy does with one request: pass it on, answer 502 itself, or crash the server
#: before passing it on (the request never arrives) or after (the work is done, the answer is lost).
Fault = Literal["forward", "502", "kill-before", "kill-after"]


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 whose ``rule(method, path)`` picks a :data:`Fault` per request.

    While the server is down a forwarded request gets no answer at all (the connection is closed),
    as a client talking to a dead server would see. ``seen`` records (method, path, status or None).
    """

    def __init__(self, upstream: str, kill: Callable[[], None] | None = None) -> None:
        self.upstream = urlsplit(upstream)
        self.kill = kill
        self.rule: Callable[[str, str], Fault] = lambda method, path: "forward"
        self.seen: list[tuple[str, str, int | None]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                return

            def _handle(self) -> None:
                proxy.handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _record(self, method: str, path: str, status: int | None) -> None:
        with self._lock:
            self.seen.append((method, path, status))

    def _crash(self) -> None:
        if self.kill is None:
            raise AssertionError("a kill fault needs FaultProxy(kill=...)")
        self.kill()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        request.close_connection = True
        method, path = request.command, request.path
        if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            raise AssertionError(f"{method} {path}: chunked request bodies are not supported by this proxy")
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        with self._lock:
            fault = self.rule(method, urlsplit(path).path)
        if fault == "502":
            self._record(method, path, 502)
            page = b"<html><body>\n<h1>502 Bad Gateway</h1>\n</body></html>\n"
            request.send_response(502)
            request.send_header("Content-Type", "text/html")
            request.send_header("Content-Length", str(len(page)))
            request.end_headers()
            request.wfile.write(page)
            return
        if fault == "kill-before":
            self._crash()
        answer = self._forward(method, path, request.headers.items(), body)
        if fault == "kill-after":
            self._crash()
            answer = None
        if answer is None:  # dead server or lost answer: close without a response
            self._record(method, path, None)
            return
        status, headers, content = answer
        self._record(method, path, status)
        request.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(content)))
        request.end_headers()
        request.wfile.write(content)

    def _forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        connection = http.client.HTTPConnection(self.upstream.hostname or "127.0.0.1", self.upstream.port, timeout=120)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP:
                    connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        except (ConnectionError, http.client.HTTPException, OSError):
            return None
        finally:
            connection.close()
