"""BashOperator: run a shell command; its last line of output becomes the XCom."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from gnomon.authoring.baseoperator import BaseOperator
from gnomon.authoring.mapped import MAPPED
from gnomon.exceptions import DagDefinitionError, GnomonError, SkipTask


class BashOperator(BaseOperator):
    """Run ``bash_command`` with ``bash -c``.

    ``bash_command``, ``env`` and ``cwd`` are Jinja2 templates. Exit code 0 succeeds, exit code
    ``skip_on_exit_code`` (99) ends the task as skipped, anything else fails it. The command
    runs in the try's process group, so a timeout kills it and everything it started.
    """

    template_fields: ClassVar[Sequence[str]] = ("bash_command", "env", "cwd")

    def __init__(
        self,
        *,
        bash_command: str,
        env: Mapping[str, str] | None = None,
        append_env: bool = False,
        cwd: str | None = None,
        skip_on_exit_code: int | Sequence[int] | None = 99,
        output_encoding: str = "utf-8",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if bash_command is not MAPPED and (not isinstance(bash_command, str) or not bash_command):
            raise DagDefinitionError(
                f"DAG {self.dag.dag_id!r}, task {self.task_id!r}: bash_command must be a "
                "non-empty string"
            )
        self.bash_command = bash_command
        self.env = env
        self.append_env = append_env
        self.cwd = cwd
        if skip_on_exit_code is None:
            self.skip_on_exit_code: tuple[int, ...] = ()
        elif isinstance(skip_on_exit_code, int):
            self.skip_on_exit_code = (skip_on_exit_code,)
        else:
            self.skip_on_exit_code = tuple(skip_on_exit_code)
        self.output_encoding = output_encoding
        self._process: subprocess.Popen[bytes] | None = None

    def execute(self, context: Mapping[str, Any]) -> str | None:
        env = dict(self.env) if self.env is not None else dict(os.environ)
        if self.env is not None and self.append_env:
            env = {**os.environ, **env}
        env.update(context_env(context))
        self._process = subprocess.Popen(
            ["bash", "-c", self.bash_command],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=self.cwd,
        )
        last_line: str | None = None
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            line = raw.decode(self.output_encoding, errors="replace").rstrip("\n")
            sys.stdout.write(line + "\n")
            last_line = line
        code = self._process.wait()
        if code in self.skip_on_exit_code:
            raise SkipTask(f"bash command exited with code {code}")
        if code != 0:
            raise GnomonError(f"bash command failed: exit code {code}")
        return last_line

    def on_kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()


def context_env(context: Mapping[str, Any]) -> dict[str, str]:
    """``GNOMON_CTX_*`` variables that tell a command which try it belongs to."""
    ti = context.get("ti")
    out = {
        "GNOMON_CTX_DAG_ID": str(getattr(context.get("dag"), "dag_id", "")),
        "GNOMON_CTX_RUN_ID": str(context.get("run_id", "")),
        "GNOMON_CTX_LOGICAL_DATE": str(context.get("ts", "")),
    }
    if ti is not None:
        out["GNOMON_CTX_TASK_ID"] = str(ti.task_id)
        out["GNOMON_CTX_TRY_NUMBER"] = str(ti.try_number)
        out["GNOMON_CTX_MAP_INDEX"] = str(ti.map_index)
    return out
