"""The ``gnomon`` command as a user runs it: a subprocess with its own GNOMON_HOME."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.cli import gnomon

BASIC = Path(__file__).parents[1] / "fixtures" / "dagfiles" / "basic"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A GNOMON_HOME whose dags/ folder is a copy of the basic fixture folder."""
    shutil.copytree(BASIC, tmp_path / "dags", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def add_file(home: Path, name: str, source: str) -> Path:
    path = home / "dags" / name
    path.write_text(textwrap.dedent(source).lstrip("\n"))
    return path


def test_console_script_prints_the_version() -> None:
    script = Path(sys.executable).parent / "gnomon"
    done = subprocess.run(
        [script, "version", "--output", "json"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"version": "0.1.0"}


def test_dags_list_json_lists_every_dag_sorted_with_its_summary(home: Path) -> None:
    done = gnomon(home, "dags", "list", "--output", "json")
    assert done.returncode == 0, done.stderr
    dags = json.loads(done.stdout)
    assert [d["dag_id"] for d in dags] == ["etl", "manual_only", "nested", "weekly_report"]
    etl = dags[0]
    assert etl["file"] == str(home / "dags" / "etl.py")
    assert etl["schedule"] == "@daily"
    assert etl["tags"] == ["etl", "orders"]
    assert etl["task_count"] == 4
    assert etl["description"] == "Load the orders"
    assert len(etl["version"]) == 64
    assert dags[1]["schedule"] is None
    assert done.stderr == ""


def test_dags_list_table_shows_relative_files(home: Path) -> None:
    done = gnomon(home, "dags", "list")
    assert done.returncode == 0, done.stderr
    assert "nested/deeper/nested_dag.py" in done.stdout
    assert str(home) not in done.stdout


def test_dags_folder_option_overrides_the_settings(
    home: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = tmp_path_factory.mktemp("other")
    (other / "solo.py").write_text("from gnomon import DAG\n\nDAG('solo')\n")
    done = gnomon(home, "dags", "list", "-o", "json", "--dags-folder", str(other))
    assert [d["dag_id"] for d in json.loads(done.stdout)] == ["solo"]
    done = gnomon(home, "dags", "list", "-o", "json", env={"GNOMON_DAGS_FOLDER": str(other)})
    assert [d["dag_id"] for d in json.loads(done.stdout)] == ["solo"]


def test_import_errors_warn_on_dags_list_but_it_still_succeeds(home: Path) -> None:
    add_file(home, "broken.py", "raise RuntimeError('broken on purpose')\n")
    done = gnomon(home, "dags", "list", "--output", "json")
    assert done.returncode == 0
    assert len(json.loads(done.stdout)) == 4
    assert "1 file(s) failed to import; see `gnomon dags list-import-errors`" in done.stderr


def test_list_import_errors_json_gives_file_and_error(home: Path) -> None:
    broken = add_file(home, "broken.py", "x = 1\nraise RuntimeError('broken on purpose')\n")
    done = gnomon(home, "dags", "list-import-errors", "--output", "json")
    assert done.returncode == 0, done.stderr
    [error] = json.loads(done.stdout)
    assert set(error) == {"file", "error"}
    assert error["file"] == str(broken)
    assert f'File "{broken}", line 2' in error["error"]
    assert error["error"].splitlines()[-1] == "RuntimeError: broken on purpose"


def test_list_import_errors_is_empty_for_a_clean_folder(home: Path) -> None:
    done = gnomon(home, "dags", "list-import-errors", "-o", "json")
    assert done.returncode == 0
    assert json.loads(done.stdout) == []


def test_dags_show_json_is_the_serialized_dag(home: Path) -> None:
    done = gnomon(home, "dags", "show", "etl", "--output", "json")
    assert done.returncode == 0, done.stderr
    serialized = json.loads(done.stdout)
    assert serialized["dag_id"] == "etl"
    assert serialized["tasks"]["transform.enrich"]["upstream"] == ["transform.clean"]
    assert serialized["tasks"]["done"]["trigger_rule"] == "all_done"


def test_dags_show_dot_draws_tasks_edges_and_groups(home: Path) -> None:
    done = gnomon(home, "dags", "show", "etl", "--output", "dot")
    assert done.returncode == 0, done.stderr
    dot = done.stdout
    assert dot.startswith('digraph "etl" {')
    assert '"start" -> "transform.clean";' in dot
    assert '"transform.clean" -> "transform.enrich";' in dot
    assert '"transform.enrich" -> "done";' in dot
    assert 'subgraph "cluster_transform" {' in dot
    assert dot.rstrip().endswith("}")


def test_dags_show_table_lists_tasks_with_operator_upstream_and_trigger_rule(home: Path) -> None:
    done = gnomon(home, "dags", "show", "etl", env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if " done " in line)
    assert "EmptyOperator" in row
    assert "transform.enrich" in row
    assert "all_done" in row


def test_unknown_dag_exits_1_naming_the_folder_and_close_matches(home: Path) -> None:
    done = gnomon(home, "dags", "show", "etll")
    assert done.returncode == 1
    assert done.stderr.startswith(f"Error: DAG 'etll' not found in {home / 'dags'}")
    assert "did you mean 'etl'?" in done.stderr
    assert done.stdout == ""


def test_bad_setting_exits_2_naming_the_variable(home: Path) -> None:
    done = gnomon(home, "dags", "list", env={"GNOMON_DAG_FILE_TIMEOUT": "-1"})
    assert done.returncode == 2
    assert done.stderr.startswith("Error: ")
    assert "GNOMON_DAG_FILE_TIMEOUT='-1'" in done.stderr


def test_missing_dags_folder_is_an_error(tmp_path: Path) -> None:
    done = gnomon(tmp_path, "dags", "list")
    assert done.returncode == 1
    assert f"Error: DAGs folder {tmp_path / 'dags'} does not exist" in done.stderr


def test_usage_errors_exit_2(home: Path) -> None:
    assert gnomon(home, "dags", "list", "--output", "xml").returncode == 2
    assert gnomon(home, "dags", "show").returncode == 2


RUNNABLE = """
    from gnomon import DAG, Param, task

    with DAG("runnable", params={"n": Param(2, type="integer")}):
        @task
        def double(params=None):
            return params["n"] * 2

        @task
        def check(value):
            if value != 6:
                raise ValueError(f"expected 6, got {value}")

        check(double())
"""


def test_dags_test_runs_the_dag_and_reports_json(home: Path) -> None:
    add_file(home, "runnable.py", RUNNABLE)
    done = gnomon(
        home,
        "dags",
        "test",
        "runnable",
        "--conf",
        '{"n": 3}',
        "--logical-date",
        "2024-05-01",
        "-o",
        "json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["dag_id"] == "runnable"
    assert report["state"] == "success"
    assert report["logical_date"] == "2024-05-01T00:00:00+00:00"
    assert {t["task_id"]: t["state"] for t in report["tasks"]} == {
        "double": "success",
        "check": "success",
    }


def test_dags_test_imports_helper_modules_next_to_the_dag(home: Path) -> None:
    # etl.py does `from common import ...` (tests/fixtures/dagfiles/basic/common.py).
    done = gnomon(home, "dags", "test", "etl", "-o", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {t["task_id"]: t["state"] for t in report["tasks"]}["transform.enrich"] == "success"


def test_dags_test_exits_1_when_the_run_fails(home: Path) -> None:
    add_file(home, "runnable.py", RUNNABLE)
    done = gnomon(home, "dags", "test", "runnable", "-o", "json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["state"] == "failed"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--conf", "{not json"], "Error: --conf is not a JSON object: "),
        (["--conf", "[1, 2]"], "Error: --conf is not a JSON object: "),
        (["--conf", '{"n": "three"}'], "Error: param 'n': "),
        (["--logical-date", "yesterday"], "Error: --logical-date 'yesterday' is not an ISO 8601"),
    ],
)
def test_dags_test_bad_input_exits_2_naming_it(
    home: Path, options: list[str], message: str
) -> None:
    add_file(home, "runnable.py", RUNNABLE)
    done = gnomon(home, "dags", "test", "runnable", *options)
    assert done.returncode == 2
    assert message in done.stderr


def test_dags_test_of_a_dag_in_a_broken_folder_lists_the_failed_files(home: Path) -> None:
    add_file(home, "broken.py", "raise RuntimeError('broken on purpose')\n")
    done = gnomon(home, "dags", "test", "runnable")
    assert done.returncode == 1
    assert "Error: DAG 'runnable' not found" in done.stderr
    assert "broken.py: RuntimeError: broken on purpose" in done.stderr


def test_tasks_test_runs_one_task(home: Path) -> None:
    add_file(home, "runnable.py", RUNNABLE)
    done = gnomon(home, "tasks", "test", "runnable", "double", "-o", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [(t["task_id"], t["state"]) for t in report["tasks"]] == [("double", "success")]


def test_tasks_test_of_an_unknown_task_exits_1(home: Path) -> None:
    add_file(home, "runnable.py", RUNNABLE)
    done = gnomon(home, "tasks", "test", "runnable", "doubel")
    assert done.returncode == 1
    assert "Error: DAG 'runnable' has no task 'doubel'; did you mean 'double'?" in done.stderr
