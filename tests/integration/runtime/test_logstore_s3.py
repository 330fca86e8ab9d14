"""The log store on a real S3-compatible server: uploads, ranged reads, and what goes wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.s3 import S3Server

from gnomon.runtime import logstore

RELPATH = "etl/manual__2026-01-01T00_00_00_00_00/load/try-1.log"
CONTENT = "".join(f"line {n}: é\n" for n in range(1000))  # 12 bytes a line


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    (folder / RELPATH).parent.mkdir(parents=True)
    (folder / RELPATH).write_text(CONTENT)
    return folder


def test_upload_copies_the_log_and_returns_its_location(s3_server: S3Server, folder: Path) -> None:
    bucket = s3_server.create_bucket()
    store = logstore.LogStore(f"s3://{bucket}/gnomon/", folder, s3_server.storage_options)
    assert store.remote
    location = store.upload(RELPATH)
    assert location == f"s3://{bucket}/gnomon/{RELPATH}" == store.location(RELPATH)
    assert s3_server.get(bucket, f"gnomon/{RELPATH}").decode() == CONTENT


def test_a_read_returns_the_piece_from_the_offset_and_where_to_go_on(
    s3_server: S3Server, folder: Path
) -> None:
    bucket = s3_server.create_bucket()
    store = logstore.LogStore(f"s3://{bucket}", folder, s3_server.storage_options)
    location = store.upload(RELPATH)
    options = s3_server.storage_options
    offset = len(CONTENT[:500].encode())
    first = logstore.read(location, offset, final=True, limit=100, storage_options=options)
    assert first.content == CONTENT.encode()[offset : offset + 100].decode()
    assert (first.next_offset, first.at_end) == (offset + 100, False)
    rest = logstore.read(location, first.next_offset, final=True, storage_options=options)
    assert first.content + rest.content == CONTENT.encode()[offset:].decode()
    assert rest.at_end
    assert rest.next_offset == len(CONTENT.encode())


def test_a_cut_character_is_left_for_the_next_read(s3_server: S3Server, folder: Path) -> None:
    bucket = s3_server.create_bucket()
    location = logstore.LogStore(f"s3://{bucket}", folder, s3_server.storage_options).upload(
        RELPATH
    )
    # "line 0: é\n": the é's two bytes are at 8 and 9; a limit of 9 cuts it.
    chunk = logstore.read(
        location, 0, final=True, limit=9, storage_options=s3_server.storage_options
    )
    assert chunk == logstore.Chunk("line 0: ", 8, False)


def test_a_missing_object_reads_as_empty_at_its_end(s3_server: S3Server) -> None:
    bucket = s3_server.create_bucket()
    chunk = logstore.read(
        f"s3://{bucket}/nothing/here.log", 0, final=True, storage_options=s3_server.storage_options
    )
    assert chunk == logstore.Chunk("", 0, True)


def test_wrong_credentials_raise_log_unavailable_naming_the_location(
    s3_server: S3Server, folder: Path
) -> None:
    bucket = s3_server.create_bucket()
    location = logstore.LogStore(f"s3://{bucket}", folder, s3_server.storage_options).upload(
        RELPATH
    )
    wrong = {**s3_server.storage_options, "secret": "wrong"}
    with pytest.raises(logstore.LogUnavailable, match=f"the log at {location} cannot be read"):
        logstore.read(location, 0, final=True, storage_options=wrong)


def test_a_failed_upload_keeps_the_local_log_and_says_so_at_its_end(
    s3_server: S3Server, folder: Path
) -> None:
    store = logstore.LogStore("s3://no-such-bucket/logs", folder, s3_server.storage_options)
    location = store.store_finished(RELPATH)
    assert location == str(folder / RELPATH)
    last = (folder / RELPATH).read_text().splitlines()[-1]
    assert last.startswith("*** uploading this log to s3://no-such-bucket/logs failed:")


def test_a_failed_upload_falls_back_to_the_workers_url(s3_server: S3Server, folder: Path) -> None:
    store = logstore.LogStore("s3://no-such-bucket/logs", folder, s3_server.storage_options)
    worker_url = "http://worker-1:8793/logs/x?sig=abc"
    assert store.store_finished(RELPATH, fallback=worker_url) == worker_url
