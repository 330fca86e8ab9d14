"""A TCP proxy that can cut the network without a word: ``cut`` stops forwarding in both
directions but keeps every connection open (and accepts new ones), as a partition or a
vanished host does, where nothing resets the connection; ``mend`` lets new connections
through again."""

from __future__ import annotations

import contextlib
import socket
import threading


class Blackhole:
    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._cut = False
        self._connections: list[_Pair] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            for pair in self._connections:
                pair.cut = True

    def mend(self) -> None:
        """New connections go through again (those cut stay silent)."""
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for pair in self._connections:
                pair.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            with self._lock:
                pair = _Pair(client, upstream, cut=self._cut)
                self._connections.append(pair)
            pair.start()


class _Pair:
    def __init__(self, client: socket.socket, upstream: socket.socket, *, cut: bool) -> None:
        self.client = client
        self.upstream = upstream
        self.cut = cut

    def start(self) -> None:
        for source, sink in ((self.client, self.upstream), (self.upstream, self.client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                self.close()
                return
            if not self.cut:  # cut: what was sent is lost, and nothing says so
                with contextlib.suppress(OSError):
                    sink.sendall(data)

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
