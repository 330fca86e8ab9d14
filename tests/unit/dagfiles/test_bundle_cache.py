"""``dagfiles.bundles.BundleCache``: a bundle materialised on a worker, checked, made once."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gnomon.dagfiles import bundles

#: Path relative to the DAGs folder -> content.
FILES = {
    "etl.py": b"import helpers.names\n",
    "helpers/names.py": b"NAME = 'etl'\n",
    "sql/query.sql": b"SELECT 1\n",
    "sql/again.sql": b"SELECT 1\n",  # the same content as another file
}


def _manifest(files: dict[str, bytes]) -> dict[str, str]:
    return {relpath: bundles.sha256(content) for relpath, content in files.items()}


MANIFEST = _manifest(FILES)
HASH = bundles.manifest_hash(MANIFEST)


class Server:
    """Serves the files by content hash and counts what it was asked for."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.content = {bundles.sha256(data): data for data in files.values()}
        self.asked: list[str] = []

    def __call__(self, sha256: str) -> bytes:
        self.asked.append(sha256)
        return self.content[sha256]


def test_a_bundle_is_made_from_its_files_each_fetched_once(tmp_path: Path) -> None:
    server = Server(FILES)

    folder = bundles.BundleCache(tmp_path).ensure(HASH, MANIFEST, server)

    assert folder == tmp_path / HASH
    found = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.*")}
    assert found == FILES
    assert sorted(server.asked) == sorted(set(MANIFEST.values()))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


def test_a_bundle_that_is_here_is_used_as_it_is(tmp_path: Path) -> None:
    cache = bundles.BundleCache(tmp_path)
    cache.ensure(HASH, MANIFEST, Server(FILES))
    server = Server(FILES)

    assert cache.ensure(HASH, MANIFEST, server) == tmp_path / HASH
    assert server.asked == []


def test_files_cached_for_one_bundle_are_not_fetched_for_another(tmp_path: Path) -> None:
    cache = bundles.BundleCache(tmp_path)
    cache.ensure(HASH, MANIFEST, Server(FILES))
    changed = {**FILES, "helpers/names.py": b"NAME = 'etl2'\n"}
    server = Server(changed)

    folder = cache.ensure(bundles.manifest_hash(_manifest(changed)), _manifest(changed), server)

    assert server.asked == [bundles.sha256(b"NAME = 'etl2'\n")]
    assert (folder / "helpers" / "names.py").read_bytes() == b"NAME = 'etl2'\n"
    assert (tmp_path / HASH / "helpers" / "names.py").read_bytes() == b"NAME = 'etl'\n"


def test_a_file_whose_content_does_not_have_its_hash_is_refused_naming_it(
    tmp_path: Path,
) -> None:
    server = Server(FILES)
    server.content[MANIFEST["helpers/names.py"]] = b"NAME = 'tampered'\n"
    cache = bundles.BundleCache(tmp_path)

    with pytest.raises(ValueError, match=r"file helpers/names\.py of bundle .* was fetched with"):
        cache.ensure(HASH, MANIFEST, server)

    assert not (tmp_path / HASH).exists()
    assert not (tmp_path / "files" / MANIFEST["helpers/names.py"]).exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("relpath", ["../outside.py", "/etc/cron.d/job", "a/../../b.py", ""])
def test_a_path_that_leaves_the_bundle_is_refused(tmp_path: Path, relpath: str) -> None:
    manifest = {relpath: MANIFEST["etl.py"]}
    cache = bundles.BundleCache(tmp_path / "cache")

    with pytest.raises(ValueError, match="is not a path inside the DAGs folder"):
        cache.ensure(bundles.manifest_hash(manifest), manifest, Server(FILES))

    assert list(tmp_path.iterdir()) == []  # checked before anything is written


def test_a_manifest_that_is_not_the_bundles_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not have its hash"):
        bundles.BundleCache(tmp_path).ensure("f" * 64, MANIFEST, Server(FILES))
    with pytest.raises(ValueError, match="is not a sha256"):
        bundles.BundleCache(tmp_path).ensure("../x", MANIFEST, Server(FILES))


def _ensure_in_child(root: Path, barrier: Callable[[], object], out: str) -> None:
    """Build the bundle, waiting at ``barrier`` inside the first fetch: both processes are
    then halfway through building it at once."""
    waited: list[bool] = []
    server = Server(FILES)

    def fetch(sha256: str) -> bytes:
        if not waited:
            waited.append(True)
            barrier()
        return server(sha256)

    folder = bundles.BundleCache(root).ensure(HASH, MANIFEST, fetch)
    Path(out).write_text(str(folder))


def test_two_processes_making_one_bundle_at_once_both_get_it_whole(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2, timeout=30)
    outs = [tmp_path / "first.out", tmp_path / "second.out"]
    children = [
        context.Process(target=_ensure_in_child, args=(tmp_path / "cache", barrier.wait, str(out)))
        for out in outs
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(60)

    assert [child.exitcode for child in children] == [0, 0]
    assert {out.read_text() for out in outs} == {str(tmp_path / "cache" / HASH)}
    folder = tmp_path / "cache" / HASH
    found = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.*")}
    assert found == FILES
    leftovers = [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_cached_files_are_read_only(tmp_path: Path) -> None:
    folder = bundles.BundleCache(tmp_path).ensure(HASH, MANIFEST, Server(FILES))

    assert (folder / "etl.py").stat().st_mode & 0o222 == 0


def _age(path: Path, days: float) -> None:
    """Make ``path`` look last used ``days`` ago."""
    when = time.time() - days * 86400
    os.utime(path, (when, when))


def test_bundles_unused_for_the_retention_go_when_a_new_one_is_made(tmp_path: Path) -> None:
    cache = bundles.BundleCache(tmp_path, keep_for=7 * 86400)
    old = cache.ensure(HASH, MANIFEST, Server(FILES))
    kept_files = {"etl.py": b"import helpers.names\n", "helpers/names.py": b"NAME = 'new'\n"}
    recent = cache.ensure(
        bundles.manifest_hash(_manifest(kept_files)), _manifest(kept_files), Server(kept_files)
    )
    _age(old, 8)
    for path in (tmp_path / "files").iterdir():
        _age(path, 8)  # fetched long ago; the files the recent bundle links stay anyway
    (tmp_path / f".{HASH}.interrupted").mkdir()  # a build that was cut short
    _age(tmp_path / f".{HASH}.interrupted", 8)

    newest_files = {"etl.py": b"import helpers.names\nprint('v3')\n"}
    newest = cache.ensure(
        bundles.manifest_hash(_manifest(newest_files)),
        _manifest(newest_files),
        Server(newest_files),
    )

    assert not old.exists()
    assert recent.is_dir() and newest.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["files", recent.name, newest.name])
    # Only the contents some bundle still links are kept: not the old bundle's SQL files
    # or its helper module.
    cached = {p.name for p in (tmp_path / "files").iterdir()}
    assert cached == set(_manifest(kept_files).values()) | set(_manifest(newest_files).values())
    assert (recent / "helpers" / "names.py").read_bytes() == b"NAME = 'new'\n"


def test_a_bundle_in_use_is_touched_and_kept(tmp_path: Path) -> None:
    cache = bundles.BundleCache(tmp_path, keep_for=7 * 86400)
    folder = cache.ensure(HASH, MANIFEST, Server(FILES))
    _age(folder, 8)

    assert cache.ensure(HASH, MANIFEST, Server(FILES)) == folder  # a try uses it again
    assert cache.prune() == (0, 0)
    assert folder.is_dir()


def test_a_pruned_bundle_is_made_again_when_a_try_needs_it(tmp_path: Path) -> None:
    cache = bundles.BundleCache(tmp_path, keep_for=7 * 86400)
    folder = cache.ensure(HASH, MANIFEST, Server(FILES))
    _age(folder, 8)
    for path in (tmp_path / "files").iterdir():
        _age(path, 8)

    assert cache.prune() == (1, len(set(MANIFEST.values())))
    server = Server(FILES)
    assert cache.ensure(HASH, MANIFEST, server) == folder
    assert sorted(server.asked) == sorted(set(MANIFEST.values()))
    assert (folder / "helpers" / "names.py").read_bytes() == FILES["helpers/names.py"]
