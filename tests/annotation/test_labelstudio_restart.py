"""A pull survives the server going away mid-pull, and says so clearly when it stays away.

Uses a second Label Studio instance (own LS_HOME, port and data, started by the same script from a
copy of the main server's database, so it starts warm) that the test may stop and restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from edu_affect_data.annotation import campaign as campaigns
from edu_affect_data.annotation import export
from edu_affect_data.annotation.client import (
    LabelStudioSettings,
    LabelStudioUnavailable,
    RetryPolicy,
)
from edu_affect_data.stages.annotate import run_annotate
from tests.annotation.server import script
from tests.annotation.server import second_server as start_second_server

#: Starting and restarting a second server may take minutes on a loaded machine.
pytestmark = [pytest.mark.labelstudio, pytest.mark.timeout(600)]


@pytest.fixture()
def second_server(ls_settings: LabelStudioSettings, tmp_path: Path) -> Iterator[tuple[Path, LabelStudioSettings]]:
    with start_second_server(ls_settings, tmp_path, RetryPolicy(10, 1.0, 4.0)) as server:
        yield server.home, server.settings


def test_a_pull_interrupted_by_a_restart_completes_with_nothing_lost_or_duplicated(
    build, second_server: tuple[Path, LabelStudioSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, paths = build
    home, settings = second_server
    monkeypatch.setenv("LABEL_STUDIO_URL", settings.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", settings.api_key)
    assert run_annotate(config, paths).complete
    campaign = campaigns.open_campaign(config, paths, settings)
    reference = campaigns.pull(campaign).annotations

    original: Callable = export.user_emails
    restarts: list[threading.Thread] = []
    failures: list[BaseException] = []

    def restart_later() -> None:
        try:
            time.sleep(2.0)
            script(home, "start")
        except BaseException as exc:  # reported by the test below, not lost in the thread
            failures.append(exc)

    def server_dies_mid_pull(ls, settings_):  # after the export, before the user list
        script(home, "stop")
        restarts.append(threading.Thread(target=restart_later))
        restarts[0].start()
        return original(ls, settings_)

    monkeypatch.setattr(export, "user_emails", server_dies_mid_pull)
    try:
        interrupted = campaigns.pull(campaign)
    finally:
        restarts[0].join()
    assert not failures, failures
    monkeypatch.setattr(export, "user_emails", original)
    pd.testing.assert_frame_equal(interrupted.annotations, reference)
    pd.testing.assert_frame_equal(pq.read_table(paths.annotations).to_pandas(), reference)
    assert not interrupted.annotations.duplicated(["session_id", "annotator"]).any()
    snapshots = sorted(campaign.layout.snapshots.iterdir())
    assert len(snapshots) == 2 and snapshots[0].read_bytes() == snapshots[1].read_bytes()

    script(home, "stop")
    impatient = LabelStudioSettings(settings.url, settings.api_key, retry=RetryPolicy(2, 0.2, 0.2))
    before = paths.annotations.read_bytes()
    with pytest.raises(LabelStudioUnavailable, match=r"did not answer after 2 tries.*labelstudio.sh status") as raised:
        campaigns.pull(campaigns.open_campaign(config, paths, impatient))
    assert settings.api_key not in str(raised.value)
    assert paths.annotations.read_bytes() == before and len(list(campaign.layout.snapshots.iterdir())) == 2
