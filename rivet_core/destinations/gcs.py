"""GCS destination on google-cloud-storage: resumable streaming uploads, conditional server-side promotion.

Credentials, read when the destination is opened: `credentials_file` (any google-auth JSON: service account,
authorized user, external account; relative to the config's folder); else application-default credentials
(GOOGLE_APPLICATION_CREDENTIALS, gcloud, metadata server). `allow_anonymous: true` without a `credentials_file`
sends unauthenticated requests (public buckets, emulators). Transient failures (429, 5xx, connection errors) are
retried with exponential backoff (google-api-core `DEFAULT_RETRY`, also for uploads and deletes, which rivet
makes idempotent); the rest fail at once with a message naming the bucket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from rivet_core.config import GcsDestinationConfig as GcsConfig
from rivet_core.destinations.streaming import ChunkedUpload
from rivet_core.errors import ConfigError, DestinationError

T = TypeVar("T")

CHUNK_BYTES = 8 << 20  # resumable upload chunk (a multiple of 256 KiB)
_SCOPES = ["https://www.googleapis.com/auth/devstorage.read_write"]


def _credentials(config: GcsConfig, base_dir: Path) -> tuple[Any, str | None]:
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


class GcsDestination:
    """Objects under `gs://bucket/<prefix>/`; keys are relative to that root prefix."""

    kind = "gcs"

    def __init__(self, config: GcsConfig, root_prefix: str, base_dir: Path | None = None, client: Any = None) -> None:
        """`client`: a google.cloud.storage.Client to use instead of one built from the config's credentials."""
        from google.api_core.client_options import ClientOptions
        from google.cloud import storage
        from google.cloud.storage.retry import DEFAULT_RETRY

        self.bucket_name = config.bucket
        self.root = root_prefix.strip("/")
        self.chunk_bytes = CHUNK_BYTES
        self.retry = DEFAULT_RETRY
        if client is None:
            credentials, project = _credentials(config, base_dir or Path.cwd())
            options = ClientOptions(api_endpoint=config.endpoint) if config.endpoint else None
            client = storage.Client(project=project, credentials=credentials, client_options=options)
        self.client = client
        self.bucket = self.client.bucket(config.bucket)

    # -- keys and errors ------------------------------------------------------------------------------------
    def _key(self, key: str) -> str:
        return f"{self.root}/{key}" if self.root else key

    def blob(self, key: str) -> Any:
        """The blob at a full (root-prefixed) key."""
        return self.bucket.blob(key, chunk_size=self.chunk_bytes)

    def uri(self, key: str = "") -> str:
        path = self._key(key) if key else self.root
        return f"gs://{self.bucket_name}/{path}" if path else f"gs://{self.bucket_name}"

    def call(self, what: str, fn: Callable[..., T], *args: Any, bucket_level: bool = False, **kwargs: Any) -> T:
        """Run one request; a 404 on a bucket-level request (list, upload) means the bucket is missing."""
        with self.errors(what, bucket_level):
            return fn(*args, **kwargs)

    @contextmanager
    def errors(self, what: str, bucket_level: bool = False) -> Iterator[None]:
        """Permanent failures (and transient ones that outlived the retries) as one line naming the bucket."""
        from google.api_core import exceptions as gx
        from google.auth.exceptions import GoogleAuthError
        from requests.exceptions import RequestException

        try:
            yield
        except gx.NotFound:
            if bucket_level:
                raise DestinationError(
                    f"gcs bucket {self.bucket_name!r} does not exist (rivet never creates buckets)"
                ) from None
            raise DestinationError(f"gcs bucket {self.bucket_name!r}: {what} failed: not found") from None
        except (gx.Forbidden, gx.Unauthorized) as exc:
            raise DestinationError(
                f"gcs bucket {self.bucket_name!r}: access denied ({exc.code}) on {what}; "
                "check the destination credentials"
            ) from None
        except gx.GoogleAPICallError as exc:
            raise DestinationError(f"gcs bucket {self.bucket_name!r}: {what} failed: {exc.message}") from None
        except gx.RetryError as exc:
            raise DestinationError(f"gcs bucket {self.bucket_name!r}: {what} failed: {exc.cause}") from None
        except GoogleAuthError as exc:
            raise DestinationError(f"gcs bucket {self.bucket_name!r}: credentials refused on {what}: {exc}") from None
        except RequestException as exc:
            raise DestinationError(f"gcs bucket {self.bucket_name!r}: {what} failed: {exc}") from None

    # -- writing --------------------------------------------------------------------------------------------
    def open_write(self, key: str) -> BinaryIO:
        return _ResumableSink(self, self._key(key))  # type: ignore[return-value]

    def write_bytes(self, key: str, data: bytes) -> None:
        self.upload(self._key(key), data)

    def upload(self, full: str, data: bytes) -> None:
        """One single-request upload to a full key (atomic: the object appears whole or not at all)."""
        self.call(f"writing {full}", self.blob(full).upload_from_string, data, retry=self.retry, bucket_level=True)

    def promote(self, temp_key: str, final_key: str) -> None:
        """Server-side rewrite to the final key with ifGenerationMatch=0 (only if absent); then drop temp."""
        from google.api_core.exceptions import PreconditionFailed

        if self.size(final_key) is not None:
            raise DestinationError(f"refusing to overwrite existing object {self.uri(final_key)}")
        src, dst = self.blob(self._key(temp_key)), self.blob(self._key(final_key))
        with self.errors(f"publishing {dst.name}"):
            try:
                token, _, _ = dst.rewrite(src, if_generation_match=0, retry=self.retry)
                while token is not None:  # large objects are rewritten in several calls
                    token, _, _ = dst.rewrite(src, token=token, if_generation_match=0, retry=self.retry)
            except PreconditionFailed:
                raise DestinationError(f"refusing to overwrite existing object {self.uri(final_key)}") from None
        self.delete(temp_key)

    # -- reading --------------------------------------------------------------------------------------------
    def read_bytes(self, key: str) -> bytes:
        full = self._key(key)
        return self.call(f"reading {full}", self.blob(full).download_as_bytes, retry=self.retry)  # type: ignore[no-any-return]

    def open_read(self, key: str) -> BinaryIO:
        full = self._key(key)
        return self.call(f"reading {full}", self.blob(full).open, "rb", retry=self.retry)  # type: ignore[no-any-return]

    def _objects(self, prefix: str) -> Iterator[str]:
        """Full keys at `prefix` (as a path: the key itself and keys below `prefix/`)."""
        full = self._key(prefix).rstrip("/") if prefix else self.root
        below = f"{full}/" if full else ""
        with self.errors(f"listing {below or '/'}", bucket_level=True):
            for blob in self.client.list_blobs(self.bucket, prefix=full, retry=self.retry):
                if blob.name == full or blob.name.startswith(below):
                    yield blob.name

    def list(self, prefix: str) -> list[str]:
        start = len(self.root) + 1 if self.root else 0
        return sorted(key[start:] for key in self._objects(prefix))

    def size(self, key: str) -> int | None:
        full = self._key(key)
        blob = self.call(f"reading {full}", self.bucket.get_blob, full, retry=self.retry)
        return None if blob is None else int(blob.size)

    def delete(self, key: str) -> None:
        self._delete(self._key(key))

    def _delete(self, full: str) -> None:
        from google.api_core.exceptions import NotFound

        with self.errors(f"deleting {full}"), suppress(NotFound):
            self.blob(full).delete(retry=self.retry)

    def clear(self, prefix: str) -> int:
        """Delete every object under `prefix` (unfinished resumable uploads are never objects; GCS expires them)."""
        keys = list(self._objects(prefix))
        for key in keys:
            self._delete(key)
        return len(keys)


class _ResumableSink(ChunkedUpload):
    """One object streamed as a resumable upload; an object smaller than one chunk goes up in a single request."""

    def __init__(self, dest: GcsDestination, key: str) -> None:
        super().__init__()
        self._dest = dest
        self._key = key
        self._writer: Any = None

    def _chunk_size(self) -> int:
        return self._dest.chunk_bytes

    def _ship(self, chunk: bytes) -> None:
        d = self._dest
        with d.errors(f"writing {self._key}", bucket_level=True):
            if self._writer is None:
                self._writer = d.blob(self._key).open("wb", ignore_flush=True, retry=d.retry)
            self._writer.write(chunk)

    def _finish(self, tail: bytes) -> None:
        if self._writer is None:
            self._dest.upload(self._key, tail)
            return
        with self._dest.errors(f"writing {self._key}", bucket_level=True):
            self._writer.write(tail)
            self._writer.close()

    def _abort(self) -> None:
        if self._writer is not None:
            self._writer.terminate()
