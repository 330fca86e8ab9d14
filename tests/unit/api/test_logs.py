"""Reading log files in pieces without splitting a UTF-8 character."""

from __future__ import annotations

from pathlib import Path

from gnomon.api import logs


def test_a_read_returns_the_content_from_the_offset_and_where_to_go_on(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"first\nsecond\n")
    chunk = logs.read(str(path), 6, final=False)
    assert chunk == logs.Chunk("second\n", 13, True)


def test_a_character_cut_by_the_limit_is_left_for_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes("aé€".encode())  # 1 + 2 + 3 bytes
    first = logs.read(str(path), 0, final=True, limit=4)
    assert (first.content, first.next_offset, first.at_end) == ("aé", 3, False)
    second = logs.read(str(path), first.next_offset, final=True)
    assert (second.content, second.next_offset, second.at_end) == ("€", 6, True)


def test_a_half_written_character_waits_while_the_writer_runs(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes("x€".encode()[:3])
    assert logs.read(str(path), 0, final=False) == logs.Chunk("x", 1, False)
    assert logs.read(str(path), 0, final=True) == logs.Chunk("x\ufffd", 3, True)


def test_a_missing_file_reads_as_empty_at_its_end(tmp_path: Path) -> None:
    assert logs.read(str(tmp_path / "nope"), 0, final=True) == logs.Chunk("", 0, True)
