"""Servers the suite starts by itself on free loopback ports: moto's S3 server, a GCS JSON-API emulator, and a
recording HTTP server that stands in for a Slack incoming webhook.

Each runs as a child process, torn down by its fixture; both keep objects in memory, so a restarted server starts
empty. To make a server stall or die mid-run and keep its state, put a `faults.proxy.FaultProxy` in front of it.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

HOST = "127.0.0.1"
# What a rivet process needs to reach the servers without probing cloud metadata addresses.
OFFLINE_ENV = {
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_GCE_CHECK": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
S3_KEY_ENV = {"RIVET_TEST_S3_KEY": "testing-key-id", "RIVET_TEST_S3_SECRET": "testing-secret-value"}


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the test process dies, so no server outlives a killed run."""
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class ServerProcess:
    """A server child process on a fixed loopback port: start, wait until it accepts connections, stop."""

    def __init__(self, name: str, argv: list[str], port: int) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 30) -> None:
        env = {**os.environ, **OFFLINE_ENV}
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} while starting on port {self.port}")
            try:
                socket.create_connection((HOST, self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen on port {self.port} within {timeout}s")

    def stop(self) -> None:
        """Kill the server (SIGKILL: an outage, not a shutdown) and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


class MotoS3(ServerProcess):
    """moto's standalone S3 server (`python -m moto.server`)."""

    def __init__(self, port: int | None = None) -> None:
        port = port or free_port()
        super().__init__("moto S3 server", [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)], port)

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=S3_KEY_ENV["RIVET_TEST_S3_KEY"],
            aws_secret_access_key=S3_KEY_ENV["RIVET_TEST_S3_SECRET"],
        )

    def new_bucket(self) -> str:
        name = f"rivet-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name


class GcsEmulator(ServerProcess):
    """`gcp-storage-emulator` (Python, JSON API incl. resumable uploads, rewrite, compose), in memory."""

    def __init__(self, port: int | None = None) -> None:
        port = port or free_port()
        argv = [
            sys.executable,
            "-m",
            "gcp_storage_emulator",
            "start",
            "--host",
            HOST,
            "--port",
            str(port),
            "--in-memory",
            "--quiet",
        ]
        super().__init__("GCS emulator", argv, port)

    def client(self) -> Any:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="rivet-test", credentials=AnonymousCredentials(), client_options={"api_endpoint": self.endpoint}
        )

    def new_bucket(self) -> str:
        name = f"rivet-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(name)
        return name


def _serve(server: ServerProcess) -> Iterator[ServerProcess]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    """One moto S3 server for the session; tests make their own buckets (`new_bucket`)."""
    yield from _serve(MotoS3())  # type: ignore[misc]


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[GcsEmulator]:
    """One GCS emulator for the session; tests make their own buckets (`new_bucket`)."""
    yield from _serve(GcsEmulator())  # type: ignore[misc]


class Recorder(ThreadingHTTPServer):
    """An HTTP server on a free port that keeps every POST body (a Slack incoming-webhook stand-in)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        super().__init__((HOST, 0), _RecordingHandler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/services/T000/B000/XXX"


class _RecordingHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def slack() -> Iterator[Recorder]:
    """A `Recorder` serving in a thread for one test: `slack.url` is the webhook, `slack.posts` what it received."""
    server = Recorder()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()
