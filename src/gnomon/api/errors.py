"""The API's errors: each becomes ``{"detail": message}`` with its status code."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status
from pydantic import BaseModel


class ErrorOut(BaseModel):
    """Every error but a malformed request."""

    detail: str


class InvalidOut(BaseModel):
    """A 422: a message (a value the store refused), or the fields that failed validation."""

    detail: str | list[dict[str, Any]]


#: Errors every authenticated endpoint may answer, for the routers' ``responses``. Declaring
#: 422 replaces FastAPI's own (a list of field errors only), which our messages would violate.
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No token, or a bad, expired or revoked one"},
    403: {"model": ErrorOut, "description": "The caller's role is too low"},
    422: {"model": InvalidOut, "description": "Invalid parameters or body"},
}


class ApiError(HTTPException):
    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(self.status_code, detail, headers)


class Unauthenticated(ApiError):
    status_code = status.HTTP_401_UNAUTHORIZED

    def __init__(self, detail: str = "not authenticated: send a bearer token") -> None:
        super().__init__(detail, {"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status_code = status.HTTP_403_FORBIDDEN


class NotFound(ApiError):
    status_code = status.HTTP_404_NOT_FOUND


class Conflict(ApiError):
    status_code = status.HTTP_409_CONFLICT


class Invalid(ApiError):
    """A request that is well-formed but wrong (an unknown param, a bad conf value)."""

    status_code = status.HTTP_422_UNPROCESSABLE_CONTENT


class Unavailable(ApiError):
    """The API cannot answer now (its database is unreachable); the client should retry."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
