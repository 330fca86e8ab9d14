"""Live logs from a worker: a small HTTP server over its logs folder, and the client the API
reads it with.

A remote worker writes its tries' logs on its own disk; while a try runs, the API has no other
way to see them. The worker runs a ``LogServer`` and reports ``url_for(relpath)`` as the try's
log location; once the try ends it reports the uploaded location instead.

No shared secret is configured anywhere: each server makes a random key when it starts and
signs every URL it hands out (``?sig=`` HMAC-SHA256 of the relative path). Only whoever can
read the recorded location (the metadata database, hence the API) can read the log; a URL
stops working when the worker restarts, by which time the log has been uploaded or the try
failed as a zombie. Requests without a valid signature get 403; paths never leave the folder.

Reads are by byte offset with a standard ``Range: bytes=START-END`` header (206 with
``Content-Range: bytes START-END/SIZE``; 416 past the end), so a client follows a growing file
exactly as it follows a local one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import parse_qs, quote, unquote, urlsplit

#: The most bytes one response carries, whatever range is asked for.
MAX_RESPONSE = 4 * 1024 * 1024
PREFIX = "/logs/"

_RANGE = re.compile(r"bytes=(\d+)-(\d*)")
_CONTENT_RANGE = re.compile(r"bytes (?:\d+-\d+|\*)/(\d+)")


def _sign(key: bytes, relpath: str) -> str:
    return hmac.new(key, relpath.encode(), hashlib.sha256).hexdigest()


class LogServer:
    """Serves the files of ``folder`` to whoever holds a URL from ``url_for``.

    ``host``/``port`` are what it binds (port 0: any free port); ``advertised_host`` is the
    name the API reaches this machine by, written into the URLs.
    """

    def __init__(self, folder: Path, host: str, port: int, advertised_host: str) -> None:
        self.folder = folder.resolve()
        self.advertised_host = advertised_host
        self._key = secrets.token_bytes(32)
        self._server = ThreadingHTTPServer((host, port), _handler(self.folder, self._key))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the chosen one when it was created with port 0)."""
        return int(self._server.server_address[1])

    def fileno(self) -> int:
        """The listening socket: close it in forked tries (``Supervisor(close_in_child=...)``)
        so that a try outliving its worker does not keep the port."""
        return self._server.fileno()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="log-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def url_for(self, relpath: str) -> str:
        """The signed URL of ``relpath`` (relative to the folder, ``/``-separated)."""
        relpath = PurePosixPath(relpath).as_posix()
        host = f"[{self.advertised_host}]" if ":" in self.advertised_host else self.advertised_host
        return f"http://{host}:{self.port}{PREFIX}{quote(relpath)}?sig={_sign(self._key, relpath)}"


def _handler(folder: Path, key: bytes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "gnomon-logs"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if not url.path.startswith(PREFIX):
                self._answer(HTTPStatus.NOT_FOUND, b"not a log path\n")
                return
            relpath = unquote(url.path[len(PREFIX) :])
            given = parse_qs(url.query).get("sig", [""])[0]
            if not hmac.compare_digest(given, _sign(key, relpath)):
                self._answer(HTTPStatus.FORBIDDEN, b"bad or missing signature\n")
                return
            # Signed paths come from url_for, but a caller may sign anything: check anyway.
            path = (folder / relpath).resolve()
            if not path.is_relative_to(folder) or path == folder:
                self._answer(HTTPStatus.FORBIDDEN, b"the path leaves the logs folder\n")
                return
            try:
                f = path.open("rb")
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                self._answer(HTTPStatus.NOT_FOUND, b"no such log\n")
                return
            with f:
                self._send_range(f, os.fstat(f.fileno()).st_size)

        def _send_range(self, f: BinaryIO, size: int) -> None:
            header = self.headers.get("Range")
            start, end = 0, size - 1
            if header is not None:
                match = _RANGE.fullmatch(header.strip())
                if match is None:
                    self._answer(HTTPStatus.BAD_REQUEST, b"only Range: bytes=START-[END]\n")
                    return
                start = int(match[1])
                if match[2]:
                    end = min(end, int(match[2]))
                if start >= size:
                    extra = {"Content-Range": f"bytes */{size}"}
                    self._answer(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", extra)
                    return
            end = min(end, start + MAX_RESPONSE - 1)
            f.seek(start)
            data = f.read(max(0, end - start + 1))
            if header is None and len(data) == size:
                self._answer(HTTPStatus.OK, data)
            else:
                # What was read may be less than asked if the file was truncated meanwhile.
                last = start + len(data) - 1
                extra = {"Content-Range": f"bytes {start}-{last}/{size}"}
                self._answer(HTTPStatus.PARTIAL_CONTENT, data, extra)

        def _answer(
            self, status: HTTPStatus, body: bytes, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the API polls every second while someone watches: no line per request

    return Handler


class LogServerUnavailable(Exception):
    """The worker's log server could not be reached or refused the request."""


@dataclass(frozen=True, slots=True)
class Fetched:
    data: bytes
    #: The file's size when it was read; None if it does not exist (yet).
    size: int | None


#: Worker URLs are reached directly, never through a proxy from the environment: they are
#: on the cluster's network, and the URL carries the signature.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str, offset: int, limit: int, *, timeout: float = 5.0) -> Fetched:
    """At most ``limit`` bytes of the log at ``url`` from byte ``offset``."""
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-{offset + limit - 1}"})
    try:
        with _opener.open(request, timeout=timeout) as response:
            data = response.read()
            if response.status == HTTPStatus.OK:  # a server that ignores ranges: all of it
                return Fetched(data[offset : offset + limit], len(data))
            return Fetched(data, _size(response.headers.get("Content-Range"), offset + len(data)))
    except urllib.error.HTTPError as exc:
        with exc:
            if exc.code == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE:
                return Fetched(b"", _size(exc.headers.get("Content-Range"), offset))
            if exc.code == HTTPStatus.NOT_FOUND:
                return Fetched(b"", None)
            reason = exc.read(200).decode(errors="replace").strip() or exc.reason
        raise LogServerUnavailable(
            f"the log server at {shown(url)} answered {exc.code}: {reason}"
        ) from None
    except urllib.error.URLError as exc:  # refused, unknown host...
        raise LogServerUnavailable(
            f"the log server at {shown(url)} cannot be reached: {exc.reason}"
        ) from None
    except OSError as exc:  # a timeout, a reset connection
        raise LogServerUnavailable(
            f"the log server at {shown(url)} cannot be reached: {exc}"
        ) from None


def _size(content_range: str | None, default: int) -> int:
    match = _CONTENT_RANGE.fullmatch((content_range or "").strip())
    return int(match[1]) if match else default


def shown(url: str) -> str:
    """``url`` without its query string (the signature): what may be displayed or logged."""
    return url.split("?", 1)[0]
