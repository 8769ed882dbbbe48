"""A loopback TCP proxy that injects network faults between a client and a server (any TCP protocol).

Modes, switched at any time, or armed to switch once some more client bytes went through (mid-request), or some
more server bytes (mid-response: a database's result stream):
  pass   forward both ways
  stall  keep every socket open and forward nothing; new connections are accepted and then hang: a path that
         silently stopped (the client's writes block once the buffers fill, its reads wait for ever)
  reset  reset (RST) every open connection, and each new one as soon as it is accepted
  down   reset every open connection and refuse new ones: what a killed server looks like
Back in `pass`, the server is reachable again with all its state: nothing happened to it.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from typing import Literal

HOST = "127.0.0.1"
Mode = Literal["pass", "stall", "reset", "down"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _reset(conn: socket.socket) -> None:
    """Close with an RST instead of a FIN (an outage, not a clean close).

    SHUT_RD first wakes a pump blocked in recv() on it, which would otherwise keep the socket open (and on Linux
    close() alone does not wake it), without sending anything; the RST goes out once the last reference is gone.
    """
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.shutdown(socket.SHUT_RD)
    conn.close()


class FaultProxy:
    """A proxy on `port` (a free one by default) to a server on `target_port`; `start()` puts it in `pass`."""

    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or _free_port()
        self.mode: Mode = "down"
        self.sent = 0  # bytes forwarded from clients to the server
        self.received = 0  # bytes forwarded from the server to clients
        self.faulted_at: float | None = None  # time.monotonic() when an armed fault went off
        self._armed: tuple[int, Mode, bool] | None = None  # (threshold, mode, counts server bytes)
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._flowing = threading.Event()

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> FaultProxy:
        self.set("pass")
        return self

    def stop(self) -> None:
        self.set("down")

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def arm(self, mode: Mode, after_bytes: int, *, from_server: bool = False) -> None:
        """Switch to `mode` once `after_bytes` more client (or server) bytes went through; `faulted_at` says when."""
        with self._lock:
            self.faulted_at = None
            self._armed = ((self.received if from_server else self.sent) + after_bytes, mode, from_server)

    def set(self, mode: Mode) -> None:
        """Switch to `mode` now."""
        self.mode = mode
        if mode == "down" and self._listener is not None:
            self._listener.close()
            self._listener = None
        elif mode != "down" and self._listener is None:
            self._listener = socket.create_server((HOST, self.port))
            self._listener.settimeout(0.1)
            threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()
        if mode in ("reset", "down"):
            with self._lock:
                conns, self._conns = self._conns, []
            for conn in conns:
                _reset(conn)
        if mode == "stall":
            self._flowing.clear()
        else:
            self._flowing.set()  # reset/down: held data meets a closed socket

    def _accept(self, listener: socket.socket) -> None:
        while listener.fileno() != -1:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode != "pass" and self.mode != "stall":
                _reset(client)
                continue
            try:
                upstream = socket.create_connection((HOST, self.target_port), timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, to_server: bool) -> None:
        try:
            while data := src.recv(1 << 16):
                data = self._count(data, dst, to_server)
                self._flowing.wait()  # stall: hold the data and read no more
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _count(self, data: bytes, dst: socket.socket, to_server: bool) -> bytes:
        """Count bytes; at an armed threshold (of this direction) forward the bytes before it, switch modes, return
        the rest."""
        with self._lock:
            before = self.sent if to_server else self.received
            if to_server:
                self.sent += len(data)
            else:
                self.received += len(data)
            armed = self._armed
            if armed is None or armed[2] == to_server or before + len(data) < armed[0]:
                return data
            self._armed = None
            head = armed[0] - before
        dst.sendall(data[:head])
        self.faulted_at = time.monotonic()
        self.set(armed[1])
        return data[head:]
