"""The worker's side of the execution API: one method per endpoint, over HTTP/1.1.

Remote workers hold no database credentials (architecture rule 6): this is how they claim,
load, heartbeat, read XComs for and report a try. Two kinds of trouble are kept apart:

- *an answer* (401, 403, 404, 409, or another 4xx): the API decided; ``Refused`` says what,
  and the caller acts on it (drop the message, kill the try, treat the end as done);
- *no answer* (connection refused or reset, a timeout, a 5xx such as 503 while the database
  restarts): retried with capped exponential backoff for a bounded time, then ``Unreachable``.
  An end report is retried for minutes, so restarting Postgres or the API loses none.

Each process keeps one keep-alive connection (``http_connection``): made on first use and
made again after a fork, since a connection opened in the parent must never be used by a
child.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from gnomon.executors.http_connection import Connection, NoAnswer
from gnomon.runtime.protocol import TryOutcome, TryRequest
from gnomon.semantics.states import TaskState

#: How long each kind of request is retried while the API gives no answer (seconds).
START_RETRY = 60.0
FETCH_RETRY = 60.0
END_RETRY = 300.0
_FIRST_DELAY = 0.1
_MAX_DELAY = 5.0


class ExecutionApiError(Exception):
    """A request to the execution API did not succeed."""


class Refused(ExecutionApiError):
    """The API answered with a 4xx: an answer to act on, not a failure to retry."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class Unreachable(ExecutionApiError):
    """No answer (or only 5xx) for the whole retry window."""


@dataclass(frozen=True, slots=True)
class Claim:
    """Who starts a try. ``started_at`` identifies this claim: the same claim sent again (its
    answer was lost) is answered again, any other claim of a started try is refused."""

    hostname: str
    pid: int
    worker: str
    started_at: datetime
    log_location: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "hostname": self.hostname,
            "pid": self.pid,
            "worker": self.worker,
            "started_at": self.started_at.isoformat(),
            "log_location": self.log_location,
        }


@dataclass(frozen=True, slots=True)
class NextStart:
    """A try to start with an end report (``ExecutionClient.end``'s ``then``)."""

    try_id: int
    #: Its start token.
    token: str
    claim: Claim


@dataclass(frozen=True, slots=True)
class BundleRef:
    hash: str
    #: Path relative to the DAGs folder -> sha256 of its content.
    files: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class StartAnswer:
    """What the API answers a successful start: the run token and what to run."""

    token: str
    token_expires_in: float
    heartbeat_interval: float
    request: TryRequest
    dag_id: str
    dag_version_id: int
    version_hash: str
    #: The DAG file's path relative to the DAGs folder.
    fileloc: str
    bundle: BundleRef | None
    timeout: float | None
    xcom_max_bytes: int | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StartAnswer:
        bundle = data.get("bundle")
        return cls(
            token=data["token"],
            token_expires_in=float(data["token_expires_in"]),
            heartbeat_interval=float(data["heartbeat_interval"]),
            request=TryRequest.from_json(data["request"]),
            dag_id=data["dag_id"],
            dag_version_id=int(data["dag_version_id"]),
            version_hash=data["version_hash"],
            fileloc=data["fileloc"],
            bundle=None if bundle is None else BundleRef(bundle["hash"], dict(bundle["files"])),
            timeout=data.get("timeout"),
            xcom_max_bytes=data.get("xcom_max_bytes"),
        )


class ExecutionClient:
    """The execution API at ``base_url`` (``http://host:8080/execution/v1``); ``timeout``
    bounds each HTTP request, the retry windows bound the retrying."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._path = urlsplit(self.base_url).path
        self._connection: Connection | None = None

    # -- the endpoints -----------------------------------------------------------------------
    def start(
        self, try_id: int, token: str, claim: Claim, *, retry_for: float = START_RETRY
    ) -> StartAnswer:
        """Claim the queued try. ``Refused`` 409: another worker has it, or it ended or was
        taken back; 404: it is gone. Either way: do not run it."""
        answer = self._json("POST", f"/tries/{try_id}/start", token, claim.to_json(), retry_for)
        return StartAnswer.from_json(answer)

    def source(self, try_id: int, token: str, *, retry_for: float = FETCH_RETRY) -> str:
        """The stored source of the try's DAG file."""
        answer = self._json("GET", f"/tries/{try_id}/source", token, None, retry_for)
        return str(answer["source"])

    def file(
        self, try_id: int, token: str, sha256: str, *, retry_for: float = FETCH_RETRY
    ) -> bytes:
        """One file of the try's bundle, by content hash."""
        return self._call("GET", f"/tries/{try_id}/files/{sha256}", token, None, retry_for)

    def heartbeat(self, try_id: int, token: str, *, retry_for: float) -> str:
        """Mark the try alive; the fresh run token. ``Refused`` 409: the try is no longer
        running anywhere but here: kill it."""
        answer = self._json("POST", f"/tries/{try_id}/heartbeat", token, {}, retry_for)
        return str(answer["token"])

    def xcoms(
        self, try_id: int, token: str, task_id: str, key: str, *, retry_for: float = FETCH_RETRY
    ) -> dict[int, Any]:
        """What ``task_id`` pushed under ``key`` in the try's run, by map index."""
        query = urlencode({"task_id": task_id, "key": key})
        answer = self._json("GET", f"/tries/{try_id}/xcoms?{query}", token, None, retry_for)
        return {int(index): value for index, value in answer["values"].items()}

    def end(
        self,
        try_id: int,
        token: str,
        outcome: TryOutcome,
        *,
        started_at: datetime | None,
        ended_at: datetime,
        pid: int | None,
        log_location: str | None = None,
        retry_for: float = END_RETRY,
        then: NextStart | None = None,
    ) -> tuple[TaskState, StartAnswer | Refused | None]:
        """Report how the try ended; the state it was recorded in. ``Refused`` 409: it had
        ended already (failed as a zombie, or this report's earlier answer was lost).

        With ``then``, the API starts that try once the end is recorded, and the second
        value is what its start answered (``StartAnswer``, or ``Refused`` as ``start`` would
        raise it); None if the API did not start it (send the same claim to ``start``: a
        start repeated with its claim is answered again, not refused)."""
        body: dict[str, Any] = {
            "outcome": outcome.to_json(),
            "started_at": started_at.isoformat() if started_at else None,
            "ended_at": ended_at.isoformat(),
            "pid": pid,
            "log_location": log_location,
        }
        if then is not None:
            body["next"] = {**then.claim.to_json(), "try_id": then.try_id, "token": then.token}
        answer = self._json("POST", f"/tries/{try_id}/end", token, body, retry_for)
        following = answer.get("next")
        started: StartAnswer | Refused | None = None
        if following is not None and following["status"] == 200:
            started = StartAnswer.from_json(following["start"])
        elif following is not None and 400 <= following["status"] < 500:
            started = Refused(following["status"], following["detail"] or "")
        return TaskState(answer["state"]), started

    # -- HTTP --------------------------------------------------------------------------------
    def _json(
        self,
        method: str,
        path: str,
        token: str,
        body: Mapping[str, Any] | None,
        retry_for: float,
    ) -> Any:
        return json.loads(self._call(method, path, token, body, retry_for))

    def _call(
        self,
        method: str,
        path: str,
        token: str,
        body: Mapping[str, Any] | None,
        retry_for: float,
    ) -> bytes:
        url = self.base_url + path
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        payload = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            payload = json.dumps(body).encode()
        deadline = time.monotonic() + retry_for
        delay = _FIRST_DELAY
        while True:
            try:
                status, data = self._connections().request(
                    method, self._path + path, headers, payload
                )
            except (OSError, NoAnswer) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if status < 400:
                    return data
                detail = _detail(data)
                if status < 500:
                    raise Refused(status, detail)
                problem = f"HTTP {status}: {detail}"
            if time.monotonic() + delay > deadline:
                raise Unreachable(f"{method} {url}: no answer for {retry_for:g}s, last: {problem}")
            time.sleep(delay)
            delay = min(delay * 2, _MAX_DELAY)

    def _connections(self) -> Connection:
        connection = self._connection
        if connection is None or connection.pid != os.getpid():
            # After a fork the parent's connection stays the parent's: a new one, and the
            # child closes only its copy of the inherited one.
            if connection is not None:
                connection.close()
            connection = Connection(self.base_url, min(self.timeout, 10.0), self.timeout)
            self._connection = connection
        return connection


def _detail(data: bytes) -> str:
    """The ``detail`` of an error answer, else its text (a proxy's error page...)."""
    try:
        found = json.loads(data)
    except ValueError:
        return data.decode(errors="replace")[:500]
    if isinstance(found, dict) and "detail" in found:
        detail = found["detail"]
        return detail if isinstance(detail, str) else json.dumps(detail)
    return json.dumps(found)[:500]
