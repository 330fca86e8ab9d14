"""What a remote try's own process uses: its run token, renewed by the runner as it runs,
and its XCom reads through the execution API (``executors.remote`` runs the try)."""

from __future__ import annotations

import mmap
import struct
from collections.abc import Mapping
from typing import Any

from gnomon.exceptions import XComError
from gnomon.executors.execution_client import ExecutionApiError, ExecutionClient, Refused


class TokenBox:
    """The try's current run token, shared with the try's forked process: the runner renews
    it with each heartbeat and the try reads the newest for each XCom pull (a long task's
    first token may have expired by then). An anonymous shared mapping outlives the fork."""

    _SIZE = 1024
    _LENGTH = struct.Struct("<I")

    def __init__(self, token: str) -> None:
        self._map = mmap.mmap(-1, self._SIZE)
        self.set(token)

    def set(self, token: str) -> None:
        data = token.encode()
        if len(data) > self._SIZE - self._LENGTH.size:
            raise ValueError(f"execution token of {len(data)} bytes is too long")
        # The token first, then its length: a reader never sees a length beyond its data.
        self._map[self._LENGTH.size : self._LENGTH.size + len(data)] = data
        self._map[: self._LENGTH.size] = self._LENGTH.pack(len(data))

    def get(self) -> str:
        (length,) = self._LENGTH.unpack(self._map[: self._LENGTH.size])
        return self._map[self._LENGTH.size : self._LENGTH.size + length].decode(errors="replace")

    def close(self) -> None:
        self._map.close()


class RemoteXComSource:
    """``runtime.protocol.XComSource`` over the execution API, for a try's process (its
    client makes its own connections after the fork)."""

    def __init__(self, client: ExecutionClient, try_id: int, token: TokenBox) -> None:
        self._client = client
        self._try_id = try_id
        self._token = token

    def pull(self, task_id: str, key: str) -> Mapping[int, Any]:
        try:
            try:
                return self._client.xcoms(self._try_id, self._token.get(), task_id, key)
            except Refused as exc:
                if exc.status != 401:
                    raise
                # The token was renewed while we read it: once more with the newest.
                return self._client.xcoms(self._try_id, self._token.get(), task_id, key)
        except ExecutionApiError as exc:
            raise XComError(
                f"cannot pull XCom {key!r} of task {task_id!r} through the execution API: {exc}"
            ) from None
