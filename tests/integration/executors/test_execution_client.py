"""The worker's HTTP client of the execution API: what it retries, what it takes as an
answer, and that a forked try process never uses its parent's connections but does see the
token its parent renewed."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from support.standalone import free_port

from gnomon.executors.execution_client import ExecutionClient, Refused, Unreachable
from gnomon.executors.remote_try import TokenBox


@dataclass
class Script:
    """The answers a stub API gives, in order (the last one repeats), and who asked."""

    answers: list[tuple[int, dict[str, Any]]]
    clients: list[int] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real server
    script: Script

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.script.clients.append(self.client_address[1])
        status, body = (
            self.script.answers.pop(0) if len(self.script.answers) > 1 else (self.script.answers[0])
        )
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[str, Script]]:
    script = Script([])
    handler = type("Handler", (_Handler,), {"script": script})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/execution/v1", script
    server.shutdown()
    server.server_close()
    thread.join()


RENEWED = (200, {"token": "gnx_renewed", "token_expires_in": 600})


def test_answers_of_5xx_are_retried_until_one_succeeds(stub: tuple[str, Script]) -> None:
    url, script = stub
    script.answers[:] = [(503, {"detail": "database restarting"}), (502, {}), RENEWED]
    client = ExecutionClient(url, timeout=5)
    assert client.heartbeat(7, "gnx_token", retry_for=60) == "gnx_renewed"
    assert len(script.clients) == 3


@pytest.mark.parametrize("status", [401, 403, 404, 409])
def test_refusals_are_answers_and_not_retried(stub: tuple[str, Script], status: int) -> None:
    url, script = stub
    script.answers[:] = [(status, {"detail": "try 7 is not running any more"})]
    with pytest.raises(Refused) as refused:
        ExecutionClient(url, timeout=5).heartbeat(7, "gnx_token", retry_for=60)
    assert (refused.value.status, refused.value.detail) == (
        status,
        "try 7 is not running any more",
    )
    assert len(script.clients) == 1


def test_an_api_that_never_answers_is_unreachable_after_the_retry_window() -> None:
    client = ExecutionClient(f"http://127.0.0.1:{free_port()}/execution/v1", timeout=1)
    with pytest.raises(Unreachable, match=r"no answer for 0\.5s"):
        client.heartbeat(7, "gnx_token", retry_for=0.5)


def test_a_forked_process_makes_its_own_connections(stub: tuple[str, Script]) -> None:
    url, script = stub
    script.answers[:] = [RENEWED]
    client = ExecutionClient(url, timeout=5)
    client.heartbeat(7, "gnx_token", retry_for=5)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            client.heartbeat(7, "gnx_token", retry_for=5)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    client.heartbeat(7, "gnx_token", retry_for=5)
    first, child, again = script.clients
    assert child != first  # the child's own connection
    assert again == first  # the parent's connection is still the parent's, still open


def test_a_token_renewed_after_the_fork_reaches_the_try_process() -> None:
    box = TokenBox("gnx_first")
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child: the try, pulling after a heartbeat
        code = 1
        try:
            os.read(go_r, 1)
            code = 0 if box.get() == "gnx_renewed.at.the.heartbeat" else 1
        finally:
            os._exit(code)
    box.set("gnx_renewed.at.the.heartbeat")
    os.write(go_w, b"!")
    _, status = os.waitpid(pid, 0)
    os.close(go_r)
    os.close(go_w)
    box.close()
    assert os.waitstatus_to_exitcode(status) == 0
