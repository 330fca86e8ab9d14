"""A worker's log server: signed URLs, reads by byte offset, a log that grows, refusals."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gnomon.runtime import log_server, logstore
from gnomon.runtime.log_server import LogServer

RELPATH = "etl/manual__2026-01-01T00_00_00_00_00/load/try-1.log"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    (folder / RELPATH).parent.mkdir(parents=True)
    (folder / RELPATH).write_text("first line\nsecond line\n")
    (tmp_path / "secret.txt").write_text("not a log")
    return folder


@pytest.fixture
def server(folder: Path) -> Iterator[LogServer]:
    server = LogServer(folder, "127.0.0.1", 0, advertised_host="127.0.0.1")
    server.start()
    yield server
    server.stop()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def test_a_signed_url_reads_the_log_from_an_offset(server: LogServer) -> None:
    url = server.url_for(RELPATH)
    assert url.startswith(f"http://127.0.0.1:{server.port}/logs/{RELPATH}?sig=")
    whole = logstore.read(url, 0, final=False)
    assert whole == logstore.Chunk("first line\nsecond line\n", 23, True)
    assert logstore.read(url, 11, final=False, limit=6) == logstore.Chunk("second", 17, False)


def test_content_appended_between_two_reads_shows_up_in_the_second(
    server: LogServer, folder: Path
) -> None:
    url = server.url_for(RELPATH)
    first = logstore.read(url, 0, final=False)
    with (folder / RELPATH).open("a") as f:
        f.write("third line\n")
    second = logstore.read(url, first.next_offset, final=False)
    assert second == logstore.Chunk("third line\n", first.next_offset + 11, True)


def test_a_log_not_written_yet_reads_as_empty_at_its_end(server: LogServer) -> None:
    url = server.url_for("etl/run/other/try-1.log")
    assert logstore.read(url, 0, final=False) == logstore.Chunk("", 0, True)


def test_a_url_without_a_valid_signature_is_refused(server: LogServer) -> None:
    url = server.url_for(RELPATH)
    unsigned, sig = url.split("?sig=")
    altered = sig[:-1] + ("1" if sig[-1] == "0" else "0")
    other = server.url_for("etl/run/other/try-1.log").split("?")[1]
    assert _status(url) == 200
    assert _status(unsigned) == 403
    assert _status(f"{unsigned}?sig={altered}") == 403
    assert _status(f"{unsigned}?{other}") == 403  # the signature of another log


def test_another_servers_signature_is_refused(server: LogServer, folder: Path) -> None:
    second = LogServer(folder, "127.0.0.1", 0, advertised_host="127.0.0.1")
    query = second.url_for(RELPATH).split("?")[1]
    second.stop()
    assert _status(f"{server.url_for(RELPATH).split('?')[0]}?{query}") == 403


def test_a_path_that_leaves_the_logs_folder_is_refused_even_when_signed(
    server: LogServer,
) -> None:
    assert _status(server.url_for("../secret.txt")) == 403


def test_an_unreachable_server_raises_log_unavailable_without_its_signature(
    server: LogServer,
) -> None:
    url = server.url_for(RELPATH)
    server.stop()
    with pytest.raises(logstore.LogUnavailable) as raised:
        logstore.read(url, 0, final=False)
    message = str(raised.value)
    assert log_server.shown(url) in message
    assert "sig=" not in message
    assert "cannot be reached" in message
