"""Real Label Studio accounts for the simulated annotators and reviewer.

The Community edition ignores the password of users created through ``/api/users`` (they can never
log in), so a simulated person joins the way a real one does: the admin asks for the
organisation's invite link (``GET /api/invite``), the person opens the sign-up form with it and
posts e-mail and password with the form's CSRF token, is then logged in, and reads their own API
token (``GET /api/current-user/token``). Their annotations are then submitted with that token, so
``completed_by`` is really them. The whole log-in/sign-up is one retried call
(``client.call_with_retries``): a retry after a lost answer to the sign-up finds the account and
logs in, so a server restart never makes a second account.

Accounts are reused: the e-mail is fixed by the annotator's name (``sim-ann1@example.org``) and
the password is derived from the admin key and the e-mail (HMAC), so a rerun logs in again
instead of signing up, and nothing needs storing. Only the simulation uses this.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

import requests

from edu_affect_data.annotation.client import (
    LabelStudioError,
    LabelStudioSettings,
    call_with_retries,
    raise_for_server_error,
)

EMAIL_DOMAIN = "example.org"
_TIMEOUT_S = 30


@dataclass(frozen=True)
class Account:
    email: str
    user_id: int
    api_key: str = field(repr=False)


def simulated_email(name: str) -> str:
    return f"{name}@{EMAIL_DOMAIN}"


def derived_password(settings: LabelStudioSettings, email: str) -> str:
    """A password only the holder of the admin key can recompute."""
    digest = hmac.new(settings.api_key.encode(), email.encode(), hashlib.sha256).hexdigest()
    return f"Sim-{digest[:28]}"


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # the server is local; never send this through a proxy
    return session


def _post_form(session: requests.Session, url: str, fields: dict[str, str]) -> requests.Response:
    """GET the form (sets the csrftoken cookie), then POST it back with that token."""
    page = raise_for_server_error(session.get(url, timeout=_TIMEOUT_S))
    page.raise_for_status()
    token = session.cookies.get("csrftoken")
    if not token:
        raise LabelStudioError(f"{url.split('?')[0]}: the form set no csrftoken cookie")
    response = session.post(
        url,
        data={**fields, "csrfmiddlewaretoken": token},
        headers={"Referer": url.split("?")[0]},
        allow_redirects=False,
        timeout=_TIMEOUT_S,
    )
    return raise_for_server_error(response)


def _login(settings: LabelStudioSettings, email: str, password: str) -> requests.Session | None:
    session = _session()
    response = _post_form(
        session, f"{settings.url}/user/login/", {"email": email, "password": password}
    )
    return session if response.status_code == 302 else None


def _signup(settings: LabelStudioSettings, email: str, password: str) -> requests.Session:
    admin = _session()
    invite = admin.get(
        f"{settings.url}/api/invite",
        headers={"Authorization": f"Token {settings.api_key}"},
        timeout=_TIMEOUT_S,
    )
    raise_for_server_error(invite)
    if invite.status_code != 200:
        raise LabelStudioError(f"GET /api/invite: HTTP {invite.status_code}")
    token = invite.json()["token"]
    session = _session()
    response = _post_form(
        session,
        f"{settings.url}/user/signup/?token={token}",
        {"email": email, "password": password},
    )
    if response.status_code != 302:
        raise LabelStudioError(
            f"sign-up of {email} through the invite link failed (HTTP {response.status_code}); "
            "if the account exists with another password, delete it in Label Studio"
        )
    return session


def ensure_account(settings: LabelStudioSettings, email: str) -> Account:
    """Log ``email`` in (signing it up through the invite link first if needed); its own token."""

    def open_account() -> Account:
        password = derived_password(settings, email)
        session = _login(settings, email, password) or _signup(settings, email, password)
        token = raise_for_server_error(session.get(f"{settings.url}/api/current-user/token", timeout=_TIMEOUT_S))
        who = raise_for_server_error(session.get(f"{settings.url}/api/current-user/whoami", timeout=_TIMEOUT_S))
        if token.status_code != 200 or who.status_code != 200:
            raise LabelStudioError(
                f"{email}: could not read the account's token (HTTP {token.status_code}/{who.status_code})"
            )
        return Account(email, int(who.json()["id"]), str(token.json()["token"]))

    return call_with_retries(open_account, what=f"account {email}", settings=settings)
