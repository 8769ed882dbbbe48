"""S3 (and S3-compatible) destination on boto3: multipart streaming uploads, conditional server-side promotion.

Credentials, read when the destination is opened: `access_key_env`/`secret_key_env`(/`session_token_env`) name
environment variables (a missing one is a ConfigError naming it); else `aws_profile`; else botocore's default
chain (environment, shared files, SSO, container/instance role). `allow_anonymous: true` with none of these
configured sends unsigned requests. Transient failures (5xx, throttling, connection errors) are retried with
exponential backoff by botocore's `standard` retry mode (5 attempts; AWS_RETRY_MODE / AWS_MAX_ATTEMPTS override);
the rest fail at once with a message naming the bucket.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, BinaryIO, TypeVar

from rivet_core.config import S3DestinationConfig as S3Config
from rivet_core.config import require_env
from rivet_core.destinations.streaming import ChunkedUpload, open_ranged
from rivet_core.errors import ConfigError, DestinationError
from rivet_core.redact import redact

T = TypeVar("T")

PART_BYTES = 8 << 20  # first multipart chunk size; doubles every 1000 parts (10,000 parts reach ~8 TB)
COPY_LIMIT = 5 << 30  # largest object one CopyObject can copy; larger ones are copied part by part
MAX_ATTEMPTS = 5  # botocore `standard` mode: attempts in all, with jittered exponential backoff
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "403"}


def _session(config: S3Config, env: Mapping[str, str]) -> tuple[Any, list[str], bool]:
    """A boto3 session from the configured credentials, the secrets it holds, and whether to sign requests."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    keys: dict[str, str] = {}
    if config.access_key_env and config.secret_key_env:
        keys["aws_access_key_id"] = require_env(env, config.access_key_env, "destination.access_key_env")
        keys["aws_secret_access_key"] = require_env(env, config.secret_key_env, "destination.secret_key_env")
        if config.session_token_env:
            keys["aws_session_token"] = require_env(env, config.session_token_env, "destination.session_token_env")
    try:
        session = boto3.session.Session(profile_name=config.aws_profile, region_name=config.region, **keys)
    except ProfileNotFound:
        raise ConfigError(
            f"destination.aws_profile: profile {config.aws_profile!r} is not in the AWS config files"
        ) from None
    anonymous = config.allow_anonymous and not keys and not config.aws_profile
    return session, [keys.get("aws_secret_access_key", ""), keys.get("aws_session_token", "")], not anonymous


def _retries() -> dict[str, Any]:
    """botocore's `standard` retry mode with MAX_ATTEMPTS, unless AWS_RETRY_MODE / AWS_MAX_ATTEMPTS say otherwise."""
    retries: dict[str, Any] = {}
    if "AWS_RETRY_MODE" not in os.environ:
        retries["mode"] = "standard"
    if "AWS_MAX_ATTEMPTS" not in os.environ:
        retries["max_attempts"] = MAX_ATTEMPTS
    return retries


class S3Destination:
    """Objects under `s3://bucket/<prefix>/`; keys are relative to that root prefix."""

    kind = "s3"

    def __init__(
        self, config: S3Config, root_prefix: str, env: Mapping[str, str] | None = None, client: Any = None
    ) -> None:
        """`client`: a boto3 S3 client to use instead of one built from the config's credentials and endpoint."""
        from botocore import UNSIGNED
        from botocore.config import Config

        self.bucket = config.bucket
        self.root = root_prefix.strip("/")
        self.part_bytes = PART_BYTES
        self.copy_limit = COPY_LIMIT
        self._secrets: list[str] = []
        if client is not None:
            self.client = client
            return
        session, self._secrets, signed = _session(config, os.environ if env is None else env)
        client_config = Config(
            retries=_retries(),
            connect_timeout=10,
            read_timeout=120,
            max_pool_connections=32,
            s3={"addressing_style": "path"} if config.endpoint else None,
            signature_version=None if signed else UNSIGNED,
        )
        self.client = session.client("s3", endpoint_url=config.endpoint, config=client_config)

    # -- keys and errors ------------------------------------------------------------------------------------
    def _key(self, key: str) -> str:
        return f"{self.root}/{key}" if self.root else key

    def uri(self, key: str = "") -> str:
        path = self._key(key) if key else self.root
        return f"s3://{self.bucket}/{path}" if path else f"s3://{self.bucket}"

    def call(self, what: str, fn: Callable[..., T], **kwargs: Any) -> T:
        """Run one S3 request on the bucket, its failures mapped by `errors`."""
        with self.errors(what):
            return fn(Bucket=self.bucket, **kwargs)

    @contextmanager
    def errors(self, what: str) -> Iterator[None]:
        """Permanent failures (and transient ones that outlived the retries) as one line naming the bucket."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            yield
        except NoCredentialsError:
            raise ConfigError(
                f"destination: no AWS credentials found for s3 bucket {self.bucket!r}: set access_key_env and "
                "secret_key_env, aws_profile, or the AWS_* environment / shared credentials files "
                "(or allow_anonymous: true for unsigned requests)"
            ) from None
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code == "NoSuchBucket":
                text = f"s3 bucket {self.bucket!r} does not exist (rivet never creates buckets)"
            elif code in _DENIED or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403:
                text = f"s3 bucket {self.bucket!r}: access denied ({code}) on {what}; check the destination credentials"
            else:
                text = f"s3 bucket {self.bucket!r}: {what} failed: {code} {error.get('Message', '')}".rstrip()
            raise DestinationError(redact(text, self._secrets)) from None
        except BotoCoreError as exc:
            text = f"s3 bucket {self.bucket!r}: {what} failed: {exc}"
            raise DestinationError(redact(text, self._secrets)) from None

    # -- writing --------------------------------------------------------------------------------------------
    def open_write(self, key: str) -> BinaryIO:
        return _MultipartSink(self, self._key(key))  # type: ignore[return-value]

    def write_bytes(self, key: str, data: bytes) -> None:
        self.call(f"writing {self._key(key)}", self.client.put_object, Key=self._key(key), Body=data)

    def promote(self, temp_key: str, final_key: str) -> None:
        """Server-side copy to the final key, conditional on it not existing (If-None-Match: *); then drop temp."""
        from botocore.exceptions import ClientError

        src, dst = self._key(temp_key), self._key(final_key)
        if self.size(final_key) is not None:
            raise DestinationError(f"refusing to overwrite existing object {self.uri(final_key)}")
        size = self.size(temp_key)
        if size is None:
            raise DestinationError(f"cannot publish {self.uri(final_key)}: temp object {self.uri(temp_key)} is gone")
        with self.errors(f"publishing {dst}"):
            try:
                if size <= self.copy_limit:
                    self._copy(src, dst)
                else:
                    self._multipart_copy(src, dst, size)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                    raise DestinationError(f"refusing to overwrite existing object {self.uri(final_key)}") from None
                raise
        self.delete(temp_key)

    def _copy(self, src: str, dst: str) -> None:
        """One CopyObject; a store that does not implement conditional copies gets the existence check alone."""
        from botocore.exceptions import ClientError

        source = {"Bucket": self.bucket, "Key": src}
        try:
            self.client.copy_object(Bucket=self.bucket, Key=dst, CopySource=source, IfNoneMatch="*")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NotImplemented":
                raise
            self.client.copy_object(Bucket=self.bucket, Key=dst, CopySource=source)

    def _multipart_copy(self, src: str, dst: str, size: int) -> None:
        """UploadPartCopy in ranges of `copy_limit`, completed with If-None-Match: * (objects over 5 GiB)."""
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=dst)["UploadId"]
        try:
            parts = []
            for number, first in enumerate(range(0, size, self.copy_limit), 1):
                last = min(first + self.copy_limit, size) - 1
                result = self.client.upload_part_copy(
                    Bucket=self.bucket,
                    Key=dst,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": src},
                    CopySourceRange=f"bytes={first}-{last}",
                )
                parts.append({"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]})
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=dst, UploadId=upload_id, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
            )
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=dst, UploadId=upload_id)
            raise

    # -- reading --------------------------------------------------------------------------------------------
    def read_bytes(self, key: str) -> bytes:
        body = self.call(f"reading {self._key(key)}", self.client.get_object, Key=self._key(key))["Body"]
        with body:
            return body.read()  # type: ignore[no-any-return]

    def _range(self, key: str, first: int, last: int) -> bytes:
        response = self.call(f"reading {key}", self.client.get_object, Key=key, Range=f"bytes={first}-{last}")
        with response["Body"] as body:
            return body.read()  # type: ignore[no-any-return]

    def open_read(self, key: str) -> BinaryIO:
        size = self.size(key)
        if size is None:
            raise DestinationError(f"{self.uri(key)} does not exist")
        full = self._key(key)
        return open_ranged(lambda first, last: self._range(full, first, last), size)  # type: ignore[return-value]

    def _objects(self, prefix: str) -> Iterator[str]:
        """Full keys at `prefix` (as a path: the key itself and keys below `prefix/`)."""
        full = self._key(prefix).rstrip("/") if prefix else self.root
        below = f"{full}/" if full else ""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full)
        with self.errors(f"listing {below or '/'}"):
            for page in pages:
                for item in page.get("Contents", []):
                    if item["Key"] == full or item["Key"].startswith(below):
                        yield item["Key"]

    def list(self, prefix: str) -> list[str]:
        start = len(self.root) + 1 if self.root else 0
        return sorted(key[start:] for key in self._objects(prefix))

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        with self.errors(f"reading {self._key(key)}"):
            try:
                return int(self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"])
            except ClientError as exc:
                if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                    return None
                raise

    def delete(self, key: str) -> None:
        self.call(f"deleting {self._key(key)}", self.client.delete_object, Key=self._key(key))

    def clear(self, prefix: str) -> int:
        """Delete every object under `prefix` and abort unfinished multipart uploads there; returns the count."""
        keys = list(self._objects(prefix))
        for i in range(0, len(keys), 1000):
            batch = {"Objects": [{"Key": k} for k in keys[i : i + 1000]], "Quiet": True}
            self.call(f"deleting under {self._key(prefix)}", self.client.delete_objects, Delete=batch)
        full = self._key(prefix).rstrip("/")
        aborted = 0
        pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=full)
        with self.errors(f"listing uploads under {full}"):
            uploads = [u for page in pages for u in page.get("Uploads", [])]
        for upload in uploads:
            if upload["Key"] == full or upload["Key"].startswith(f"{full}/"):
                self.call(
                    f"aborting upload of {upload['Key']}",
                    self.client.abort_multipart_upload,
                    Key=upload["Key"],
                    UploadId=upload["UploadId"],
                )
                aborted += 1
        return len(keys) + aborted


class _MultipartSink(ChunkedUpload):
    """One object streamed as a multipart upload; an object smaller than one part goes up in a single PUT."""

    def __init__(self, dest: S3Destination, key: str) -> None:
        super().__init__()
        self._dest = dest
        self._key = key
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def _chunk_size(self) -> int:
        return self._dest.part_bytes << min(self.shipped // 1000, 9)

    def _ship(self, chunk: bytes) -> None:
        d = self._dest
        if self._upload_id is None:
            self._upload_id = d.call(f"writing {self._key}", d.client.create_multipart_upload, Key=self._key)[
                "UploadId"
            ]
        number = len(self._parts) + 1
        result = d.call(
            f"writing {self._key}",
            d.client.upload_part,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=chunk,
        )
        self._parts.append({"PartNumber": number, "ETag": result["ETag"]})

    def _finish(self, tail: bytes) -> None:
        d = self._dest
        if self._upload_id is None:
            d.call(f"writing {self._key}", d.client.put_object, Key=self._key, Body=tail)
            return
        if tail:
            self._ship(tail)
        d.call(
            f"writing {self._key}",
            d.client.complete_multipart_upload,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )

    def _abort(self) -> None:
        if self._upload_id is not None:
            d = self._dest
            d.client.abort_multipart_upload(Bucket=d.bucket, Key=self._key, UploadId=self._upload_id)
