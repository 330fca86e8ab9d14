from __future__ import annotations

import re
from pathlib import Path

import pytest

from gnomon import settings
from gnomon.settings import SettingsError, load_settings


def home_with_toml(tmp_path: Path, text: str) -> dict[str, str]:
    (tmp_path / "gnomon.toml").write_text(text)
    return {"GNOMON_HOME": str(tmp_path)}


def test_defaults_live_under_home(tmp_path: Path) -> None:
    loaded = load_settings({"GNOMON_HOME": str(tmp_path)})
    assert loaded.home == tmp_path
    assert loaded.dags_folder == tmp_path / "dags"
    assert loaded.dag_file_timeout == 30
    assert loaded.xcom_max_bytes == 1_048_576


def test_home_defaults_to_dot_gnomon_in_the_user_home(tmp_path: Path) -> None:
    loaded = load_settings({"HOME": str(tmp_path)})
    assert loaded.home == tmp_path / ".gnomon"
    assert loaded.dags_folder == tmp_path / ".gnomon" / "dags"


def test_toml_file_in_home_overrides_defaults(tmp_path: Path) -> None:
    env = home_with_toml(tmp_path, 'dag_file_timeout = 5\ndags_folder = "/srv/dags"\n')
    loaded = load_settings(env)
    assert loaded.dag_file_timeout == 5
    assert loaded.dags_folder == Path("/srv/dags")


def test_environment_overrides_the_toml_file(tmp_path: Path) -> None:
    env = home_with_toml(tmp_path, "dag_file_timeout = 5\nxcom_max_bytes = 10\n")
    loaded = load_settings({**env, "GNOMON_DAG_FILE_TIMEOUT": "7.5"})
    assert loaded.dag_file_timeout == 7.5
    assert loaded.xcom_max_bytes == 10


def test_relative_dags_folder_in_toml_is_relative_to_home(tmp_path: Path) -> None:
    env = home_with_toml(tmp_path, 'dags_folder = "pipelines"\n')
    assert load_settings(env).dags_folder == tmp_path / "pipelines"


def test_environment_given_explicitly_replaces_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GNOMON_DAG_FILE_TIMEOUT", "99")
    assert load_settings({"GNOMON_HOME": str(tmp_path)}).dag_file_timeout == 30
    monkeypatch.setenv("GNOMON_HOME", str(tmp_path))
    assert load_settings().dag_file_timeout == 99


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("abc", "valid number"),
        ("-1", "greater than 0"),
        ("0", "greater than 0"),
        ("nan", "finite number"),
    ],
)
def test_invalid_environment_value_names_the_variable(
    tmp_path: Path, value: str, problem: str
) -> None:
    env = {"GNOMON_HOME": str(tmp_path), "GNOMON_DAG_FILE_TIMEOUT": value}
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert f"GNOMON_DAG_FILE_TIMEOUT={value!r}" in str(caught.value)
    assert problem in str(caught.value)


def test_invalid_toml_value_names_the_file_and_key(tmp_path: Path) -> None:
    env = home_with_toml(tmp_path, 'xcom_max_bytes = "lots"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert "xcom_max_bytes = 'lots'" in message
    assert str(tmp_path / "gnomon.toml") in message


def test_unknown_toml_key_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    env = home_with_toml(tmp_path, "dag_file_timout = 3\n")
    with pytest.raises(
        SettingsError, match=r"unknown setting 'dag_file_timout'.*'dag_file_timeout'"
    ):
        load_settings(env)


def test_home_cannot_be_set_in_the_toml_file_it_lives_in(tmp_path: Path) -> None:
    env = home_with_toml(tmp_path, 'home = "/elsewhere"\n')
    with pytest.raises(SettingsError, match="GNOMON_HOME"):
        load_settings(env)


def test_malformed_toml_is_an_error_naming_the_file(tmp_path: Path) -> None:
    env = home_with_toml(tmp_path, "dag_file_timeout = \n")
    with pytest.raises(SettingsError, match=re.escape(str(tmp_path / "gnomon.toml"))):
        load_settings(env)


def test_settings_are_immutable(tmp_path: Path) -> None:
    loaded = load_settings({"GNOMON_HOME": str(tmp_path)})
    with pytest.raises(ValueError, match="frozen"):
        loaded.dag_file_timeout = 1


def test_describe_documents_every_setting() -> None:
    rows = {row.name: row for row in settings.describe()}
    assert set(rows) == set(settings.Settings.model_fields)
    assert rows["dags_folder"].env_var == "GNOMON_DAGS_FOLDER"
    assert rows["dags_folder"].default == "$GNOMON_HOME/dags"
    assert rows["dag_file_timeout"].default == "30.0"
    assert all(row.description for row in rows.values())
    assert "| `xcom_max_bytes` | `GNOMON_XCOM_MAX_BYTES` |" in settings.markdown_table()
