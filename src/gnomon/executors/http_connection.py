"""One HTTP/1.1 keep-alive connection, for the execution API client's few small requests.

A worker sends two or three requests per try (start, end, a heartbeat for long tries); through
urllib3 each cost ~0.3 ms of CPU, about a tenth of what the worker spends per try, against
~0.03 ms here. Only what the client needs: ``Content-Length`` or chunked bodies, interim 1xx
answers, ``Connection: close``, TLS for ``https`` URLs. Anything unexpected is a
``NoAnswer`` (or an ``OSError``) and the connection is closed: the caller retries.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import threading
import weakref
from typing import BinaryIO
from urllib.parse import urlsplit

_MAX_LINE = 65536


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
        self._address = (parts.hostname or "", parts.port or (443 if self._tls else 80))
        #: What requests start with: ``Host`` is the URL's host[:port].
        self.host = parts.netloc.rpartition("@")[2]
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._reader: BinaryIO | None = None
        self._closer: weakref.finalize[[BinaryIO, socket.socket], Connection] | None = None

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send one whole request; the answer's status and body."""
        if self._problem is not None:
            raise NoAnswer(self._problem)
        with self._lock:
            try:
                sock, reader = self._open()
                sock.sendall(request)
                status, data, keep = _read_response(reader)
            except BaseException:
                self.close()
                raise
            if not keep:
                self.close()
            return status, data

    def close(self) -> None:
        """Close this process's descriptors (a close sends nothing: in a forked child, the
        parent's connection stays open)."""
        if self._closer is not None:
            self._closer()
        self._sock = self._reader = self._closer = None

    def _open(self) -> tuple[socket.socket, BinaryIO]:
        if self._sock is not None and self._reader is not None:
            if not _dropped(self._sock):
                return self._sock, self._reader
            self.close()  # the server closed it while it was idle
        sock = socket.create_connection(self._address, timeout=self._connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls:
                sock = ssl.create_default_context().wrap_socket(
                    sock, server_hostname=self._address[0]
                )
            sock.settimeout(self._read_timeout)
        except BaseException:
            sock.close()
            raise
        reader = sock.makefile("rb")
        self._sock, self._reader = sock, reader
        # Closed with the connection, or when it is dropped (a client no longer used).
        self._closer = weakref.finalize(self, _close, reader, sock)
        return sock, reader


def _close(reader: BinaryIO, sock: socket.socket) -> None:
    reader.close()
    sock.close()


def _dropped(sock: socket.socket) -> bool:
    """An idle keep-alive connection with something to read was closed by the server."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _read_response(reader: BinaryIO) -> tuple[int, bytes, bool]:
    """Status, body, and whether the connection may be used again."""
    while True:
        version, status = _status_line(reader)
        headers = _headers(reader)
        if not 100 <= status < 200 or status == 101:
            break  # an interim 1xx answer: the real one follows
    connection = headers.get("connection", "").lower()
    keep = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
    if status in (204, 304):
        return status, b"", keep
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return status, _chunked(reader), keep
    length = headers.get("content-length")
    if length is None:
        return status, reader.read(), False  # the body ends with the connection
    try:
        size = int(length)
    except ValueError:
        raise NoAnswer(f"bad Content-Length {length!r}") from None
    data = reader.read(size)
    if len(data) != size:
        raise NoAnswer(f"connection closed after {len(data)} of {size} body bytes")
    return status, data, keep


def _line(reader: BinaryIO) -> bytes:
    line = reader.readline(_MAX_LINE)
    if not line:
        raise NoAnswer("connection closed before the answer")
    if not line.endswith(b"\n"):
        raise NoAnswer("answer line too long or cut short")
    return line


def _status_line(reader: BinaryIO) -> tuple[str, int]:
    parts = _line(reader).split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise NoAnswer(f"bad status line {b' '.join(parts)[:100]!r}")
    return parts[0].decode(), int(parts[1])


def _headers(reader: BinaryIO) -> dict[str, str]:
    headers: dict[str, str] = {}
    while True:
        line = _line(reader)
        if line in (b"\r\n", b"\n"):
            return headers
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise NoAnswer(f"bad header line {line[:100]!r}")
        headers[name.strip().lower()] = value.strip()


def _chunked(reader: BinaryIO) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = _line(reader).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise NoAnswer(f"bad chunk size {size_line[:100]!r}") from None
        if size == 0:
            _headers(reader)  # trailers, up to the blank line
            return b"".join(chunks)
        data = reader.read(size)
        if len(data) != size:
            raise NoAnswer("connection closed inside a chunk")
        chunks.append(data)
        _line(reader)  # the line end after the chunk
