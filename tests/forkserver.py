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
import select
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import IO, NoReturn

# What a command imports on its way, per program; preloaded so a child starts with them.
PRELOAD = {
    # pandas never: the rivet CLI refuses it
    "rivet": (
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
    ),
    # what `dagster … -m rivet_dagster.definitions` imports before it reads RIVET_CONFIG (definitions itself: never)
    "dagster": ("rivet_core", "dagster", "dagster._cli", "rivet_dagster"),
}
MAIN = {"rivet": "rivet_core.cli", "dagster": "dagster._cli"}  # the module whose main() a child calls
PACKAGE = {"rivet": "rivet_core.cli", "dagster": "dagster"}  # what `python -m` runs: its __main__.py
_STARTUP_PREFIXES = ("PYTHON", "LD_")
Out = int | IO[bytes] | IO[str] | None  # a Popen stdout/stderr: PIPE, DEVNULL, an fd, a file, or inherited


def _startup(env: dict[str, str]) -> dict[str, str]:
    """The variables that change how an interpreter starts (a fork inherits the server's start instead)."""
    return {k: v for k, v in env.items() if k.startswith(_STARTUP_PREFIXES)}


class ForkServer:
    """The client: starts the server of `program` (a PRELOAD key) on first use, hands it a command and the pipes,
    waits for its exit code."""

    def __init__(self, program: str) -> None:
        self.program = program
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
            [sys.executable, __file__, str(self.path), self.program],
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
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        conn, pid = self._fork(args, cwd, env, [os.open(os.devnull, os.O_RDONLY), out_w, err_w])
        with conn:
            try:
                stdout, stderr = _read_both(out_r, err_r, time.monotonic() + timeout)
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(argv, timeout) from None
            conn.settimeout(timeout)
            code = int(conn.recv(64))
        return subprocess.CompletedProcess(argv, code, _text(stdout), _text(stderr))

    def popen(
        self, argv: list[str], args: list[str], cwd: Path | None, env: dict[str, str], stdout: Out, stderr: Out
    ) -> ForkedProcess:
        """`subprocess.Popen(argv, cwd=, env=, stdout=, stderr=, text=True)`, forked from the server."""
        fds, readers = [os.open(os.devnull, os.O_RDONLY)], []
        for out, inherited in ((stdout, 1), (stderr, 2)):
            readers.append(None)
            if out == subprocess.PIPE:
                read_end, write_end = os.pipe()
                fds.append(write_end)
                readers[-1] = open(read_end, encoding="utf-8")  # noqa: SIM115  (the caller reads and closes it)
            elif out == subprocess.DEVNULL:
                fds.append(os.open(os.devnull, os.O_WRONLY))
            elif out == subprocess.STDOUT:
                fds.append(os.dup(fds[1]))
            else:
                fds.append(os.dup(inherited if out is None else out if isinstance(out, int) else out.fileno()))
        conn, pid = self._fork(args, cwd, env, fds)
        return ForkedProcess(argv, pid, conn, readers[0], readers[1])

    def _fork(
        self, args: list[str], cwd: Path | None, env: dict[str, str], fds: list[int]
    ) -> tuple[socket.socket, int]:
        """Hand the server one command and its stdin/stdout/stderr (closed here once sent): the connection that
        will carry its exit code, and its pid."""
        self.start()
        request = {"args": args, "cwd": str(cwd or Path.cwd()), "env": env}
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        conn.settimeout(60)
        conn.connect(str(self.path))
        socket.send_fds(conn, [json.dumps(request).encode()], fds)
        for fd in fds:
            os.close(fd)
        return conn, int(conn.recv(64))


class ForkedProcess:
    """A command forked by the server, with the part of subprocess.Popen the tests use: `pid` is the command's own,
    so a signal reaches it; the exit code arrives on the server connection (negative: the signal that ended it)."""

    def __init__(
        self, args: list[str], pid: int, conn: socket.socket, stdout: IO[str] | None, stderr: IO[str] | None
    ) -> None:
        self.args, self.pid, self.returncode = args, pid, None
        self.stdout, self.stderr = stdout, stderr
        self._conn = conn

    def poll(self) -> int | None:
        if self.returncode is None:
            ready, _, _ = select.select([self._conn], [], [], 0)
            if ready:
                self._ended()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            ready, _, _ = select.select([self._conn], [], [], timeout)
            if not ready:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            self._ended()
        assert self.returncode is not None
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str | None, str | None]:
        """Both pipes to their end and the exit code, within `timeout` (TimeoutExpired, the command still running)."""
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        fds = [f.fileno() for f in (self.stdout, self.stderr) if f is not None]
        try:
            data = _read_all(fds, deadline) if fds else {}
        except TimeoutError:
            raise subprocess.TimeoutExpired(self.args, timeout or 0) from None
        self.wait(max(0.0, deadline - time.monotonic()))
        out, err = (None if f is None else _text(data[f.fileno()]) for f in (self.stdout, self.stderr))
        for f in (self.stdout, self.stderr):
            if f is not None:
                f.close()
        return out, err

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def _ended(self) -> None:
        code = self._conn.recv(64)
        self._conn.close()
        if not code:
            raise RuntimeError(f"tests/forkserver.py ended before reporting pid {self.pid}'s exit")
        self.returncode = int(code)


def _read_both(out_fd: int, err_fd: int, deadline: float) -> tuple[bytes, bytes]:
    """Both pipes to their end (the child and all it started closed them), or TimeoutError at `deadline`; closed."""
    try:
        data = _read_all([out_fd, err_fd], deadline)
    finally:
        os.close(out_fd)
        os.close(err_fd)
    return data[out_fd], data[err_fd]


def _read_all(fds: list[int], deadline: float) -> dict[int, bytes]:
    """Each pipe to its end, or TimeoutError at `deadline`."""
    chunks: dict[int, list[bytes]] = {fd: [] for fd in fds}
    with selectors.DefaultSelector() as sel:
        for fd in chunks:
            sel.register(fd, selectors.EVENT_READ)
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
    return {fd: b"".join(parts) for fd, parts in chunks.items()}


def _text(data: bytes) -> str:
    """Decoded as `subprocess.run(text=True)` does: UTF-8 here, universal newlines."""
    return data.decode().replace("\r\n", "\n").replace("\r", "\n")


def serve(path: str, program: str) -> None:
    """Accept commands until the parent pytest process goes; fork each, report its pid and then its exit code."""
    if program == "rivet":
        from rivet_core.cli import _WithoutPandas

        sys.meta_path.insert(0, _WithoutPandas())  # as the CLI's main() does first
    # A warning the imports raise is what a fresh process prints first: recorded here, each child prints it again.
    with warnings.catch_warnings(record=True) as preload_warnings:
        for name in PRELOAD[program]:
            importlib.import_module(name)
    assert program != "rivet" or "pandas" not in sys.modules, "a preload imported pandas, which the CLI refuses"
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
                _child(program, json.loads(message), fds, [listener, conn, *waiting.values()], preload_warnings)
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


def _child(
    program: str,
    request: dict[str, object],
    fds: list[int],
    sockets: list[socket.socket],
    preload_warnings: list[warnings.WarningMessage],
) -> NoReturn:
    """Become `PROGRAM ARGS` in the caller's folder and environment; SystemExit ends this process as the program's
    would."""
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
    sys.path[0] = cwd  # as `python -m` puts it, and click names the program `python -m PACKAGE`
    sys.modules["__main__"].__package__ = PACKAGE[program]
    sys.argv = [str(Path(sys.modules[PACKAGE[program]].__file__ or "").with_name("__main__.py")), *request["args"]]
    for w in preload_warnings:
        warnings.showwarning(w.message, w.category, w.filename, w.lineno, None, w.line)
    importlib.import_module(MAIN[program]).main()
    sys.exit(0)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
