"""The execution client's HTTP/1.1 connection (``http.client``) against a scripted server:
how it reads the answers a server may give, and when it keeps or opens its connection."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from gnomon.executors.http_connection import Connection, NoAnswer


@dataclass
class Server:
    """Answers each request with the next scripted bytes, closing the connection after it
    if told to. Records which connection each request came on."""

    url: str
    answers: list[tuple[bytes, bool]] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)
    stopped: bool = False
    #: Set each time the server has closed a connection.
    closed: threading.Event = field(default_factory=threading.Event)


def _serve(listener: socket.socket, server: Server) -> None:
    number = 0
    while True:
        sock, _ = listener.accept()
        if server.stopped:
            sock.close()
            return
        number += 1
        with sock, sock.makefile("rb") as reader:
            while server.answers:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        break
                    head += line
                if not head:
                    break
                reader.read(2)  # the {} body
                server.connections.append(number)
                answer, close = server.answers.pop(0)
                sock.sendall(answer)
                if close:
                    break
        server.closed.set()


@pytest.fixture
def server() -> Iterator[Server]:
    listener = socket.create_server(("127.0.0.1", 0))
    scripted = Server(f"http://127.0.0.1:{listener.getsockname()[1]}/execution/v1")
    thread = threading.Thread(target=_serve, args=(listener, scripted), daemon=True)
    thread.start()
    yield scripted
    scripted.stopped = True
    socket.create_connection(listener.getsockname()).close()  # wakes the accept up
    thread.join()
    listener.close()


def _ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def test_a_chunked_answer_is_read_whole_and_the_connection_kept(server: Server) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'3\r\n{"a\r\n5;x=1\r\n": 1}\r\n0\r\n\r\n'
    )
    server.answers[:] = [(chunked, False), (_ok(b"{}"), False)]
    connection = Connection(server.url, 5, 5)
    assert connection.request("POST", "/x", {}, b"{}") == (200, b'{"a": 1}')
    assert connection.request("POST", "/x", {}, b"{}") == (200, b"{}")
    assert server.connections == [1, 1]
    connection.close()


def test_an_interim_answer_is_skipped_for_the_real_one(server: Server) -> None:
    server.answers[:] = [(b"HTTP/1.1 100 Continue\r\n\r\n" + _ok(b"{}"), False)]
    connection = Connection(server.url, 5, 5)
    assert connection.request("POST", "/x", {}, b"{}") == (200, b"{}")
    connection.close()


def test_a_connection_the_server_closed_while_idle_is_opened_again(server: Server) -> None:
    server.answers[:] = [(_ok(b"1"), True), (_ok(b"2"), False)]
    connection = Connection(server.url, 5, 5)
    assert connection.request("POST", "/x", {}, b"{}") == (200, b"1")
    assert server.closed.wait(5)
    assert connection.request("POST", "/x", {}, b"{}") == (200, b"2")
    assert server.connections == [1, 2]
    connection.close()


def test_an_answer_saying_connection_close_is_not_used_again(server: Server) -> None:
    server.answers[:] = [(_ok(b"1", b"Connection: close\r\n"), False), (_ok(b"2"), False)]
    connection = Connection(server.url, 5, 5)
    assert connection.request("POST", "/x", {}, b"{}") == (200, b"1")
    assert connection.request("POST", "/x", {}, b"{}") == (200, b"2")
    assert server.connections == [1, 2]
    connection.close()


def test_an_answer_cut_short_is_no_answer(server: Server) -> None:
    server.answers[:] = [(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", True)]
    connection = Connection(server.url, 5, 5)
    with pytest.raises(NoAnswer, match="IncompleteRead"):
        connection.request("POST", "/x", {}, b"{}")


def test_something_else_than_http_is_no_answer(server: Server) -> None:
    server.answers[:] = [(b"SSH-2.0-OpenSSH_9.6\r\n", True)]
    connection = Connection(server.url, 5, 5)
    with pytest.raises(NoAnswer, match="BadStatusLine"):
        connection.request("POST", "/x", {}, b"{}")


def test_a_url_that_is_not_http_is_no_answer() -> None:
    with pytest.raises(NoAnswer, match="not an http"):
        Connection("ftp://example.com/x", 5, 5).request("POST", "/x", {}, b"{}")
