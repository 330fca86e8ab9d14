"""The UI's sessions: the login form, the session cookie on the API, CSRF, logout."""

from __future__ import annotations

import re

import httpx2 as httpx
from support.api import ApiHarness
from support.orchestrator import Orchestrator

from gnomon import access

ONE_DAG = """
from datetime import datetime
from gnomon import DAG
from gnomon.operators.empty import EmptyOperator

with DAG("one", schedule=None, start_date=datetime(2026, 1, 1)):
    EmptyOperator(task_id="only")
"""


def _form_token(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def _log_in(api: ApiHarness, username: str = "admin", next_url: str = "/") -> httpx.Response:
    token = _form_token(api.client.get("/login"))
    return api.client.post(
        "/login",
        data={
            "username": username,
            "password": f"password-{username}",
            "csrf_token": token,
            "next": next_url,
        },
        follow_redirects=False,
    )


def _session_csrf(api: ApiHarness) -> str:
    secret = api.client.cookies.get(access.SESSION_COOKIE)
    assert secret is not None
    return access.csrf_token(secret)


def test_login_sets_an_httponly_samesite_lax_session_cookie(api: ApiHarness) -> None:
    response = _log_in(api, next_url="/dags/one")
    assert response.status_code == 303
    assert response.headers["location"] == "/dags/one"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(access.SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    assert "Max-Age=43200" in cookie


def test_login_redirects_only_to_local_paths(api: ApiHarness) -> None:
    response = _log_in(api, next_url="https://evil.example/")
    assert response.headers["location"] == "/"


def test_login_without_or_with_a_wrong_csrf_token_is_refused(api: ApiHarness) -> None:
    api.client.get("/login")
    credentials = {"username": "admin", "password": "password-admin"}
    missing = api.client.post("/login", data=credentials, follow_redirects=False)
    wrong = api.client.post(
        "/login", data={**credentials, "csrf_token": "forged"}, follow_redirects=False
    )
    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert access.SESSION_COOKIE not in api.client.cookies


def test_wrong_password_shows_the_form_again_with_an_error(api: ApiHarness) -> None:
    token = _form_token(api.client.get("/login"))
    response = api.client.post(
        "/login",
        data={"username": "admin", "password": "nope", "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 401
    assert "Wrong username or password" in response.text


def test_a_page_without_a_session_redirects_to_the_login_form(api: ApiHarness) -> None:
    response = api.client.get("/dags/one?tab=graph", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fdags%2Fone%3Ftab%3Dgraph"


def test_pages_embed_the_sessions_csrf_token(api: ApiHarness) -> None:
    _log_in(api)
    page = api.client.get("/")
    assert page.status_code == 200
    assert f'<meta name="csrf-token" content="{_session_csrf(api)}">' in page.text


def test_the_audit_page_is_for_admins_only(api: ApiHarness) -> None:
    _log_in(api, "viewer")
    assert api.client.get("/audit").status_code == 403


def test_the_session_cookie_authenticates_the_api(api: ApiHarness) -> None:
    _log_in(api)
    assert api.client.get("/api/v1/dags").status_code == 200


def test_a_change_with_the_cookie_needs_the_csrf_header(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    orchestrator.write_dag("one", ONE_DAG)
    orchestrator.sync()
    _log_in(api)
    body = {"is_paused": True}
    assert api.client.patch("/api/v1/dags/one", json=body).status_code == 403
    headers = {access.CSRF_HEADER: _session_csrf(api)}
    assert api.client.patch("/api/v1/dags/one", json=body, headers=headers).status_code == 200


def test_logout_revokes_the_session(api: ApiHarness) -> None:
    _log_in(api)
    secret = api.client.cookies.get(access.SESSION_COOKIE)
    assert secret is not None
    response = api.client.post(
        "/logout", data={"csrf_token": _session_csrf(api)}, follow_redirects=False
    )
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert access.SESSION_COOKIE not in api.client.cookies
    api.client.cookies.set(access.SESSION_COOKIE, secret)
    assert api.client.get("/api/v1/dags").status_code == 401


def test_logout_without_the_csrf_token_keeps_the_session(api: ApiHarness) -> None:
    _log_in(api)
    assert api.client.post("/logout", follow_redirects=False).status_code == 403
    assert api.client.get("/api/v1/dags").status_code == 200
