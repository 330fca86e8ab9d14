"""One HTTP/1.1 keep-alive connection (the standard library's ``http.client``), for the
execution API client's few small requests.

A worker sends two or three requests per try (start, end, a heartbeat for long tries).
Through urllib3's pool manager each cost ~0.3 ms of client CPU, about a tenth of what the
worker spends per try; one ``http.client`` connection kept per process costs less than
two-thirds of that. Anything the answer's parser refuses is a ``NoAnswer`` (connection
errors an ``OSError``), and the connection is closed: the caller retries.
"""

from __future__ import annotations

import http.client
import os
import select
import socket
import threading
import weakref
from collections.abc import Mapping
from urllib.parse import urlsplit


class NoAnswer(Exception):
    """No HTTP/1.x answer we understand came back (or the URL cannot be asked)."""


class Connection:
    """A connection to the server of ``base_url``, opened when first needed and again after
    the server closed it or anything went wrong with it. ``pid``: the process that made it."""

    def __init__(self, base_url: str, connect_timeout: float, read_timeout: float) -> None:
        self.pid = os.getpid()
        parts = urlsplit(base_url)
        self._problem: str | None = None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self._problem = f"not an http(s)://host[:port] URL: {base_url!r}"
        self._tls = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None
        self._closer: weakref.finalize[[http.client.HTTPConnection], Connection] | None = None

    def request(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes | None
    ) -> tuple[int, bytes]:
        """Send one request (``target``: the path and query); the answer's status and body."""
        if self._problem is not None:
            raise NoAnswer(self._problem)
        with self._lock:
            try:
                connection = self._open()
                connection.request(method, target, body=body, headers=dict(headers))
                response = connection.getresponse()
                data = response.read()
                if response.will_close:
                    self.close()
                return response.status, data
            except http.client.HTTPException as exc:
                self.close()
                raise NoAnswer(f"{type(exc).__name__}: {exc}") from None
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        """Close this process's descriptor (a close sends nothing: in a forked child, the
        parent's connection stays open)."""
        if self._closer is not None:
            self._closer()
        self._connection = self._closer = None

    def _open(self) -> http.client.HTTPConnection:
        found = self._connection
        if found is not None and found.sock is not None and not _dropped(found.sock):
            found.sock.settimeout(self._read_timeout)
            return found
        self.close()  # none yet, or the server closed it while it was idle
        kind = http.client.HTTPSConnection if self._tls else http.client.HTTPConnection
        connection = kind(self._host, self._port, timeout=self._connect_timeout)
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(self._read_timeout)
        self._connection = connection
        # Closed with this object too, when a client is dropped without closing.
        self._closer = weakref.finalize(self, http.client.HTTPConnection.close, connection)
        return connection


def _dropped(sock: socket.socket) -> bool:
    """An idle keep-alive connection with something to read was closed by the server."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
