"""Import errors: one per file, replaced on each parse, cleared when the file is fixed."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gnomon.store import import_errors


def test_recording_again_replaces_the_error_of_the_file(session: Session) -> None:
    import_errors.record(session, "/dags/a.py", "SyntaxError: line 1")
    first = import_errors.get(session, "/dags/a.py")
    import_errors.record(session, "/dags/a.py", "NameError: x")

    found = import_errors.get(session, "/dags/a.py")

    assert found is not None and first is not None
    assert found.error == "NameError: x"
    assert found.created_at >= first.created_at
    assert len(import_errors.list_all(session)) == 1


def test_clearing_forgets_the_error_of_a_fixed_file(session: Session) -> None:
    import_errors.record(session, "/dags/a.py", "boom")

    assert import_errors.clear(session, "/dags/a.py")
    assert not import_errors.clear(session, "/dags/a.py")
    assert import_errors.list_all(session) == []


def test_errors_of_deleted_files_are_forgotten(session: Session) -> None:
    for name in ("a", "b", "c"):
        import_errors.record(session, f"/dags/{name}.py", "boom")

    gone = import_errors.retain_only(session, ["/dags/b.py"])

    assert gone == ["/dags/a.py", "/dags/c.py"]
    assert [e.fileloc for e in import_errors.list_all(session)] == ["/dags/b.py"]
