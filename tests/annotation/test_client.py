"""Connection settings and retries: where the server is found, the key never shown, backoff on outages."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import requests
from label_studio_sdk.core.api_error import ApiError

from edu_affect_data.annotation.client import (
    LabelStudioError,
    LabelStudioNotConfigured,
    LabelStudioSettings,
    LabelStudioUnavailable,
    RetryPolicy,
    ServerError,
    call_with_retries,
    connect,
    load_settings,
)

SECRET = "0123456789abcdef0123456789abcdef01234567"


def settings(attempts: int = 4) -> LabelStudioSettings:
    return LabelStudioSettings("http://127.0.0.1:9", SECRET, retry=RetryPolicy(attempts, 1.0, 4.0))


def test_environment_wins_then_the_env_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / "env"
    env.write_text(f"LABEL_STUDIO_URL=http://127.0.0.1:8080/\nLABEL_STUDIO_API_KEY={SECRET}\n")
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    from_file = load_settings(env)
    assert (from_file.url, from_file.api_key, str(from_file.document_root)) == ("http://127.0.0.1:8080", SECRET, "/")
    assert SECRET not in repr(from_file)
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://ls:1")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "k" * 40)
    assert load_settings().url == "http://ls:1"
    env.write_text("LABEL_STUDIO_URL=http://x\n")
    with pytest.raises(LabelStudioNotConfigured, match="no value for LABEL_STUDIO_API_KEY"):
        load_settings(env)


def test_missing_configuration_says_how_to_start(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    with pytest.raises(LabelStudioNotConfigured, match=r"labelstudio\.sh start"):
        load_settings(tmp_path / "absent")


def test_outages_are_retried_with_backoff_then_reported() -> None:
    waits: list[float] = []
    calls: Iterator[Exception | str] = iter(
        [httpx.ConnectError("refused"), ApiError(status_code=503, body="restarting"), "done"]
    )

    def flaky() -> str:
        outcome = next(calls)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert call_with_retries(flaky, what="export", settings=settings(), sleep=waits.append) == "done"
    assert waits == [1.0, 2.0]

    def down() -> None:
        raise httpx.ConnectError(f"refused while sending Token {SECRET}")

    waits.clear()
    with pytest.raises(LabelStudioUnavailable) as raised:
        call_with_retries(down, what="export of project 3", settings=settings(), sleep=waits.append)
    assert waits == [1.0, 2.0, 4.0]
    message = str(raised.value)
    assert "export of project 3" in message and "4 tries" in message and SECRET not in message


def test_client_errors_are_not_retried_and_hide_the_key() -> None:
    waits: list[float] = []

    def refused() -> None:
        raise ApiError(status_code=400, headers={"Authorization": f"Token {SECRET}"}, body={"detail": f"bad {SECRET}"})

    with pytest.raises(LabelStudioError) as raised:
        call_with_retries(refused, what="import", settings=settings(), sleep=waits.append)
    assert waits == [] and "HTTP 400" in str(raised.value) and SECRET not in str(raised.value)


def failing_response(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code, response.url = status, "http://127.0.0.1:9/user/login/?token=invite"
    return response


@pytest.mark.parametrize(
    "fault",
    [
        ApiError(status_code=500, body="<html>\n<h1>Server Error</h1>\n</html>"),
        ServerError(502, "http://127.0.0.1:9/api/invite"),
        requests.HTTPError(response=failing_response(504)),
        requests.ConnectionError(f"refused, Token {SECRET}"),
        requests.exceptions.ChunkedEncodingError("connection broken mid-body"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
    ids=["sdk-500", "requests-502", "requests-raise-504", "requests-refused", "requests-cut", "httpx-dropped"],
)
def test_every_5xx_and_transport_error_is_retried_and_ends_in_one_line(fault: Exception) -> None:
    waits: list[float] = []

    def down() -> None:
        raise fault

    with pytest.raises(LabelStudioUnavailable) as raised:
        call_with_retries(down, what="list of users", settings=settings(3), sleep=waits.append)
    message = str(raised.value)
    assert waits == [1.0, 2.0] and "\n" not in message and SECRET not in message
    assert message.startswith("list of users: Label Studio at http://127.0.0.1:9 did not answer after 3 tries")


def test_a_4xx_from_requests_is_a_named_error_at_once() -> None:
    waits: list[float] = []

    def forbidden() -> None:
        raise requests.HTTPError("403 Client Error", response=failing_response(403))

    with pytest.raises(LabelStudioError, match=r"^account a@b at http://127.0.0.1:9 failed: HTTPError: 403") as raised:
        call_with_retries(forbidden, what="account a@b", settings=settings(), sleep=waits.append)
    assert waits == [] and not isinstance(raised.value, LabelStudioUnavailable)


def test_the_sdk_does_not_retry_on_its_own() -> None:
    """Its blind replay of a POST would bypass the re-checks that keep pushes free of duplicates."""
    assert connect(settings())._client_wrapper.get_max_retries() == 0  # type: ignore[attr-defined]
