"""Gnomon's settings: ``GNOMON_*`` environment variables, then ``$GNOMON_HOME/gnomon.toml``,
then defaults.

Build them once at the edge (``load_settings()``) and pass the object down: there is no
module-level settings object.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import pydantic
from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gnomon.exceptions import GnomonError

ENV_PREFIX = "GNOMON_"
CONFIG_FILE_NAME = "gnomon.toml"
DEFAULT_HOME = "~/.gnomon"

#: How defaults that depend on other settings are shown in the settings table.
_DEFAULT_TEXT: Mapping[str, str] = MappingProxyType(
    {
        "home": DEFAULT_HOME,
        "dags_folder": "$GNOMON_HOME/dags",
        "db_url": "sqlite:///$GNOMON_HOME/gnomon.db",
        "parallelism": "the number of CPUs",
        "team_folders": "{}",
        "log_storage_options": "{}",
    }
)
#: Settings that only an environment variable may set.
_ENV_ONLY: frozenset[str] = frozenset({"home"})


class SettingsError(GnomonError):
    """A setting has an invalid value; the message names the variable or file key at fault."""


class Settings(BaseSettings):
    """Every setting of Gnomon. Build it with :func:`load_settings`."""

    # Values only come from load_settings() (keyword arguments): it reads the environment and
    # gnomon.toml itself so that it can say which of them an invalid value came from.
    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    home: Path = Field(
        default_factory=lambda: Path(DEFAULT_HOME).expanduser(),
        description="Gnomon's home directory; holds gnomon.toml.",
    )
    dags_folder: Path = Field(
        default=Path(),  # replaced by home / "dags" in _default_dags_folder
        description="The folder scanned (recursively) for DAG files.",
    )
    dag_file_timeout: float = Field(
        default=30.0,
        gt=0,
        allow_inf_nan=False,
        description="Seconds a DAG file may take to import before it is killed.",
    )
    xcom_max_bytes: int = Field(
        default=1_048_576,
        gt=0,
        description="The largest XCom value (serialized JSON, in bytes) a task may store.",
    )
    parallelism: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        gt=0,
        description=(
            "Tries that may run at once on this machine (the local executor's warm "
            "processes, one try each)."
        ),
    )
    task_heartbeat_timeout: float = Field(
        default=300.0,
        gt=0,
        allow_inf_nan=False,
        description=(
            "Seconds a running try may go without a heartbeat before it is failed as a "
            "zombie (and retried if it has retries left)."
        ),
    )
    scheduler_poll_interval: float = Field(
        default=5.0,
        gt=0,
        allow_inf_nan=False,
        description=(
            "Seconds between the scheduler's fallback checks; finished tasks, triggers and "
            "new DAG versions wake it at once."
        ),
    )
    dag_dir_list_interval: float = Field(
        default=2.0,
        gt=0,
        allow_inf_nan=False,
        description="Seconds between the DAG processor's checks of the DAGs folder for changes.",
    )
    kill_grace: float = Field(
        default=5.0,
        ge=0,
        allow_inf_nan=False,
        description=(
            "Seconds a try past its execution_timeout may take to stop before it is killed."
        ),
    )
    shutdown_grace: float = Field(
        default=30.0,
        ge=0,
        allow_inf_nan=False,
        description=(
            "On Ctrl-C, seconds running tries get to finish before they are killed and "
            "marked for retry."
        ),
    )
    dags_are_paused_at_creation: bool = Field(
        default=True,
        description="Whether a DAG seen for the first time starts paused (no scheduled runs).",
    )
    api_token_lifetime_hours: float = Field(
        default=24.0,
        gt=0,
        allow_inf_nan=False,
        description="Hours a token from POST /api/v1/auth/token stays valid.",
    )
    ui_session_lifetime_hours: float = Field(
        default=12.0,
        gt=0,
        allow_inf_nan=False,
        description="Hours a web UI login stays valid.",
    )
    secure_cookies: bool = Field(
        default=False,
        description=(
            "Mark the UI's cookies Secure (set it when the UI is served over HTTPS, directly "
            "or behind a proxy)."
        ),
    )
    api_threads: int = Field(
        default=40,
        ge=1,
        le=1000,
        description=(
            "`gnomon api`: requests it works on at once (its endpoints run in a pool of this "
            "many threads), and the Postgres connections it keeps open for them (up to this "
            "many, plus 10 at busy moments): count them in the server's max_connections."
        ),
    )
    team_folders: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Teams of the DAGs by folder: sub-folder of the DAGs folder -> team, for DAGs "
            "that do not name a team (deepest folder wins). In gnomon.toml a table "
            "[team_folders]; in the environment a JSON object."
        ),
    )
    db_url: str | None = Field(
        default=None,
        description=(
            "The metadata database: sqlite:///path/to/gnomon.db or "
            "postgresql+psycopg://user:password@host:5432/dbname."
        ),
    )
    executor: Literal["local", "celery"] = Field(
        default="local",
        description=(
            "Where the scheduler sends tries: local (warm processes on the scheduler's "
            "machine) or celery (workers started with `gnomon worker`, through the broker)."
        ),
    )
    broker_url: str | None = Field(
        default=None,
        description=(
            "The Celery broker, for the celery executor and `gnomon worker`: "
            "redis://host:6379/0 or amqp://user:password@host:5672//."
        ),
    )
    broker_visibility_timeout: float = Field(
        default=600.0,
        gt=0,
        allow_inf_nan=False,
        description=(
            "Redis broker: seconds before a message a worker took but did not acknowledge is "
            "delivered again (the messages of a worker that died, or prefetched by a busy "
            "one). Not those of running tries: workers renew them while the tries run."
        ),
    )
    celery_tries_per_message: int = Field(
        default=16,
        ge=1,
        le=512,
        description=(
            "Celery executor: the most tries a scheduler puts in one broker message when "
            "several are ready for the same queue at once (1: a message per try). A worker "
            "runs a message's tries one after another, and hands those not started yet back "
            "to the queue when one runs for longer than `worker_hand_back_after`."
        ),
    )
    worker_hand_back_after: float = Field(
        default=1.0,
        gt=0,
        allow_inf_nan=False,
        description=(
            "`gnomon worker`: seconds a try of a message with several may run before the "
            "message's tries not started yet go back to the queue, for any free worker."
        ),
    )
    broker_socket_timeout: float = Field(
        default=30.0,
        gt=0,
        allow_inf_nan=False,
        description=(
            "Redis broker: seconds a connection or a command may take before it is given up "
            "and retried on a new connection (a Redis cut off by the network never answers)."
        ),
    )
    task_queued_timeout: float = Field(
        default=600.0,
        gt=0,
        allow_inf_nan=False,
        description=(
            "Seconds a try may stay queued (sent to the broker, not started by any worker) "
            "before the scheduler takes it back and queues the task again (a lost message)."
        ),
    )
    execution_api_url: str | None = Field(
        default=None,
        description=(
            "`gnomon worker`: the execution API it reports to, e.g. "
            "http://api-host:8080/execution/v1 (workers need no database settings)."
        ),
    )
    execution_token_lifetime: float = Field(
        default=600.0,
        gt=0,
        allow_inf_nan=False,
        description=(
            "Seconds a running try's execution API token stays valid; each heartbeat renews it."
        ),
    )
    worker_log_server_port: int = Field(
        default=8793,
        ge=0,
        le=65535,
        description=(
            "`gnomon worker`: the port on which it serves its running tries' logs to the API "
            "(0: any free port)."
        ),
    )
    worker_bundle_retention_days: float = Field(
        default=7.0,
        gt=0,
        allow_inf_nan=False,
        description=(
            "`gnomon worker`: DAG bundles (the DAGs folder's files of each version) not used "
            "for this many days are removed from its cache whenever it fetches a new one."
        ),
    )
    worker_tries_per_process: int = Field(
        default=1,
        ge=1,
        le=1_000_000,
        description=(
            "`gnomon worker`: tries each pool process runs one after another in one forked try "
            "process before it is replaced (a try killed, timed out or crashing the process "
            "replaces it too); 1: a fresh process for every try. More saves a fork per try, "
            "at the price of tries sharing module state (see docs/deploy.md)."
        ),
    )
    worker_hostname: str | None = Field(
        default=None,
        description=(
            "`gnomon worker`: the name the API reaches this machine by, for live logs "
            "(default: the host name)."
        ),
    )
    log_url: str | None = Field(
        default=None,
        description=(
            "Where finished tries' logs are kept: any fsspec URL, e.g. "
            "s3://bucket/gnomon-logs (default: the local logs folder, $GNOMON_HOME/logs)."
        ),
    )
    log_storage_options: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Options for log_url's file system (fsspec storage options), e.g. "
            '{"endpoint_url": "http://s3.internal:8333"} for an S3-compatible store. In '
            "gnomon.toml a table [log_storage_options]; in the environment a JSON object."
        ),
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="The format of the components' own logs on stderr: text or json (one "
        "object per line).",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description=(
            "`gnomon scheduler` and `gnomon worker`: serve Prometheus metrics on this port "
            "(off by default; the API always serves /metrics)."
        ),
    )

    @pydantic.model_validator(mode="before")
    @classmethod
    def _default_dags_folder(cls, data: Any) -> Any:
        if isinstance(data, dict) and "dags_folder" not in data:
            home = data.get("home") or Path(DEFAULT_HOME).expanduser()
            return {**data, "dags_folder": Path(home) / "dags"}
        return data

    @pydantic.field_validator("team_folders", "log_storage_options", mode="before")
    @classmethod
    def _team_folders_from_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON object: {exc}") from None
        return value

    def database_url(self) -> str:
        """The metadata database's URL: ``db_url``, else ``$GNOMON_HOME/gnomon.db``."""
        # Imported here: a worker reads its settings without the database's modules.
        from gnomon.store import db

        return self.db_url or db.default_sqlite_url(self.home)

    def logs_folder(self) -> Path:
        """Where tries write their logs: ``$GNOMON_HOME/logs``."""
        return self.home / "logs"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


@dataclass(frozen=True, slots=True)
class SettingInfo:
    """One row of the settings table (the docs are generated from these)."""

    name: str
    env_var: str
    default: str
    description: str


def env_var(name: str) -> str:
    """The environment variable of setting ``name`` (``dags_folder`` -> ``GNOMON_DAGS_FOLDER``)."""
    return ENV_PREFIX + name.upper()


def describe() -> list[SettingInfo]:
    """Every setting: its name, environment variable, default and description."""
    rows: list[SettingInfo] = []
    for name, info in Settings.model_fields.items():
        default = _DEFAULT_TEXT.get(name, repr(info.default))
        rows.append(SettingInfo(name, env_var(name), default, info.description or ""))
    return rows


def markdown_table() -> str:
    """The settings table in Markdown, for the docs."""
    lines = [
        "| setting | environment variable | default | description |",
        "| --- | --- | --- | --- |",
    ]
    for row in describe():
        lines.append(f"| `{row.name}` | `{row.env_var}` | `{row.default}` | {row.description} |")
    return "\n".join(lines) + "\n"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The settings from ``env`` (default: ``os.environ``), ``gnomon.toml``, and defaults.

    Raises SettingsError naming the variable (or file and key) of an invalid value.
    """
    environ = os.environ if env is None else env
    from_env = {
        name: value
        for name in Settings.model_fields
        if (value := environ.get(env_var(name), "").strip())
    }
    cwd = Path.cwd()
    home = _expand(from_env.get("home") or DEFAULT_HOME, environ, cwd)
    config_file = home / CONFIG_FILE_NAME
    from_file = _read_config_file(config_file)
    values: dict[str, Any] = {**from_file, **from_env, "home": home}
    # Relative paths: from the working directory in the environment, from home in the file.
    if "dags_folder" in from_env:
        values["dags_folder"] = _expand(from_env["dags_folder"], environ, cwd)
    elif isinstance(from_file.get("dags_folder"), str):
        values["dags_folder"] = _expand(from_file["dags_folder"], environ, home)
    try:
        return Settings(**values)
    except pydantic.ValidationError as exc:
        raise SettingsError(_describe_errors(exc, from_env, config_file)) from None


def _expand(value: str, environ: Mapping[str, str], base: Path) -> Path:
    """``value`` as an absolute path: ``~`` is ``$HOME`` (from ``environ`` if set there)."""
    if (value == "~" or value.startswith("~/")) and environ.get("HOME"):
        value = environ["HOME"] + value[1:]
    return base / Path(value).expanduser()


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from None
    known = set(Settings.model_fields) - _ENV_ONLY
    for key in data:
        if key in _ENV_ONLY:
            raise SettingsError(
                f"{path}: {key!r} cannot be set in {CONFIG_FILE_NAME}; "
                f"set the {env_var(key)} environment variable instead"
            )
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SettingsError(f"{path}: unknown setting {key!r}{hint}")
    return data


def _describe_errors(
    exc: pydantic.ValidationError, from_env: Mapping[str, str], config_file: Path
) -> str:
    problems: list[str] = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        message = error["msg"]
        if name in from_env:
            problems.append(f"{env_var(name)}={from_env[name]!r}: {message}")
        elif name:
            value = error.get("input")
            problems.append(f"{name} = {value!r} in {config_file}: {message}")
        else:
            problems.append(message)
    return "invalid setting: " + "; ".join(problems)
