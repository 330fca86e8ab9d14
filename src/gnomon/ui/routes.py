"""The UI's pages: server-rendered shells (the JavaScript fetches the API's JSON), the login
form and the logout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from gnomon.api import deps
from gnomon.ui import sessions

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")

#: Pages load nothing from other origins and run no inline script.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)


def _render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def _page(request: Request, template: str, admin_only: bool = False, **context: Any) -> Response:
    """A page for the signed-in user; others go to the login form and come back here."""
    signed_in = sessions.current(deps.config(request), request)
    if signed_in is None:
        return RedirectResponse(sessions.login_url(request), status_code=303)
    page = {"user": signed_in.user, "csrf": signed_in.csrf}
    if admin_only and not signed_in.user.is_admin:
        return _render(request, "forbidden.html", page, 403)
    return _render(request, template, {**page, **context})


def _login_form(
    request: Request, next_url: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    config = deps.config(request)
    token = sessions.login_csrf(request)
    response = _render(
        request,
        "login.html",
        {"csrf": token, "next": sessions.safe_next(next_url), "error": error},
        status_code,
    )
    sessions.set_login_csrf(response, config, token)
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    if sessions.current(deps.config(request), request) is not None:
        return RedirectResponse(sessions.safe_next(next), status_code=303)
    return _login_form(request, next)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=250)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    request.state.username = username or None
    if not sessions.login_csrf_matches(request, csrf_token):
        return _login_form(request, next, "The form expired: please sign in again.", 403)
    config = deps.config(request)
    secret = sessions.log_in(config, username, password) if username and password else None
    if secret is None:
        return _login_form(request, next, "Wrong username or password.", 401)
    response = RedirectResponse(sessions.safe_next(next), status_code=303)
    sessions.set_session(response, config, secret)
    response.delete_cookie(sessions.LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    config = deps.config(request)
    signed_in = sessions.current(config, request)
    if signed_in is not None:
        request.state.username = signed_in.user.username
        if not sessions.session_csrf_matches(request, csrf_token):
            page = {"user": signed_in.user, "csrf": signed_in.csrf}
            return _render(request, "forbidden.html", page, 403)
        sessions.log_out(config, signed_in.user.token_id)
    response = RedirectResponse("/login", status_code=303)
    sessions.clear_session(response, config)
    return response


@router.get("/")
def dag_list(request: Request) -> Response:
    return _page(request, "dags.html")


@router.get("/dags/{dag_id}")
def dag_page(request: Request, dag_id: str) -> Response:
    return _page(request, "dag.html", dag_id=dag_id)


@router.get("/dags/{dag_id}/trigger")
def trigger_page(request: Request, dag_id: str) -> Response:
    return _page(request, "trigger.html", dag_id=dag_id)


@router.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}")
def try_page(request: Request, dag_id: str, run_id: str, task_id: str) -> Response:
    return _page(request, "try.html", dag_id=dag_id, run_id=run_id, task_id=task_id)


@router.get("/audit")
def audit_page(request: Request) -> Response:
    return _page(request, "audit.html", admin_only=True)
