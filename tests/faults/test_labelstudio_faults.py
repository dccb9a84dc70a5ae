"""Label Studio faults: a server SIGKILLed during push, votes and pull; 5xx answers; a dead port.

Every case runs against a real server. The ones that kill use a second instance of the test's own
(``tests.annotation.server.second_server``: own LS_HOME, port and a copy of the main database),
never the server ``scripts/labelstudio.sh`` runs for everyone. A small proxy in front of it
(``FaultProxy``) counts requests and, on cue, answers 502 or SIGKILLs the server just before a
request reaches it (the request is lost) or just after (the work is done, the answer is lost) —
the two ways a crash can leave a client unsure whether to try again.

What must hold after every fault, restart and rerun: one task per kept session, every simulated
vote present once, and the pulled table equal to what an undisturbed pull returns.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from edu_affect_data.annotation import campaign as campaigns
from edu_affect_data.annotation.accounts import ensure_account, simulated_email
from edu_affect_data.annotation.client import (
    LabelStudioSettings,
    LabelStudioUnavailable,
    RetryPolicy,
    connect,
    find_project,
)
from edu_affect_data.annotation.export import download_export, parse_export
from edu_affect_data.annotation.people import ANNOTATION
from edu_affect_data.annotation.rounds import people_for
from edu_affect_data.annotation.tasks import task_session_ids
from edu_affect_data.cli import app
from edu_affect_data.config import PipelineConfig
from edu_affect_data.core.artifacts import BuildPaths
from tests.annotation.conftest import build, ls_settings, small_corpus  # noqa: F401 (fixtures)
from tests.annotation.server import RESTART_PATIENCE, Fault, FaultProxy, SecondServer, second_server
from tests.annotation.small_corpus import SmallCorpus

#: A restart of the second server may take 85 s on a loaded machine (RESTART_PATIENCE), a few per test.
pytestmark = [pytest.mark.labelstudio, pytest.mark.timeout(600)]
IMPORT = re.compile(r"/api/projects/\d+/import/?$")
EXPORT = re.compile(r"/api/projects/\d+/export/?$")
ANNOTATIONS = re.compile(r"/api/tasks/\d+/annotations/?$")
#: Gives up within about a second: for the cases where the server is meant to stay down.
IMPATIENT = RetryPolicy(attempts=3, first_delay_s=0.2, max_delay_s=0.4)
ANNOTATORS = 3  # the build fixture's simulated annotators, and annotation.maximum_annotations


class Cues:
    """The proxy's rule: the ``n``-th request (1-based) of a method and path pattern gets a fault."""

    def __init__(self, plan: dict[tuple[str, re.Pattern[str], int], Fault]) -> None:
        self.plan = plan
        self.counts: Counter[tuple[str, re.Pattern[str]]] = Counter()
        self.fired: list[str] = []

    def __call__(self, method: str, path: str) -> Fault:
        for kind in {(m, p) for m, p, _ in self.plan}:
            if method == kind[0] and kind[1].search(path):
                self.counts[kind] += 1
                fault = self.plan.get((*kind, self.counts[kind]), "forward")
                if fault != "forward":
                    self.fired.append(f"{fault} {method} {path}")
                return fault
        return "forward"


class Supervisor:
    """The proxy's kill: SIGKILL the server, and (when ``restart``) start it again a second later."""

    def __init__(self, server: SecondServer, *, restart: bool) -> None:
        self.server, self.restart = server, restart
        self.threads: list[threading.Thread] = []
        self.failures: list[BaseException] = []
        #: Seconds each restart took, for the failure message of a test that ran out of patience.
        self.restart_s: list[float] = []

    def __call__(self) -> None:
        self.server.kill()
        if self.restart:
            thread = threading.Thread(target=self._start_later)
            thread.start()
            self.threads.append(thread)

    def _start_later(self) -> None:
        try:
            time.sleep(0.5)
            began = time.monotonic()
            self.server.start()
            self.restart_s.append(round(time.monotonic() - began, 1))
        except BaseException as exc:  # reported by join(), not lost in the thread
            self.failures.append(exc)

    def join(self) -> None:
        for thread in self.threads:
            thread.join()
        assert not self.failures, (self.failures, self.restart_s)


@pytest.fixture(scope="module")
def server(ls_settings: LabelStudioSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecondServer]:  # noqa: F811
    with second_server(ls_settings, tmp_path_factory.mktemp("faults"), RESTART_PATIENCE) as started:
        yield started


@pytest.fixture()
def proxied(server: SecondServer, caplog: pytest.LogCaptureFixture) -> Iterator[tuple[SecondServer, FaultProxy]]:
    """The second server, running, behind a fresh proxy; everything logged is captured."""
    if not server.alive():
        server.start()
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="edu_affect_data")
    with FaultProxy(server.settings.url) as proxy:
        yield server, proxy


def through(proxy: FaultProxy, server: SecondServer, retry: RetryPolicy) -> LabelStudioSettings:
    s = server.settings
    return LabelStudioSettings(proxy.url, s.api_key, s.document_root, s.origin, retry)


def tasks_per_session(settings: LabelStudioSettings, title: str) -> dict[str, int]:
    ls = connect(settings)
    project_id = find_project(ls, title, settings)
    assert project_id is not None
    return {session: len(ids) for session, ids in task_session_ids(ls, settings, project_id).items()}


def annotations_per_task(settings: LabelStudioSettings, title: str) -> dict[str, list[int]]:
    """session_id -> the user ids of its annotations, straight from the server's export."""
    ls = connect(settings)
    project_id = find_project(ls, title, settings)
    assert project_id is not None
    tasks = parse_export(download_export(ls, settings, project_id), "check")
    return {
        str(t["data"]["session_id"]): sorted(int(a["completed_by"]) for a in t.get("annotations") or [])
        for t in tasks
    }


def assert_one_clean_line(message: str, url: str, secret: str) -> None:
    assert "\n" not in message and url in message and secret not in message, message


def test_a_push_killed_after_an_import_loses_and_duplicates_no_task_on_rerun(
    build: tuple[PipelineConfig, BuildPaths],  # noqa: F811
    small_corpus: SmallCorpus,  # noqa: F811
    proxied: tuple[SecondServer, FaultProxy],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config, paths = build
    server, proxy = proxied
    proxy.kill = Supervisor(server, restart=False)
    # batch_size 2 and 5 sessions: 3 imports; the 2nd is done by the server, then it dies unanswered.
    proxy.rule = cues = Cues({("POST", IMPORT, 2): "kill-after"})
    settings = through(proxy, server, IMPATIENT)
    with pytest.raises(LabelStudioUnavailable) as raised:
        campaigns.push(campaigns.open_campaign(config, paths, settings))
    assert cues.fired and server.kills >= 1 and not server.alive()
    assert_one_clean_line(str(raised.value), proxy.url, settings.api_key)
    assert re.search(r"import of 2 tasks into project \d+: .* did not answer after 3 tries", str(raised.value))

    server.start()
    proxy.rule = Cues({})
    rerun = campaigns.push(campaigns.open_campaign(config, paths, settings))
    assert (rerun.created, rerun.already_there) == (1, 4)  # the unanswered batch had landed
    assert tasks_per_session(settings, config.annotation.project_title) == {s: 1 for s in small_corpus.kept()}
    assert settings.api_key not in caplog.text


def test_b_pull_killed_mid_way_then_rerun_returns_every_annotation_once(
    build: tuple[PipelineConfig, BuildPaths],  # noqa: F811
    small_corpus: SmallCorpus,  # noqa: F811
    proxied: tuple[SecondServer, FaultProxy],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config, paths = build
    server, proxy = proxied
    settings = through(proxy, server, RESTART_PATIENCE)
    campaign = campaigns.open_campaign(config, paths, settings)
    campaigns.push(campaign)
    assert people_for(config.annotation.simulate).act(campaign, ANNOTATION) == ANNOTATORS * len(small_corpus.kept())
    reference = campaigns.pull(campaign).annotations
    assert len(reference) == ANNOTATORS * len(small_corpus.kept())
    before = paths.annotations.read_bytes()

    proxy.kill = Supervisor(server, restart=False)
    proxy.rule = Cues({("GET", EXPORT, 1): "kill-after"})  # the export was built, its bytes are lost
    impatient = through(proxy, server, IMPATIENT)
    with pytest.raises(LabelStudioUnavailable) as raised:
        campaigns.pull(campaigns.open_campaign(config, paths, impatient))
    assert_one_clean_line(str(raised.value), proxy.url, settings.api_key)
    assert paths.annotations.read_bytes() == before  # a failed pull leaves the last good table

    server.start()
    proxy.rule = Cues({})
    rerun = campaigns.pull(campaigns.open_campaign(config, paths, settings))
    pd.testing.assert_frame_equal(rerun.annotations, reference)
    pd.testing.assert_frame_equal(pq.read_table(paths.annotations).to_pandas(), reference)
    assert not rerun.annotations.duplicated(["session_id", "annotator"]).any()
    assert settings.api_key not in caplog.text


def test_c_five_server_kills_across_a_campaign_lose_and_duplicate_nothing(
    build: tuple[PipelineConfig, BuildPaths],  # noqa: F811
    small_corpus: SmallCorpus,  # noqa: F811
    proxied: tuple[SecondServer, FaultProxy],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config, paths = build
    server, proxy = proxied
    supervisor = Supervisor(server, restart=True)
    proxy.kill = supervisor
    proxy.rule = cues = Cues({
        ("POST", IMPORT, 1): "kill-before",  # the first batch never arrives
        ("POST", IMPORT, 3): "kill-after",  # the second batch's answer is lost
        ("POST", ANNOTATIONS, 4): "kill-after",  # a vote lands, its answer is lost
        ("POST", ANNOTATIONS, 11): "kill-before",  # a vote never arrives
        ("GET", EXPORT, 2): "kill-after",  # the pull's export is lost (the 1st is the simulation's)
    })
    kills_before = server.kills
    settings = through(proxy, server, RESTART_PATIENCE)
    campaign = campaigns.open_campaign(config, paths, settings)
    try:
        campaigns.push(campaign)
        votes = people_for(config.annotation.simulate).act(campaign, ANNOTATION)
        pulled = campaigns.pull(campaign)
    finally:
        supervisor.join()
    assert len(cues.fired) == 5 and server.kills - kills_before == 5, (cues.fired, supervisor.restart_s)

    kept = small_corpus.kept()
    assert votes == ANNOTATORS * len(kept)
    assert tasks_per_session(server.settings, config.annotation.project_title) == {s: 1 for s in kept}
    on_server = annotations_per_task(server.settings, config.annotation.project_title)
    assert sorted(on_server) == sorted(kept)
    assert all(len(users) == ANNOTATORS and len(set(users)) == ANNOTATORS for users in on_server.values()), on_server
    assert len(pulled.annotations) == ANNOTATORS * len(kept) and pulled.excluded.empty
    assert not pulled.annotations.duplicated(["session_id", "annotator"]).any()
    assert Counter(pulled.annotations["session_id"]) == {s: ANNOTATORS for s in kept}
    assert settings.api_key not in caplog.text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_d_502_answers_are_retried_and_a_dead_port_gives_one_line_without_the_token(
    ls_settings: LabelStudioSettings, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="edu_affect_data")
    quick = RetryPolicy(attempts=3, first_delay_s=0.1, max_delay_s=0.2)
    with FaultProxy(ls_settings.url) as proxy:
        settings = LabelStudioSettings(proxy.url, ls_settings.api_key, ls_settings.document_root, retry=quick)
        projects = re.compile(r"^/api/projects/?$")
        proxy.rule = Cues({("GET", projects, 1): "502", ("GET", projects, 2): "502"})
        assert find_project(connect(settings), "no such project, surely", settings) is None
        assert [status for method, path, status in proxy.seen if path.startswith("/api/projects")] == [502, 502, 200]

        # The simulated people's log-in goes through `requests`, not the SDK: 502 on the form and the post.
        login = re.compile(r"^/user/login/?$")
        proxy.rule = Cues({("GET", login, 1): "502", ("POST", login, 1): "502"})
        account = ensure_account(settings, simulated_email("sim-test-ann1"))
        assert account.user_id > 0
        statuses = [status for method, path, status in proxy.seen if path.startswith("/user/login")]
        assert statuses[:3] == [502, 200, 502] and statuses[-1] == 302
    assert len(re.findall(r"HTTP 502", caplog.text)) == 4

    secret = "tok-" + "x" * 36
    dead = LabelStudioSettings(f"http://127.0.0.1:{free_port()}", secret, retry=quick)
    for call in (
        lambda: find_project(connect(dead), "anything", dead),
        lambda: ensure_account(dead, simulated_email("sim-test-ann1")),
    ):
        with pytest.raises(LabelStudioUnavailable) as raised:
            call()
        assert_one_clean_line(str(raised.value), dead.url, secret)
        assert "did not answer after 3 tries" in str(raised.value)
    assert secret not in caplog.text and ls_settings.api_key not in caplog.text


def test_e_the_cli_with_the_server_gone_says_one_line_with_the_url_and_exit_1(
    build: tuple[PipelineConfig, BuildPaths],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a user sees from `edu-data annotate pull|push` once the retries are spent."""
    config, paths = build
    secret = "tok-" + "y" * 36
    dead = LabelStudioSettings(f"http://127.0.0.1:{free_port()}", secret, retry=RetryPolicy(2, 0.05, 0.05))
    monkeypatch.setattr(campaigns, "load_settings", lambda: dead)
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    for command in ("pull", "push"):
        result = CliRunner().invoke(app, ["annotate", command, str(pipeline), "--out", str(paths.out)])
        assert result.exit_code == 1, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in result.output, result.output
        assert dead.url in lines[0] and "did not answer after 2 tries" in lines[0] and secret not in lines[0]
