"""A real pgBouncer (Debian package `pgbouncer`) in front of the test PostgreSQL, started by a test on a free port.

Transaction pooling, `auth_type = plain` with its own auth_file, so it checks passwords itself (the server trusts
127.0.0.1). As root it drops to the `postgres` (else `nobody`) user with `-u`, as pgBouncer refuses to run as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import free_port

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


class PgBouncer:
    """One pgBouncer process; `url(user, password)` points a client at it."""

    def __init__(self, users: dict[str, str], pool_size: int = 2) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="rivet-pgbouncer-"))
        self.folder.chmod(0o755)  # readable by the user pgBouncer switches to
        (self.folder / "users.txt").write_text("".join(f'"{u}" "{p}"\n' for u, p in users.items()))
        (self.folder / "pgbouncer.ini").write_text(
            "[databases]\n"
            "test = host=127.0.0.1 port=5432 dbname=test\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = plain\nauth_file = {self.folder / 'users.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmax_client_conn = 50\n"
            "ignore_startup_parameters = extra_float_digits\n"
        )
        for path in self.folder.iterdir():
            path.chmod(0o644)
        argv = [BINARY]
        if os.geteuid() == 0:
            argv += ["-u", "postgres" if _user_exists("postgres") else "nobody"]
        self.log = open(self.folder / "pgbouncer.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [*argv, str(self.folder / "pgbouncer.ini")], stdout=self.log, stderr=subprocess.STDOUT
        )
        self._wait()

    def _wait(self) -> None:
        for _ in range(100):
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {(self.folder / 'pgbouncer.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("pgbouncer did not start listening")

    def url(self, user: str, password: str) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/test"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.fixture(name="pgbouncer")
def pgbouncer_fixture() -> Iterator[PgBouncer]:
    """pgBouncer in transaction mode with users postgres/pgpw and rivet_pw/right-password (pool of 2)."""
    if not Path(BINARY).exists():
        pytest.skip("pgbouncer is not installed (apt-get install -y --no-install-recommends pgbouncer)")
    bouncer = PgBouncer({"postgres": "pgpw", "rivet_pw": "right-password-123"})
    try:
        yield bouncer
    finally:
        bouncer.stop()
