"""Reading local log files in pieces without splitting a UTF-8 character."""

from __future__ import annotations

from pathlib import Path

import pytest

from gnomon.runtime import logstore


def test_a_read_returns_the_content_from_the_offset_and_where_to_go_on(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"first\nsecond\n")
    chunk = logstore.read(str(path), 6, final=False)
    assert chunk == logstore.Chunk("second\n", 13, True)


def test_a_character_cut_by_the_limit_is_left_for_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes("aé€".encode())  # 1 + 2 + 3 bytes
    first = logstore.read(str(path), 0, final=True, limit=4)
    assert (first.content, first.next_offset, first.at_end) == ("aé", 3, False)
    second = logstore.read(str(path), first.next_offset, final=True)
    assert (second.content, second.next_offset, second.at_end) == ("€", 6, True)


def test_a_half_written_character_waits_while_the_writer_runs(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes("x€".encode()[:3])
    assert logstore.read(str(path), 0, final=False) == logstore.Chunk("x", 1, False)
    assert logstore.read(str(path), 0, final=True) == logstore.Chunk("x\ufffd", 3, True)


def test_a_missing_file_reads_as_empty_at_its_end(tmp_path: Path) -> None:
    assert logstore.read(str(tmp_path / "nope"), 0, final=True) == logstore.Chunk("", 0, True)


def test_without_a_log_url_logs_stay_in_the_local_folder(tmp_path: Path) -> None:
    store = logstore.LogStore(None, tmp_path, {})
    assert not store.remote
    assert store.location("d/r/t/try-1.log") == str(tmp_path / "d/r/t/try-1.log")
    assert store.upload("d/r/t/try-1.log") == str(tmp_path / "d/r/t/try-1.log")


def test_a_file_url_of_the_logs_folder_itself_uploads_nothing(tmp_path: Path) -> None:
    store = logstore.LogStore(f"file://{tmp_path}/", tmp_path, {})
    assert not store.remote
    assert store.store_finished("d/try-1.log") == str(tmp_path / "d/try-1.log")


def test_a_file_url_of_another_folder_gets_a_copy(tmp_path: Path) -> None:
    (tmp_path / "logs/d").mkdir(parents=True)
    (tmp_path / "logs/d/try-1.log").write_text("done\n")
    store = logstore.LogStore(f"file://{tmp_path}/shared", tmp_path / "logs", {})
    location = store.upload("d/try-1.log")
    assert location == f"file://{tmp_path}/shared/d/try-1.log"
    assert (tmp_path / "shared/d/try-1.log").read_text() == "done\n"
    assert logstore.read(location, 2, final=True) == logstore.Chunk("ne\n", 5, True)


def test_an_unknown_protocol_is_refused_when_the_store_is_made(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nosuchfs"):
        logstore.LogStore("nosuchfs://bucket/logs", tmp_path, {})
