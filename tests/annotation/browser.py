"""A person in front of the real Label Studio: headless Chromium driven by Playwright.

The annotators of the other tests are simulated through the API; this module clicks through the
pages a person sees (the invite link's sign-up form, the Data Manager's "Label All Tasks" stream,
the clip's player, the class buttons, Submit), so a test can prove that path works end to end.

Playwright drives the system's Debian ``chromium`` (installed by ``scripts/browser.sh``, which
``make test`` runs): ``playwright install`` downloads its own browser from the internet, which a
CI machine or this sandbox may not reach. Playwright's ``launch`` gives every run a fresh
temporary profile, and each person gets their own browser context (own cookies), as on their own
computer.

Selectors are the ones Label Studio 1.23's frontend gives to people and its own tests: button
roles and names ("Label All Tasks", "Close modal"), ``data-testid``s (``playback-button:play``,
``bottombar-submit-button``) and the class checkboxes' accessible names. Text of ``<Text>`` tags is
read from ``.lsf-richtext__line`` (one span per line). Nothing waits a fixed time: every step waits
for the element, the server's response or the media state it needs.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Response, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

#: Flags for a headless browser on a server: no sandbox (root in a container), no GPU, and none of
#: Chromium's own calls home (the machine may have no internet, and they only slow the start).
LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: Patience for one step (a page, a response, a media state) on a loaded 2-core machine.
STEP_TIMEOUT_MS = 30_000
#: The clips' codecs (``annotation/clips.py``: libx264's default High profile, level <= 4.0, + AAC-LC).
CLIP_MIME = 'video/mp4; codecs="avc1.640028, mp4a.40.2"'
#: Seconds of playback that prove the clip plays (the clips are 3.5 s and more).
PLAYED_S = 0.5
#: The player's end time until it knows the clip's duration.
NO_DURATION = "00:00:00:000"


def chromium_or_skip() -> str:
    """The system Chromium; without one, fail under CI (``make test`` installs it) and skip locally."""
    path = shutil.which("chromium")
    if path is None:
        message = "chromium not found on PATH: install it with `bash scripts/browser.sh` (Debian's chromium package)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextmanager
def launched(executable: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=list(LAUNCH_ARGS))
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def screenshot_on_failure(page: Page, path: Path) -> Iterator[None]:
    """Save what the person saw when a step fails (path on stderr), then let the failure through."""
    try:
        yield
    except BaseException:
        try:
            page.screenshot(path=str(path), full_page=True)
            print(f"screenshot of the page at the failure: {path}", file=sys.stderr)
        except PlaywrightError as error:  # the browser itself is gone: the first failure is the news
            print(f"no screenshot ({error.message})", file=sys.stderr)
        raise


@dataclass(frozen=True)
class Person:
    email: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Task:
    """A task as the labeling stream served it (``POST /api/dm/actions?id=next_task``)."""

    id: int
    data: dict[str, Any]

    @property
    def session_id(self) -> str:
        return str(self.data["session_id"])


def new_page(browser: Browser) -> Page:
    """A page in a fresh context: a person on their own computer, logged in as nobody."""
    page = browser.new_context(viewport={"width": 1280, "height": 1500}).new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    return page


def sign_up(page: Page, url: str, invite_path: str, person: Person) -> None:
    """Open the invite link, fill in the sign-up form, and check the browser is now that person."""
    page.goto(url + invite_path)
    page.locator("#email").fill(person.email)
    page.locator("#password").fill(person.password)
    with page.expect_navigation():
        page.get_by_role("button", name="Create Account").click()
    if "/user/signup" in page.url:
        errors = page.locator(".field_errors li, .error").all_inner_texts()
        raise AssertionError(f"sign-up of {person.email} stayed on the form: {errors or page.url}")
    who = page.request.get(f"{url}/api/current-user/whoami")
    assert who.ok and who.json()["email"] == person.email, f"after sign-up the browser is {who.json()}"


def _is_next_task(response: Response) -> bool:
    return "/api/dm/actions" in response.url and "id=next_task" in response.url


def _task(response: Response) -> Task:
    assert response.status == 200, f"next task: HTTP {response.status} from {response.url}"
    body = response.json()
    return Task(int(body["id"]), dict(body["data"]))


def open_stream(page: Page, url: str, project_id: int, instructions: str) -> Task:
    """Project page, "Label All Tasks", read and close the instructions; the first task served.

    ``instructions``: a line the project's instructions (the guidelines) must show.
    """
    page.goto(f"{url}/projects/{project_id}/data")
    with page.expect_response(_is_next_task) as served:
        page.get_by_role("button", name="Label All Tasks", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/projects/{project_id}/data\?.*labeling=1"))
    heading = page.get_by_text(instructions).first
    expect(heading).to_be_visible()
    # The instructions wrap inside the pop-up: no line runs past its edge (a <pre> did, its
    # style being stripped by Label Studio). The pop-up's layout settles after it shows (a loaded
    # machine measured 2 px mid-animation once), so the check polls for up to 5 s before failing.
    measure = (
        "(e) => { let b = e.parentElement; while (b && b.scrollWidth <= b.clientWidth + 1 && b !== document.body)"
        " { b = b.parentElement; } return b === document.body ? 0 : b.scrollWidth - b.clientWidth; }"
    )
    deadline = time.monotonic() + 5.0
    overflow = heading.evaluate(measure)
    while overflow != 0 and time.monotonic() < deadline:
        page.wait_for_timeout(250)
        overflow = heading.evaluate(measure)
    assert overflow == 0, f"the instructions overflow their box by {overflow} px"
    close = page.get_by_role("button", name="Close modal")
    close.click()
    expect(close).to_be_hidden()
    return _task(served.value)


@dataclass(frozen=True)
class Playback:
    """The media elements after pressing play (what the test reports and asserts on)."""

    can_play: str
    video_time: float
    decoded_frames: int
    audio_time: float
    audio_bytes: int
    #: The ``<video>`` element's duration: the length of the window the clip shows.
    duration: float


_LOADED = "(clip) => { const v = document.querySelector('video'); return !!v && v.currentSrc.endsWith(clip) && v.readyState >= 2; }"
_PLAYED = (
    "(s) => { const v = document.querySelector('video'), a = document.querySelector('audio');"
    " return v.currentTime >= s && v.webkitDecodedFrameCount > 0 && a.currentTime > 0 && a.webkitAudioDecodedByteCount > 0; }"
)
_MEDIA_STATE = """() => {
  const v = document.querySelector('video'), a = document.querySelector('audio');
  return {src: v && v.currentSrc, ready: v && v.readyState, network: v && v.networkState,
          error: v && v.error && `${v.error.code} ${v.error.message}`, time: v && v.currentTime,
          paused: v && v.paused, frames: v && v.webkitDecodedFrameCount,
          audio_time: a && a.currentTime, audio_bytes: a && a.webkitAudioDecodedByteCount,
          duration: v && v.duration};
}"""


def check_clip_plays(page: Page, task: Task) -> Playback:
    """The task's clip is loaded, press play, and its ``currentTime`` advances with decoded frames.

    Label Studio's ``<Video>`` draws frames from a hidden ``<video>`` element onto a canvas, so
    that element's clock and decoded-frame count are what "the clip plays" means; the ``<Audio>``
    synced to it must advance and decode too. Play is pressed once the player shows the clip's
    duration: before that (seen on a loaded machine) Label Studio ignores the press.
    """
    clip = str(task.data["video"])
    try:
        page.wait_for_function(_LOADED, arg=clip)
    except PlaywrightTimeout:
        raise AssertionError(f"clip {clip} of task {task.id} never loaded: {page.evaluate(_MEDIA_STATE)}") from None
    can_play = str(page.evaluate("(mime) => document.querySelector('video').canPlayType(mime)", CLIP_MIME))
    assert can_play == "probably", f"this chromium cannot play {CLIP_MIME} (canPlayType: {can_play!r})"
    expect(page.get_by_test_id("timebox-end-time").locator("input")).not_to_have_value(NO_DURATION)
    page.get_by_test_id("playback-button:play").first.click()
    try:
        page.wait_for_function(_PLAYED, arg=PLAYED_S)
    except PlaywrightTimeout:
        raise AssertionError(f"clip of task {task.id} did not play: {page.evaluate(_MEDIA_STATE)}") from None
    state = page.evaluate(_MEDIA_STATE)
    return Playback(
        can_play, float(state["time"]), int(state["frames"]), float(state["audio_time"]), int(state["audio_bytes"]),
        float(state["duration"]),
    )


def expect_text(page: Page, lines: Sequence[str]) -> None:
    """One ``<Text>`` of the task shows exactly ``lines`` (found by its first line)."""
    block = page.locator(".lsf-richtext").filter(has_text=lines[0])
    expect(block.locator(".lsf-richtext__line")).to_have_text(list(lines))


def choose_and_submit(page: Page, project_id: int, task: Task, label: str, *, more: bool) -> Task | None:
    """Tick ``label`` and press Submit; the annotation the server stored, then the next task if ``more``."""
    page.get_by_role("checkbox", name=label).check()

    def is_post(response: Response) -> bool:
        return response.request.method == "POST" and f"/api/tasks/{task.id}/annotations" in response.url

    submit = page.get_by_test_id("bottombar-submit-button")
    following: Task | None = None
    with page.expect_response(is_post) as posted:
        if more:
            with page.expect_response(_is_next_task) as served:
                submit.click()
            following = _task(served.value)
        else:
            submit.click()
    stored = posted.value
    assert stored.status == 201, f"submit of task {task.id} in project {project_id}: HTTP {stored.status}"
    choices = [r["value"]["choices"] for r in stored.json()["result"] if r.get("type") == "choices"]
    assert choices == [[label]], f"task {task.id}: the interface sent {choices}, the person chose {label}"
    return following
