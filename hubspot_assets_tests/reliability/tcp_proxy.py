"""A loopback TCP proxy that can cut a connection in the middle of a message, or hold
each new connection back a while.

Cutting between pymongo and the MongoDB server drops the connection during a
bulk write while the server keeps its data, as a failover or network blip does.
Holding a new connection back answers late, as a server busy with a long
command (or an election) does.
"""

from __future__ import annotations

import socket
import threading
import time


class CuttingProxy:
    """Forwards 127.0.0.1:port to `target`; `cut_after(n)` drops the first
    connection whose client has sent more than `n` bytes, mid-message."""

    def __init__(self, target_host: str, target_port: int, connect_delay: float = 0.0) -> None:
        self.target = (target_host, target_port)
        self.connect_delay = connect_delay  # seconds each new connection is held back
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._cut_at: int | None = None
        self._lock = threading.Lock()
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_after(self, sent_bytes: int) -> None:
        with self._lock:
            self._cut_at = sent_bytes

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        if self.connect_delay:
            time.sleep(self.connect_delay)
        server = socket.create_connection(self.target)
        threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        sent = 0
        try:
            while data := source.recv(65536):
                if upstream and self._should_cut(sent + len(data)):
                    sink.sendall(data[: len(data) // 2])  # half a message reaches the server
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _should_cut(self, sent: int) -> bool:
        with self._lock:
            if self._cut_at is None or sent <= self._cut_at:
                return False
            self._cut_at = None  # one cut
            self.cuts += 1
            return True
