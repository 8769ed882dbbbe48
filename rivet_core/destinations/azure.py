"""Azure Blob destination on azure-storage-blob: streaming uploads as staged blocks, conditional server-side promotion.

Credentials, read when the destination is opened: `account_name` with `account_key_env` (a shared key) or
`sas_token_env` (a SAS token, a leading `?` trimmed), each naming an environment variable (a missing one is a
ConfigError naming the field); or `allow_anonymous: true` (public containers, no account). The blob service is
`endpoint`, else `https://<account_name>.blob.core.windows.net`; an endpoint without a path whose host does not
start with the account name gets `/<account_name>` appended (Azurite's path-style URLs). Every request has the
connect/read timeouts of timeouts.py and at most MAX_ATTEMPTS attempts (exponential backoff); every step runs under
the deadlines of object_store.py. An upload stages blocks (one in flight) and commits the block list on close, so
nothing is visible before; promotion copies the temp blob with `If-None-Match: *`. Layout: docs/commit-protocol.md.
"""

from __future__ import annotations

import builtins
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from rivet_core.config import AzureDestinationConfig, require_env
from rivet_core.destinations.object_store import ObjectStore, StoreUpload
from rivet_core.destinations.timeouts import MAX_ATTEMPTS, StoreTimeouts
from rivet_core.errors import ConfigError, DestinationError, RivetError

BLOCK_BYTES = 8 << 20  # first staged block size; doubles every 5000 blocks (Azure allows 50,000 per blob)
COPY_POLL_S = 0.5  # how often an asynchronous server-side copy's status is read
_DENIED = {
    "AuthenticationFailed",
    "AuthorizationFailure",
    "AuthorizationPermissionMismatch",
    "InsufficientAccountPermissions",
}
_TAKEN = {"BlobAlreadyExists", "ConditionNotMet", "TargetConditionNotMet"}


def account_url(config: AzureDestinationConfig) -> str:
    """The blob service URL the client talks to (no credentials in it)."""
    if not config.endpoint:
        if not config.account_name:
            raise ConfigError("destination.endpoint: required with allow_anonymous (no account_name to derive it)")
        return f"https://{config.account_name}.blob.core.windows.net"
    url = config.endpoint.rstrip("/")
    parts = urlsplit(url)
    name = config.account_name
    if name and not parts.path and not (parts.hostname or "").startswith(f"{name}."):
        url = f"{url}/{name}"  # Azurite / emulators: the account is the first path segment
    return url


def _credential(config: AzureDestinationConfig, env: Mapping[str, str]) -> tuple[Any, str, list[str]]:
    """The SDK credential, the SAS to append to copy sources ('' unless a SAS is used), and the secrets."""
    from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential

    if config.account_key_env:
        key = require_env(env, config.account_key_env, "destination.account_key_env")
        return AzureNamedKeyCredential(config.account_name or "", key), "", [key]
    if config.sas_token_env:
        sas = require_env(env, config.sas_token_env, "destination.sas_token_env").lstrip("?")
        return AzureSasCredential(sas), sas, [sas]
    return None, "", []


def _code(exc: Exception) -> str:
    """The storage error code of a failed request ('' when it has none)."""
    code = getattr(exc, "error_code", None)
    return str(getattr(code, "value", code) or "")


def _status(exc: Exception) -> int | None:
    return getattr(exc, "status_code", None)


class AzureDestination(ObjectStore):
    """Blobs under `az://<container>/<prefix>/`; keys are relative to that root prefix."""

    kind = "azure"
    scheme = "az"

    def __init__(
        self,
        config: AzureDestinationConfig,
        root_prefix: str,
        env: Mapping[str, str] | None = None,
        client: Any = None,
        *,
        timeouts: StoreTimeouts | None = None,
    ) -> None:
        """`client`: a BlobServiceClient to use instead of one built from the config's credentials and endpoint."""
        try:
            from azure.storage.blob import BlobServiceClient, ExponentialRetry
        except ImportError:
            raise ConfigError(
                "destination.type: azure needs the azure-storage-blob package (pip install azure-storage-blob)"
            ) from None
        env = os.environ if env is None else env
        super().__init__(config.bucket, root_prefix, timeouts or StoreTimeouts.from_env(env))
        self.account = config.account_name
        self.block_bytes = BLOCK_BYTES
        self._sas = ""
        if client is None:
            credential, self._sas, self.secrets = _credential(config, env)
            client = BlobServiceClient(
                account_url(config),
                credential=credential,
                connection_timeout=self.timeouts.connect_timeout_s,
                read_timeout=self.timeouts.read_timeout_s,
                retry_policy=ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=MAX_ATTEMPTS - 1),
            )
        self.client = client
        self.container = client.get_container_client(config.bucket)

    @property
    def label(self) -> str:
        return f"azure container {self.bucket_name!r}"

    @property
    def endpoint(self) -> str:
        return str(self.client.url).split("?", 1)[0].rstrip("/")

    def blob(self, full: str) -> Any:
        """The blob client at a full (root-prefixed) key."""
        return self.container.get_blob_client(full)

    def _translate(self, exc: Exception, what: str, bucket_level: bool) -> RivetError | None:
        from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError

        code = _code(exc)
        if code == "ContainerNotFound" or (bucket_level and code == "ResourceNotFound"):
            return DestinationError(f"{self.label} does not exist (rivet never creates containers)")
        if isinstance(exc, ClientAuthenticationError) or code in _DENIED or _status(exc) == 403:
            return DestinationError(
                f"{self.label}: access denied ({code or _status(exc)}) on {what}; check the credentials of storage "
                f"account {self.account!r} (account_key_env / sas_token_env)"
            )
        if isinstance(exc, HttpResponseError):
            reason = getattr(exc, "reason", None) or ""
            return DestinationError(f"{self.label}: {what} failed: {code or _status(exc)} {reason}".rstrip())
        if isinstance(exc, AzureError):
            return DestinationError(f"{self.label}: {what} failed: {str(exc).splitlines()[0]}")
        return None

    def _unreachable(self, exc: Exception) -> str | None:
        from azure.core.exceptions import ServiceRequestError, ServiceResponseError

        return type(exc).__name__ if isinstance(exc, ServiceRequestError | ServiceResponseError) else None

    # -- SDK calls ----------------------------------------------------------------------------------------------
    def _put(self, full: str, data: bytes) -> None:
        """One Put Blob (atomic: the blob appears whole or not at all), replacing any previous one."""
        self.blob(full).upload_blob(data, overwrite=True, length=len(data))

    def _get(self, full: str, first: int | None = None, last: int | None = None) -> bytes:
        length = None if first is None or last is None else last - first + 1
        return bytes(self.blob(full).download_blob(offset=first, length=length).readall())

    def _head(self, full: str) -> int | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return int(self.blob(full).get_blob_properties().size)
        except ResourceNotFoundError as exc:
            if _code(exc) == "ContainerNotFound":
                raise
            return None

    def _keys(self, full_prefix: str) -> Iterator[str]:
        for item in self.container.list_blobs(name_starts_with=full_prefix or None):
            yield item.name

    def _remove(self, fulls: builtins.list[str]) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        for full in fulls:
            try:
                self.blob(full).delete_blob()
            except ResourceNotFoundError as exc:
                if _code(exc) == "ContainerNotFound":
                    raise

    def _copy_if_absent(self, src: str, dst: str, size: int) -> bool:
        """Copy Blob with If-None-Match: * on the target; waits for an asynchronous copy to finish."""
        from azure.core import MatchConditions
        from azure.core.exceptions import HttpResponseError

        source = self.blob(src).url.split("?", 1)[0] + (f"?{self._sas}" if self._sas else "")
        target = self.blob(dst)
        try:
            status = target.start_copy_from_url(source, match_condition=MatchConditions.IfMissing)
        except HttpResponseError as exc:
            if _code(exc) in _TAKEN or _status(exc) in (409, 412):
                return False
            raise
        state = status.get("copy_status")
        while state == "pending":
            time.sleep(COPY_POLL_S)
            state = target.get_blob_properties().copy.status
        if state != "success":
            raise DestinationError(f"{self.label}: publishing {dst} failed: server-side copy ended {state}")
        return True

    def _uncommitted(self, full_prefix: str) -> builtins.list[str]:
        """Blobs at `full_prefix` (a path) with staged blocks but no committed version."""
        below = f"{full_prefix}/" if full_prefix else ""
        listed = self.container.list_blobs(name_starts_with=below or None, include=["uncommittedblobs"])
        every = {b.name for b in listed if b.name == full_prefix or b.name.startswith(below)}
        return sorted(every - set(self._keys(below)))

    def _discard_blocks(self, full: str) -> None:
        """Drop a blob's staged blocks: commit an empty block list if no blob is there, then delete it."""
        from azure.core import MatchConditions
        from azure.core.exceptions import HttpResponseError

        try:
            self.blob(full).commit_block_list([], match_condition=MatchConditions.IfMissing)
        except HttpResponseError as exc:
            if _code(exc) in _TAKEN or _status(exc) in (409, 412):
                return  # a committed blob is there now: not ours to discard
            raise
        self._remove([full])

    def _abort_uploads(self, full_prefix: str) -> int:
        """Discard the staged, never committed blocks of blobs at `full_prefix` (as a path)."""
        names = self._uncommitted(full_prefix)
        for name in names:
            self._discard_blocks(name)
        return len(names)

    def _sink(self, full: str) -> StoreUpload:
        return _BlockSink(self, full)


class _BlockSink(StoreUpload):
    """One blob streamed as staged blocks, committed on close; a blob smaller than one block is one Put Blob."""

    def __init__(self, dest: AzureDestination, key: str) -> None:
        super().__init__(dest, key)
        self._dest = dest
        self._blocks: list[str] = []

    def _chunk_size(self) -> int:
        return self._dest.block_bytes << min(self.shipped // 5000, 9)

    def _ship(self, chunk: bytes) -> None:
        block_id = f"{len(self._blocks):08d}"  # every id of a blob has the same length
        self._dest.blob(self.key).stage_block(block_id, chunk, length=len(chunk))
        self._blocks.append(block_id)

    def _finish(self, tail: bytes) -> None:
        from azure.storage.blob import BlobBlock

        if not self._blocks:
            self._dest._put(self.key, tail)
            return
        if tail:
            self._ship(tail)
        self._dest.blob(self.key).commit_block_list([BlobBlock(block_id=b) for b in self._blocks])

    def _abort(self) -> None:
        if self._blocks:
            self._dest._discard_blocks(self.key)
