"""GCS destination on google-cloud-storage: resumable streaming uploads, conditional server-side promotion.

Credentials, read when the destination is opened: `credentials_file` (any google-auth JSON: service account,
authorized user, external account; relative to the config's folder); else application-default credentials
(GOOGLE_APPLICATION_CREDENTIALS, gcloud, metadata server). `allow_anonymous: true` without a `credentials_file`
sends unauthenticated requests (public buckets, emulators). Transient failures (429, 5xx, connection errors) are
retried with exponential backoff (google-api-core `DEFAULT_RETRY`, also for uploads and deletes, which rivet
makes idempotent) until the step deadline, each request under the connect/read timeouts of timeouts.py; the rest
fail at once with a message naming the bucket.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

from rivet_core.config import GcsDestinationConfig
from rivet_core.destinations.object_store import ObjectStore, StoreUpload
from rivet_core.destinations.timeouts import StoreTimeouts
from rivet_core.errors import ConfigError, DestinationError, RivetError

CHUNK_BYTES = 8 << 20  # resumable upload chunk (a multiple of 256 KiB)
_SCOPES = ["https://www.googleapis.com/auth/devstorage.read_write"]


def _credentials(config: GcsDestinationConfig, base_dir: Path) -> tuple[Any, str | None]:
    """Credentials and project for the client: the configured file, anonymous, or application defaults."""
    import google.auth
    from google.auth.credentials import AnonymousCredentials
    from google.auth.exceptions import DefaultCredentialsError

    if config.credentials_file:
        path = Path(config.credentials_file).expanduser()
        path = path if path.is_absolute() else base_dir / path
        if not path.is_file():
            raise ConfigError(f"destination.credentials_file: {path} does not exist")
        try:
            return google.auth.load_credentials_from_file(str(path), scopes=_SCOPES)
        except (DefaultCredentialsError, ValueError) as exc:
            raise ConfigError(f"destination.credentials_file: {path} is not usable: {exc}") from None
    if config.allow_anonymous:
        return AnonymousCredentials(), None
    try:
        return google.auth.default(scopes=_SCOPES)
    except DefaultCredentialsError:
        raise ConfigError(
            f"destination: no Google credentials found for gcs bucket {config.bucket!r}: set credentials_file, "
            "GOOGLE_APPLICATION_CREDENTIALS or gcloud application-default credentials "
            "(or allow_anonymous: true for unauthenticated requests)"
        ) from None


class GcsDestination(ObjectStore):
    """Objects under `gs://bucket/<prefix>/`; keys are relative to that root prefix."""

    kind = "gcs"
    scheme = "gs"

    def __init__(
        self,
        config: GcsDestinationConfig,
        root_prefix: str,
        base_dir: Path | None = None,
        client: Any = None,
        *,
        timeouts: StoreTimeouts | None = None,
    ) -> None:
        """`client`: a google.cloud.storage.Client to use instead of one built from the config's credentials."""
        from google.api_core.client_options import ClientOptions
        from google.cloud import storage
        from google.cloud.storage.retry import DEFAULT_RETRY

        super().__init__(config.bucket, root_prefix, timeouts or StoreTimeouts.from_env(os.environ))
        self.chunk_bytes = CHUNK_BYTES
        self.retry = DEFAULT_RETRY.with_timeout(self.timeouts.step_deadline_s)
        if client is None:
            credentials, project = _credentials(config, base_dir or Path.cwd())
            options = ClientOptions(api_endpoint=config.endpoint) if config.endpoint else None
            client = storage.Client(project=project, credentials=credentials, client_options=options)
        self.client = client
        self.bucket = self.client.bucket(config.bucket)

    @property
    def endpoint(self) -> str:
        return str(self.client.api_endpoint)

    def blob(self, full: str) -> Any:
        """The blob at a full (root-prefixed) key."""
        return self.bucket.blob(full, chunk_size=self.chunk_bytes)

    def _translate(self, exc: Exception, what: str, bucket_level: bool) -> RivetError | None:
        from google.api_core import exceptions as gx
        from google.auth.exceptions import GoogleAuthError
        from google.cloud.storage.exceptions import DataCorruption, InvalidResponse
        from requests.exceptions import RequestException

        if isinstance(exc, gx.NotFound):
            if bucket_level:
                return DestinationError(f"{self.label} does not exist (rivet never creates buckets)")
            return DestinationError(f"{self.label}: {what} failed: not found")
        if isinstance(exc, gx.Forbidden | gx.Unauthorized):
            return DestinationError(
                f"{self.label}: access denied ({exc.code}) on {what}; check the destination credentials"
            )
        if isinstance(exc, gx.GoogleAPICallError):
            return DestinationError(f"{self.label}: {what} failed: {exc.message}")
        if isinstance(exc, gx.RetryError):
            return DestinationError(f"{self.label}: {what} failed: {exc.cause}")
        if isinstance(exc, GoogleAuthError):
            return DestinationError(f"{self.label}: credentials refused on {what}: {exc}")
        if isinstance(exc, RequestException | InvalidResponse | DataCorruption):
            return DestinationError(f"{self.label}: {what} failed: {exc}")
        return None

    def _unreachable(self, exc: Exception) -> str | None:
        from google.api_core.exceptions import RetryError
        from google.auth.exceptions import TransportError
        from requests.exceptions import ConnectionError as RequestsConnectionError
        from requests.exceptions import Timeout

        cause = exc.cause if isinstance(exc, RetryError) else exc
        return type(cause).__name__ if isinstance(cause, RequestsConnectionError | Timeout | TransportError) else None

    # -- SDK calls ----------------------------------------------------------------------------------------------
    def _put(self, full: str, data: bytes) -> None:
        """One single-request upload (atomic: the object appears whole or not at all)."""
        self.blob(full).upload_from_string(data, timeout=self.timeouts.http, retry=self.retry)

    def _get(self, full: str, first: int | None = None, last: int | None = None) -> bytes:
        blob = self.blob(full)
        return bytes(blob.download_as_bytes(start=first, end=last, timeout=self.timeouts.http, retry=self.retry))

    def _head(self, full: str) -> int | None:
        blob = self.bucket.get_blob(full, timeout=self.timeouts.http, retry=self.retry)
        return None if blob is None else int(blob.size)

    def _keys(self, full_prefix: str) -> Iterator[str]:
        blobs = self.client.list_blobs(self.bucket, prefix=full_prefix, timeout=self.timeouts.http, retry=self.retry)
        for blob in blobs:
            yield blob.name

    def _remove(self, fulls: builtins.list[str]) -> None:
        from google.api_core.exceptions import NotFound

        for full in fulls:
            with suppress(NotFound):
                self.blob(full).delete(timeout=self.timeouts.http, retry=self.retry)

    def _copy_if_absent(self, src: str, dst: str, size: int) -> bool:
        """A rewrite with ifGenerationMatch=0 (only if absent), in several calls for large objects."""
        from google.api_core.exceptions import PreconditionFailed

        source, target = self.blob(src), self.blob(dst)
        kwargs = {"if_generation_match": 0, "timeout": self.timeouts.http, "retry": self.retry}
        try:
            token, _, _ = target.rewrite(source, **kwargs)
            while token is not None:
                token, _, _ = target.rewrite(source, token=token, **kwargs)
        except PreconditionFailed:
            return False
        return True

    def _sink(self, full: str) -> StoreUpload:
        return _ResumableSink(self, full)


class _ResumableSink(StoreUpload):
    """One object streamed as a resumable upload; an object smaller than one chunk goes up in a single request."""

    def __init__(self, dest: GcsDestination, key: str) -> None:
        super().__init__(dest, key)
        self._dest = dest
        self._writer: Any = None

    def _chunk_size(self) -> int:
        return self._dest.chunk_bytes

    def _ship(self, chunk: bytes) -> None:
        d = self._dest
        if self._writer is None:
            self._writer = d.blob(self.key).open("wb", ignore_flush=True, retry=d.retry, timeout=d.timeouts.http)
        self._writer.write(chunk)

    def _finish(self, tail: bytes) -> None:
        if self._writer is None:
            self._dest._put(self.key, tail)
            return
        self._writer.write(tail)
        self._writer.close()

    def _abort(self) -> None:
        if self._writer is not None:
            self._writer.terminate()
