"""`run_cli`'s fast start: one process imports the rivet CLI and its libraries once, then forks a child per command.

A fresh `python -m rivet_core.cli` spends ~1.2 s of CPU importing pyarrow, ADBC, the drivers and rivet before it
does anything, and the suite starts hundreds. A forked child is still a process of its own: its stdin, stdout and
stderr are the caller's pipes, it runs in the caller's folder with the caller's environment, and it ends the way a
fresh `rivet` ends (SystemExit through the interpreter's own shutdown: atexit, thread joins, flushes), so exit
codes and output are what a user sees. What a fork cannot reproduce — how the interpreter starts — is left to a
fresh process: a command whose environment changes Python's start-up (`PYTHON*`, `LD_*`) runs as one, and
`RIVET_TEST_FORK=0` makes every command do so (tests/test_startup_imports.py always spawns).

The server is `python tests/forkserver.py SOCKET`, one per pytest process, started on first use; it ends when
that process does.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

# What a rivet command imports on its way; preloaded so a child starts with them (pandas never: the CLI refuses it).
PRELOAD = (
    "rivet_core",  # first: it loads the MySQL C extension before pyarrow can
    "rivet_core.cli",
    "rivet_core.engine",
    "rivet_core.pipeline.run",
    "pyarrow",
    "pyarrow.parquet",
    "pyarrow.csv",
    "pyarrow.compute",
    "adbc_driver_postgresql.dbapi",
    "psycopg",
    "mysql.connector",
    "pydantic",
    "yaml",
    "click",
    "rich",
)
_STARTUP_PREFIXES = ("PYTHON", "LD_")


def _startup(env: dict[str, str]) -> dict[str, str]:
    """The variables that change how an interpreter starts (a fork inherits the server's start instead)."""
    return {k: v for k, v in env.items() if k.startswith(_STARTUP_PREFIXES)}


class ForkServer:
    """The client: starts the server on first use, hands it a command and the pipes, waits for its exit code."""

    def __init__(self) -> None:
        self.path = Path()
        self.env = _startup(dict(os.environ))
        self.proc: subprocess.Popen[bytes] | None = None

    def usable(self, env: dict[str, str]) -> bool:
        return os.environ.get("RIVET_TEST_FORK", "1") != "0" and _startup(env) == self.env

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        self.path = Path(tempfile.mkdtemp(prefix="rivet-fork-")) / "socket"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, str(self.path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        atexit.register(self.proc.kill)
        deadline = time.monotonic() + 120
        while not self.path.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tests/forkserver.py did not start (exit {self.proc.returncode})")
            time.sleep(0.02)

    def run(
        self, argv: list[str], args: list[str], cwd: Path | None, env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """`subprocess.run(argv, cwd=, env=, capture_output=True, text=True, timeout=)`, forked from the server."""
        self.start()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        stdin = os.open(os.devnull, os.O_RDONLY)
        request = {"args": args, "cwd": str(cwd or Path.cwd()), "env": env}
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as conn:
            conn.settimeout(60)
            conn.connect(str(self.path))
            socket.send_fds(conn, [json.dumps(request).encode()], [stdin, out_w, err_w])
            for fd in (stdin, out_w, err_w):
                os.close(fd)
            pid = int(conn.recv(64))
            try:
                stdout, stderr = _read_both(out_r, err_r, time.monotonic() + timeout)
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(argv, timeout) from None
            conn.settimeout(timeout)
            code = int(conn.recv(64))
        return subprocess.CompletedProcess(argv, code, _text(stdout), _text(stderr))


def _read_both(out_fd: int, err_fd: int, deadline: float) -> tuple[bytes, bytes]:
    """Both pipes to their end (the child and all it started closed them), or TimeoutError at `deadline`."""
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    with selectors.DefaultSelector() as sel:
        for fd in chunks:
            sel.register(fd, selectors.EVENT_READ)
        try:
            while sel.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                for key, _ in sel.select(left):
                    data = os.read(key.fd, 1 << 16)
                    if data:
                        chunks[key.fd].append(data)
                    else:
                        sel.unregister(key.fd)
        finally:
            os.close(out_fd)
            os.close(err_fd)
    return b"".join(chunks[out_fd]), b"".join(chunks[err_fd])


def _text(data: bytes) -> str:
    """Decoded as `subprocess.run(text=True)` does: UTF-8 here, universal newlines."""
    return data.decode().replace("\r\n", "\n").replace("\r", "\n")


def serve(path: str) -> None:
    """Accept commands until the parent pytest process goes; fork each, report its pid and then its exit code."""
    from rivet_core.cli import _WithoutPandas

    sys.meta_path.insert(0, _WithoutPandas())  # as the CLI's main() does first
    for name in PRELOAD:
        importlib.import_module(name)
    assert "pandas" not in sys.modules, "a preload imported pandas, which the rivet CLI refuses"
    # Out of the collector's sight: a child's collections (and its shutdown's) would otherwise walk, and so copy,
    # every preloaded object's page: 0.36 s of CPU per `rivet --version`, 0.1 s with the freeze.
    gc.freeze()
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path + ".new")
    listener.listen(64)
    Path(path + ".new").rename(path)  # the client waits for the name: it exists only once the server listens
    listener.settimeout(0.05)
    waiting: dict[int, socket.socket] = {}
    while os.getppid() == parent:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            pass
        else:
            message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
            pid = os.fork()
            if pid == 0:
                _child(json.loads(message), fds, [listener, conn, *waiting.values()])
            for fd in fds:
                os.close(fd)
            waiting[pid] = conn
            _tell(conn, pid)
        while waiting:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            with waiting.pop(pid) as conn:
                _tell(conn, os.waitstatus_to_exitcode(status))


def _tell(conn: socket.socket, number: int) -> None:
    """Send the client a pid or an exit code; a client that gave up (timed out) has closed its end."""
    with contextlib.suppress(OSError):
        conn.sendall(str(number).encode())


def _child(request: dict[str, object], fds: list[int], sockets: list[socket.socket]) -> NoReturn:
    """Become `rivet ARGS` in the caller's folder and environment; SystemExit ends this process as rivet's would."""
    for s in sockets:
        s.close()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    cwd = str(request["cwd"])
    os.chdir(cwd)
    env = request["env"]
    assert isinstance(env, dict) and isinstance(request["args"], list)
    os.environ.clear()
    os.environ.update(env)
    time.tzset()
    tempfile.tempdir = None
    sys.path[0] = cwd  # as `python -m` puts it, and click names the program `python -m rivet_core.cli`
    sys.modules["__main__"].__package__ = "rivet_core.cli"
    sys.argv = [str(Path(sys.modules["rivet_core.cli"].__file__ or "").with_name("__main__.py")), *request["args"]]
    from rivet_core.cli import main

    main()
    sys.exit(0)


if __name__ == "__main__":
    serve(sys.argv[1])
