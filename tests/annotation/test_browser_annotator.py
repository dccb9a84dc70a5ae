"""A person's path through the real Label Studio, in headless Chromium: annotator, then senior reviewer.

Everything a person does happens in the browser (sign-up through the invite link, the labeling
stream, playing the clip, reading the transcript and the votes, clicking a class, Submit); what
the toolkit then reads back (``campaign.pull`` as ``edu-data annotate pull`` does, and
``campaign.pull_review``) must be exactly those clicks, under that person's pseudonym. The
disagreeing votes that send sessions to the reviewer are cast through the API by two simulated
accounts, as in the other campaign tests.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from edu_affect_data.annotation import campaign as campaigns
from edu_affect_data.annotation.accounts import ensure_account, simulated_email
from edu_affect_data.annotation.client import LabelStudioSettings, connect
from edu_affect_data.annotation.clips import session_transcript
from edu_affect_data.annotation.labeling import guidelines_path
from edu_affect_data.annotation.options import OverlapConfig
from edu_affect_data.annotation.pseudonyms import Pseudonyms
from edu_affect_data.annotation.review import votes_text
from edu_affect_data.annotation.simulated_people import submit_vote
from tests.annotation.browser import (
    Person,
    Playback,
    Task,
    check_clip_plays,
    choose_and_submit,
    chromium_or_skip,
    expect_text,
    launched,
    new_page,
    open_stream,
    screenshot_on_failure,
    sign_up,
)

pytestmark = [pytest.mark.labelstudio, pytest.mark.browser]
#: The two simulated annotators whose votes disagree with the person's (API accounts, reused across runs).
OTHERS = ("sim-browser-b", "sim-browser-c")
#: What the person clicks on the three tasks the stream serves, and what the two others vote there:
#: all agree on the first session; on the second and third all three differ (so they go to review).
CLICKS = ("Confused", "Curious", "Bored")
OTHER_VOTES = (("Confused", "Confused"), ("Bored", "Frustrated"), ("Frustrated", "Confused"))
#: What the reviewer decides on the two sessions, in the order the adjudication stream serves them.
DECISIONS = ("Frustrated", "Curious")


def _admin(settings: LabelStudioSettings) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # a local server: never through a proxy
    session.headers["Authorization"] = f"Token {settings.api_key}"
    return session


@pytest.fixture()
def people(ls_settings: LabelStudioSettings) -> Iterator[list[Person]]:
    """New people for this run only (an e-mail signs up once); their accounts are deleted after."""
    run = uuid.uuid4().hex[:8]
    persons = [Person(f"browser-{role}-{run}@example.org", secrets.token_urlsafe(18)) for role in ("annotator", "reviewer")]
    yield persons
    admin = _admin(ls_settings)
    users = admin.get(f"{ls_settings.url}/api/users", timeout=30).json()
    for user in users:
        if user["email"] in {p.email for p in persons}:
            deleted = admin.delete(f"{ls_settings.url}/api/users/{user['id']}", timeout=30)
            assert deleted.status_code == 204, f"deleting {user['email']}: HTTP {deleted.status_code}"


def _invite(settings: LabelStudioSettings) -> str:
    answer = _admin(settings).get(f"{settings.url}/api/invite", timeout=30)
    assert answer.status_code == 200, f"GET /api/invite: HTTP {answer.status_code}"
    return str(answer.json()["invite_url"])


def check_window(playback: Playback, task: Task, session: dict[str, Any]) -> None:
    """The browser plays the session's window (its length), and Label Studio steps it at the clip's own rate.

    The clips are stream copies of the proxies (`annotation.clip` height and fps null): the labeling
    config says ``frameRate="$fps"`` and the task's ``fps`` must be the rate of the file the browser plays.
    """
    assert playback.duration == pytest.approx(float(session["end_s"]) - float(session["start_s"]), abs=0.1)
    assert float(task.data["fps"]) == pytest.approx(30000 / 1001 if session["corpus"] == "iemocap" else 30.0, abs=1e-3)


def test_a_person_annotates_and_a_reviewer_adjudicates_in_the_browser(
    build, ls_settings: LabelStudioSettings, people: list[Person], tmp_path: Path
) -> None:
    chromium = chromium_or_skip()
    config, paths = build
    fixed = config.annotation.model_copy(update={"simulate": None, "overlap": OverlapConfig(initial=3, max=3)})
    config = config.model_copy(update={"annotation": fixed})
    campaign = campaigns.open_campaign(config, paths, ls_settings)
    project_id = campaigns.push(campaign).project_id
    assert config.annotation.clip.fps is None  # stream-copied clips, each task at its clip's own rate
    assert 'frameRate="$fps"' in str(campaign.ls.projects.get(id=project_id).label_config)
    sessions = campaigns.kept_sessions(paths)
    guidelines = guidelines_path(config.annotation.labeling_config).read_text(encoding="utf-8").splitlines()[0]
    url = ls_settings.url
    annotator, reviewer = people

    with launched(chromium) as browser:
        # The annotator: three tasks of the stream, one class each.
        page = new_page(browser)
        clicked: dict[str, tuple[int, str]] = {}
        with screenshot_on_failure(page, tmp_path / "annotator.png"):
            sign_up(page, url, _invite(ls_settings), annotator)
            task: Task | None = open_stream(page, url, project_id, guidelines)
            for k, label in enumerate(CLICKS):
                assert task is not None
                check_window(check_clip_plays(page, task), task, sessions[task.session_id])
                expect_text(page, session_transcript(sessions[task.session_id]).splitlines())
                clicked[task.session_id] = (task.id, label)
                task = choose_and_submit(page, project_id, task, label, more=k < len(CLICKS) - 1)

        pulled = campaigns.pull(campaign)
        pseudonym = Pseudonyms(campaign.layout.annotators).get(annotator.email)
        assert pseudonym == "ann01"
        votes = pulled.annotations
        assert sorted(zip(votes["session_id"], votes["task_id"], votes["annotator"], votes["label"], strict=True)) == sorted(
            (session, task_id, pseudonym, label) for session, (task_id, label) in clicked.items()
        )
        assert (votes["lead_time"] > 0).all() and pulled.excluded.empty  # the interface timed each vote

        # Two simulated annotators vote through the API on the same three tasks.
        served = list(clicked)  # in the order the stream served them
        for index, name in enumerate(OTHERS):
            account = ensure_account(ls_settings, simulated_email(name))
            client = connect(ls_settings, account.api_key)
            for session, labels in zip(served, OTHER_VOTES, strict=True):
                submit_vote(client, ls_settings, account, clicked[session][0], labels[index], 10.0)
        annotations = campaigns.pull(campaign).annotations
        assert len(annotations) == 9
        queue = campaigns.open_review(campaign, annotations)
        assert queue == sorted(served[1:])
        review_id = campaign.review_project_id()
        assert review_id is not None

        # The senior reviewer decides both in the adjudication project's stream.
        page = new_page(browser)
        decided: dict[str, str] = {}
        with screenshot_on_failure(page, tmp_path / "reviewer.png"):
            sign_up(page, url, _invite(ls_settings), reviewer)
            task = open_stream(page, url, review_id, guidelines)
            for k, label in enumerate(DECISIONS):
                assert task is not None
                check_window(check_clip_plays(page, task), task, sessions[task.session_id])
                expect_text(page, votes_text(annotations, task.session_id).splitlines())
                expect_text(page, session_transcript(sessions[task.session_id]).splitlines())
                decided[task.session_id] = label
                task = choose_and_submit(page, review_id, task, label, more=k < len(DECISIONS) - 1)

    adjudication = campaigns.pull_review(campaign, queue)
    names = Pseudonyms(campaign.layout.annotators)
    assert names.get(reviewer.email) == "ann04"  # after the person and the two simulated annotators
    decisions = adjudication.decisions
    assert sorted(zip(decisions["session_id"], decisions["label"], strict=True)) == sorted(decided.items())
    table = pd.read_parquet(paths.adjudications)
    assert sorted(zip(table["session_id"], table["reviewer"], table["label"], strict=True)) == sorted(
        (session, "ann04", label) for session, label in decided.items()
    )
