"""S3 (and S3-compatible) destination on boto3: multipart streaming uploads, conditional server-side promotion.

Credentials, read when the destination is opened: `access_key_env`/`secret_key_env`(/`session_token_env`) name
environment variables (a missing one is a ConfigError naming it); else `aws_profile`; else botocore's default
chain (environment, shared files, SSO, container/instance role). `allow_anonymous: true` with none of these
configured sends unsigned requests. Transient failures (5xx, throttling, connection errors) are retried with
exponential backoff by botocore's `standard` retry mode (MAX_ATTEMPTS attempts; AWS_RETRY_MODE / AWS_MAX_ATTEMPTS
override), each request under the connect/read timeouts and each step under the deadlines of timeouts.py; the
rest fail at once with a message naming the bucket.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from rivet_core.config import S3DestinationConfig, require_env
from rivet_core.destinations.object_store import ObjectStore, StoreUpload
from rivet_core.destinations.timeouts import MAX_ATTEMPTS, StoreTimeouts
from rivet_core.errors import ConfigError, DestinationError, RivetError

if TYPE_CHECKING:
    from botocore.config import _RetryDict

PART_BYTES = 8 << 20  # first multipart chunk size; doubles every 1000 parts (10,000 parts reach ~8 TB)
COPY_LIMIT = 5 << 30  # largest object one CopyObject can copy; larger ones are copied part by part
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "403"}


def _session(config: S3DestinationConfig, env: Mapping[str, str]) -> tuple[Any, list[str], bool]:
    """A boto3 session from the configured credentials, the secrets it holds, and whether to sign requests."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    key_id = secret = token = None
    if config.access_key_env and config.secret_key_env:
        key_id = require_env(env, config.access_key_env, "destination.access_key_env")
        secret = require_env(env, config.secret_key_env, "destination.secret_key_env")
        if config.session_token_env:
            token = require_env(env, config.session_token_env, "destination.session_token_env")
    try:
        session = boto3.session.Session(
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            aws_session_token=token,
            profile_name=config.aws_profile,
            region_name=config.region,
        )
    except ProfileNotFound:
        raise ConfigError(
            f"destination.aws_profile: profile {config.aws_profile!r} is not in the AWS config files"
        ) from None
    anonymous = config.allow_anonymous and key_id is None and not config.aws_profile
    return session, [secret or "", token or ""], not anonymous


def _retries() -> _RetryDict:
    """botocore's `standard` retry mode with MAX_ATTEMPTS, unless AWS_RETRY_MODE / AWS_MAX_ATTEMPTS say otherwise."""
    retries: _RetryDict = {}
    if "AWS_RETRY_MODE" not in os.environ:
        retries["mode"] = "standard"
    if "AWS_MAX_ATTEMPTS" not in os.environ:
        retries["max_attempts"] = MAX_ATTEMPTS
    return retries


def _code(exc: Exception) -> str:
    """The S3 error code of a ClientError ('' for anything else)."""
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


class S3Destination(ObjectStore):
    """Objects under `s3://bucket/<prefix>/`; keys are relative to that root prefix."""

    kind = "s3"
    scheme = "s3"
    delete_batch = 1000

    def __init__(
        self,
        config: S3DestinationConfig,
        root_prefix: str,
        env: Mapping[str, str] | None = None,
        client: Any = None,
        *,
        timeouts: StoreTimeouts | None = None,
    ) -> None:
        """`client`: a boto3 S3 client to use instead of one built from the config's credentials and endpoint."""
        from botocore import UNSIGNED
        from botocore.config import Config

        env = os.environ if env is None else env
        super().__init__(config.bucket, root_prefix, timeouts or StoreTimeouts.from_env(env))
        self.part_bytes = PART_BYTES
        self.copy_limit = COPY_LIMIT
        if client is not None:
            self.client = client
            return
        session, self.secrets, signed = _session(config, env)
        client_config = Config(
            retries=_retries(),
            connect_timeout=self.timeouts.connect_timeout_s,
            read_timeout=self.timeouts.read_timeout_s,
            max_pool_connections=32,
            s3={"addressing_style": "path"} if config.endpoint else None,
            signature_version=None if signed else UNSIGNED,
        )
        self.client = session.client("s3", endpoint_url=config.endpoint, config=client_config)

    @property
    def endpoint(self) -> str:
        return str(self.client.meta.endpoint_url)

    def _translate(self, exc: Exception, what: str, bucket_level: bool) -> RivetError | None:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        if isinstance(exc, NoCredentialsError):
            return ConfigError(
                f"destination: no AWS credentials found for s3 bucket {self.bucket_name!r}: set access_key_env and "
                "secret_key_env, aws_profile, or the AWS_* environment / shared credentials files "
                "(or allow_anonymous: true for unsigned requests)"
            )
        if isinstance(exc, ClientError):
            error, code = exc.response.get("Error", {}), _code(exc)
            if code == "NoSuchBucket":
                return DestinationError(f"{self.label} does not exist (rivet never creates buckets)")
            if code in _DENIED or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403:
                return DestinationError(
                    f"{self.label}: access denied ({code}) on {what}; check the destination credentials"
                )
            return DestinationError(f"{self.label}: {what} failed: {code} {error.get('Message', '')}".rstrip())
        if isinstance(exc, BotoCoreError):
            return DestinationError(f"{self.label}: {what} failed: {exc}")
        return None

    def _unreachable(self, exc: Exception) -> str | None:
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from botocore.exceptions import HTTPClientError

        return type(exc).__name__ if isinstance(exc, BotoConnectionError | HTTPClientError) else None

    # -- SDK calls ----------------------------------------------------------------------------------------------
    def _put(self, full: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket_name, Key=full, Body=data)

    def _get(self, full: str, first: int | None = None, last: int | None = None) -> bytes:
        ranged = {} if first is None else {"Range": f"bytes={first}-{last}"}
        with self.client.get_object(Bucket=self.bucket_name, Key=full, **ranged)["Body"] as body:
            return bytes(body.read())

    def _head(self, full: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return int(self.client.head_object(Bucket=self.bucket_name, Key=full)["ContentLength"])
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return None
            raise

    def _keys(self, full_prefix: str) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket_name, Prefix=full_prefix)
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"]

    def _remove(self, fulls: builtins.list[str]) -> None:
        if len(fulls) == 1:
            self.client.delete_object(Bucket=self.bucket_name, Key=fulls[0])
            return
        batch = {"Objects": [{"Key": k} for k in fulls], "Quiet": True}
        self.client.delete_objects(Bucket=self.bucket_name, Delete=batch)

    def _copy_if_absent(self, src: str, dst: str, size: int) -> bool:
        from botocore.exceptions import ClientError

        try:
            if size <= self.copy_limit:
                self._copy(src, dst)
            else:
                self._multipart_copy(src, dst, size)
        except ClientError as exc:
            if _code(exc) == "PreconditionFailed":
                return False
            raise
        return True

    def _copy(self, src: str, dst: str) -> None:
        """One CopyObject; a store that does not implement conditional copies gets the existence check alone."""
        from botocore.exceptions import ClientError

        source = {"Bucket": self.bucket_name, "Key": src}
        try:
            self.client.copy_object(Bucket=self.bucket_name, Key=dst, CopySource=source, IfNoneMatch="*")
        except ClientError as exc:
            if _code(exc) != "NotImplemented":
                raise
            self.client.copy_object(Bucket=self.bucket_name, Key=dst, CopySource=source)

    def _multipart_copy(self, src: str, dst: str, size: int) -> None:
        """UploadPartCopy in ranges of `copy_limit`, completed with If-None-Match: * (objects over 5 GiB)."""
        bucket = self.bucket_name
        upload_id = self.client.create_multipart_upload(Bucket=bucket, Key=dst)["UploadId"]
        try:
            parts = []
            for number, first in enumerate(range(0, size, self.copy_limit), 1):
                last = min(first + self.copy_limit, size) - 1
                result = self.client.upload_part_copy(
                    Bucket=bucket,
                    Key=dst,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": bucket, "Key": src},
                    CopySourceRange=f"bytes={first}-{last}",
                )
                parts.append({"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]})
            self.client.complete_multipart_upload(
                Bucket=bucket, Key=dst, UploadId=upload_id, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
            )
        except BaseException:
            self.client.abort_multipart_upload(Bucket=bucket, Key=dst, UploadId=upload_id)
            raise

    def _abort_uploads(self, full_prefix: str) -> int:
        """Abort the unfinished multipart uploads of keys at `full_prefix` (as a path)."""
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket_name, Prefix=full_prefix
        )
        uploads = [u for page in pages for u in page.get("Uploads", [])]
        aborted = 0
        for upload in uploads:
            if upload["Key"] == full_prefix or upload["Key"].startswith(f"{full_prefix}/"):
                self.client.abort_multipart_upload(
                    Bucket=self.bucket_name, Key=upload["Key"], UploadId=upload["UploadId"]
                )
                aborted += 1
        return aborted

    def _sink(self, full: str) -> StoreUpload:
        return _MultipartSink(self, full)


class _MultipartSink(StoreUpload):
    """One object streamed as a multipart upload; an object smaller than one part goes up in a single PUT."""

    def __init__(self, dest: S3Destination, key: str) -> None:
        super().__init__(dest, key)
        self._dest = dest
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def _chunk_size(self) -> int:
        return self._dest.part_bytes << min(self.shipped // 1000, 9)

    def _ship(self, chunk: bytes) -> None:
        d = self._dest
        if self._upload_id is None:
            self._upload_id = d.client.create_multipart_upload(Bucket=d.bucket_name, Key=self.key)["UploadId"]
        number = len(self._parts) + 1
        result = d.client.upload_part(
            Bucket=d.bucket_name, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=chunk
        )
        self._parts.append({"PartNumber": number, "ETag": result["ETag"]})

    def _finish(self, tail: bytes) -> None:
        d = self._dest
        if self._upload_id is None:
            d._put(self.key, tail)
            return
        if tail:
            self._ship(tail)
        d.client.complete_multipart_upload(
            Bucket=d.bucket_name, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
        )

    def _abort(self) -> None:
        if self._upload_id is not None:
            d = self._dest
            d.client.abort_multipart_upload(Bucket=d.bucket_name, Key=self.key, UploadId=self._upload_id)
