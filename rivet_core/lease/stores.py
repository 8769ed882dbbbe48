"""Compare-and-set object stores for the lease object (docs/lease.md): S3, GCS and a local folder.

Each op is conditional on the object's current token (S3 ETag, GCS generation, a local content hash) and returns
None / False when the condition does not hold. A GCS endpoint that ignores generation preconditions (the emulator
the tests use) is detected once per bucket and served by verified writes instead: read, check, write, wait
SETTLE_S, re-read — safe as long as every read-to-written gap stays under SETTLE_S / 2, which each write measures.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

from rivet_core.destinations.timeouts import StoreTimeouts
from rivet_core.errors import DestinationError, RivetError

SETTLE_S = 1.0  # verified writes only
T = TypeVar("T")
# The destination's own error wording for an SDK failure (e.g. missing credentials), or None to use the generic one.
Translate = Callable[[Exception, str], RivetError | None]


class ObjectStore(Protocol):
    """Conditional ops on keys relative to the destination root."""

    where: str

    def create(self, key: str, body: bytes) -> str | None:
        """Write `body` if `key` does not exist; its token, else None."""

    def replace(self, key: str, body: bytes, token: str) -> str | None:
        """Overwrite `key` if its token is still `token`; the new token, else None."""

    def read(self, key: str) -> tuple[bytes, str] | None:
        """Body and token, or None when absent."""

    def delete(self, key: str, token: str) -> bool:
        """Delete `key` if its token is still `token`."""

    def list(self, prefix: str) -> list[str]:
        """Keys under `prefix`."""


def _join(root: str, key: str) -> str:
    root = root.strip("/")
    return f"{root}/{key}" if root else key


class S3Objects:
    """S3 conditional writes (`If-None-Match: *`, `If-Match: <etag>`) on a caller's boto3 client."""

    def __init__(self, client: Any, bucket: str, root: str = "", *, translate: Translate | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.root = root.strip("/")
        self.where = f"s3://{bucket}/{self.root}".rstrip("/")
        self.translate = translate

    def _call(self, key: str, fn: Callable[..., T], **kwargs: Any) -> T | None:
        """`fn` on one key; None when a condition failed or the key is absent; other failures as DestinationError."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(Bucket=self.bucket, Key=_join(self.root, key), **kwargs)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if err.get("Code") == "NoSuchBucket":
                raise DestinationError(
                    f"s3 bucket {self.bucket!r} does not exist (rivet never creates buckets)"
                ) from None
            if status in (404, 409, 412) or err.get("Code") in ("NoSuchKey", "PreconditionFailed"):
                return None
            raise self._error(exc, key, str(err.get("Code", status))) from None
        except BotoCoreError as exc:
            raise self._error(exc, key, type(exc).__name__) from None

    def _error(self, exc: Exception, key: str, code: str) -> RivetError:
        """The destination's wording when it has one, else `<where>: lease <key>: <code>`."""
        mapped = self.translate(exc, f"lease {key}") if self.translate else None
        return mapped or DestinationError(f"{self.where}: lease {key}: {code}")

    def create(self, key: str, body: bytes) -> str | None:
        got = self._call(key, self.client.put_object, Body=body, IfNoneMatch="*")
        return None if got is None else str(got["ETag"])

    def replace(self, key: str, body: bytes, token: str) -> str | None:
        got = self._call(key, self.client.put_object, Body=body, IfMatch=token)
        return None if got is None else str(got["ETag"])

    def read(self, key: str) -> tuple[bytes, str] | None:
        got = self._call(key, self.client.get_object)
        return None if got is None else (got["Body"].read(), str(got["ETag"]))

    def delete(self, key: str, token: str) -> bool:
        return self._call(key, self.client.delete_object, IfMatch=token) is not None

    def list(self, prefix: str) -> list[str]:
        skip = len(self.root) + 1 if self.root else 0
        pages = self._call(
            prefix,
            lambda Bucket, Key: list(self.client.get_paginator("list_objects_v2").paginate(Bucket=Bucket, Prefix=Key)),
        )
        return [obj["Key"][skip:] for page in pages or [] for obj in page.get("Contents", [])]


class GcsObjects:
    """GCS generation preconditions on a caller's `google.cloud.storage` bucket (verified writes if ignored)."""

    def __init__(
        self, bucket: Any, root: str = "", *, settle_s: float = SETTLE_S, translate: Translate | None = None
    ) -> None:
        from google.cloud.storage.retry import DEFAULT_RETRY

        self.translate = translate
        self.bucket = bucket
        self.root = root.strip("/")
        self.where = f"gs://{bucket.name}/{self.root}".rstrip("/")
        self.settle_s = settle_s
        bounds = StoreTimeouts.from_env(os.environ)  # the destination's own bounds (README: S3 and GCS)
        self.timeout = bounds.http
        self.retry = DEFAULT_RETRY.with_timeout(bounds.step_deadline_s)
        self._conditional: bool | None = None

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        from google.api_core.exceptions import GoogleAPIError

        try:
            yield
        except (GoogleAPIError, OSError) as exc:
            mapped = self.translate(exc, f"lease {key}") if self.translate else None
            raise (mapped or DestinationError(f"{self.where}: lease {key}: {type(exc).__name__}")) from None

    def _put(self, key: str, body: bytes, generation: int | None) -> str | None:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        blob = self.bucket.blob(_join(self.root, key))
        with self._errors(key):
            try:
                blob.upload_from_string(body, if_generation_match=generation, timeout=self.timeout, retry=self.retry)
            except PreconditionFailed:
                return None
            except NotFound:  # a create never 404s in an existing bucket
                if not self.bucket.exists(timeout=self.timeout, retry=self.retry):
                    name = self.bucket.name
                    raise DestinationError(
                        f"gcs bucket {name!r} does not exist (rivet never creates buckets)"
                    ) from None
                return None
        return str(blob.generation)

    def _drop(self, key: str, generation: int | None) -> bool:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        with self._errors(key):
            try:
                self.bucket.blob(_join(self.root, key)).delete(
                    if_generation_match=generation, timeout=self.timeout, retry=self.retry
                )
            except (PreconditionFailed, NotFound):
                return False
        return True

    def conditional(self) -> bool:
        """Whether the endpoint honours `ifGenerationMatch` (probed once: a second create of one key must fail)."""
        if self._conditional is None:
            probe = f"_rivet/.lease-probe/{uuid.uuid4().hex}"
            self._put(probe, b"1", 0)
            self._conditional = self._put(probe, b"2", 0) is None
            self._drop(probe, None)
        return self._conditional

    def read(self, key: str) -> tuple[bytes, str] | None:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        with self._errors(key):
            blob = self.bucket.get_blob(_join(self.root, key), timeout=self.timeout, retry=self.retry)
            if blob is None:
                return None
            try:
                body = blob.download_as_bytes(
                    if_generation_match=blob.generation, timeout=self.timeout, retry=self.retry
                )
            except (NotFound, PreconditionFailed):  # replaced or deleted between the two requests
                return self.read(key)
        return body, str(blob.generation)

    def _verified(self, key: str, body: bytes, expect: str | None) -> str | None:
        """Write only if the token is still `expect`, then prove after SETTLE_S that the write stands."""
        started = time.monotonic()
        current = self.read(key)
        if (current[1] if current else None) != expect:
            return None
        token = self._put(key, body, None)
        if token is None:
            return None
        if time.monotonic() - started > self.settle_s / 2:  # too slow to exclude a racing writer: give up
            self._delete_verified(key, token)
            return None
        time.sleep(self.settle_s)
        after = self.read(key)
        return token if after is not None and after[1] == token else None

    def _delete_verified(self, key: str, token: str) -> bool:
        current = self.read(key)
        return current is not None and current[1] == token and self._drop(key, None)

    def create(self, key: str, body: bytes) -> str | None:
        return self._put(key, body, 0) if self.conditional() else self._verified(key, body, None)

    def replace(self, key: str, body: bytes, token: str) -> str | None:
        return self._put(key, body, int(token)) if self.conditional() else self._verified(key, body, token)

    def delete(self, key: str, token: str) -> bool:
        return self._drop(key, int(token)) if self.conditional() else self._delete_verified(key, token)

    def list(self, prefix: str) -> list[str]:
        skip = len(self.root) + 1 if self.root else 0
        with self._errors(prefix):
            blobs = self.bucket.list_blobs(prefix=_join(self.root, prefix), timeout=self.timeout, retry=self.retry)
            return [blob.name[skip:] for blob in blobs]


class LocalDirObjects:
    """A folder: each op under an exclusive `flock` of `<root>/_rivet/.lease-mutex`; token = content hash."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = str(root)

    @contextlib.contextmanager
    def _mutex(self) -> Iterator[None]:
        path = self.root / "_rivet" / ".lease-mutex"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held only for one small file op by a live process
            yield
        finally:
            os.close(fd)

    def _read(self, key: str) -> tuple[bytes, str] | None:
        try:
            body = (self.root / key).read_bytes()
        except FileNotFoundError:
            return None
        return body, hashlib.sha256(body).hexdigest()

    def _write(self, key: str, body: bytes) -> str:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_bytes(body)
        tmp.replace(path)
        return hashlib.sha256(body).hexdigest()

    def create(self, key: str, body: bytes) -> str | None:
        with self._mutex():
            return None if self._read(key) else self._write(key, body)

    def replace(self, key: str, body: bytes, token: str) -> str | None:
        with self._mutex():
            current = self._read(key)
            return self._write(key, body) if current and current[1] == token else None

    def read(self, key: str) -> tuple[bytes, str] | None:
        with self._mutex():
            return self._read(key)

    def delete(self, key: str, token: str) -> bool:
        with self._mutex():
            current = self._read(key)
            if not current or current[1] != token:
                return False
            (self.root / key).unlink()
            return True

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if not base.is_dir():
            return []
        found = (p for p in base.rglob("*") if p.is_file() and not p.name.startswith("."))
        return sorted(str(p.relative_to(self.root)) for p in found)
