"""What S3 and GCS destinations share: keys under a root prefix, bounded steps, error translation, listing,
conditional promotion, ranged reads and the streaming upload sink. Subclasses supply only the SDK calls.

Every step runs in a daemon thread under a total deadline (rivet_core/destinations/timeouts.py); a step that
outlives it, or finds the endpoint unreachable after the SDK's retries, marks the store down for this run.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from contextlib import suppress
from functools import partial
from typing import BinaryIO, ClassVar, TypeVar

from rivet_core.destinations.base import Destination
from rivet_core.destinations.streaming import Background, Expired, open_ranged
from rivet_core.destinations.timeouts import StoreTimeouts
from rivet_core.errors import DestinationError, RivetError
from rivet_core.redact import redact

T = TypeVar("T")


class ObjectStore(Destination):
    """Objects under `<scheme>://bucket/<root>/`; keys are relative to that root prefix."""

    scheme: ClassVar[str]  # of the URIs: s3, gs
    delete_batch: ClassVar[int] = 1  # keys one delete request removes

    def __init__(self, bucket: str, root_prefix: str, timeouts: StoreTimeouts) -> None:
        self.bucket_name = bucket
        self.root = root_prefix.strip("/")
        self.timeouts = timeouts
        self.secrets: builtins.list[str] = []  # values no message may show
        self._down: str | None = None  # why the store counts as unreachable for the rest of this run

    # -- the SDK calls a subclass supplies (full keys, unbounded: the caller bounds them) ----------------------
    @property
    @abstractmethod
    def endpoint(self) -> str:
        """The URL requests go to, for messages."""

    @abstractmethod
    def _put(self, full: str, data: bytes) -> None:
        """Write a whole object in one request."""

    @abstractmethod
    def _get(self, full: str, first: int | None = None, last: int | None = None) -> bytes:
        """The object's bytes, or the inclusive range first..last."""

    @abstractmethod
    def _head(self, full: str) -> int | None:
        """The object's size, None when absent."""

    @abstractmethod
    def _keys(self, full_prefix: str) -> Iterable[str]:
        """Every full key starting with `full_prefix` (a plain string prefix)."""

    @abstractmethod
    def _remove(self, fulls: builtins.list[str]) -> None:
        """Delete up to `delete_batch` keys; missing ones are no error."""

    @abstractmethod
    def _copy_if_absent(self, src: str, dst: str, size: int) -> bool:
        """Server-side copy to `dst` only if nothing is there; False when the precondition failed."""

    @abstractmethod
    def _sink(self, full: str) -> StoreUpload:
        """The streaming upload of one object."""

    def _abort_uploads(self, full_prefix: str) -> int:
        """Abandon unfinished uploads at `full_prefix` (a path); how many. None exist unless a store keeps them."""
        return 0

    @abstractmethod
    def _translate(self, exc: Exception, what: str, bucket_level: bool) -> RivetError | None:
        """A vendor failure as one line naming the bucket; None for an exception that is not the vendor's."""

    def describe(self, exc: Exception, what: str) -> RivetError | None:
        """`_translate` for callers sharing this store's client (the export lease object)."""
        return self._translate(exc, what, False)

    @abstractmethod
    def _unreachable(self, exc: Exception) -> str | None:
        """When a failure means the endpoint cannot be reached (refused, reset, timed out): a short reason."""

    # -- keys and bounded steps ---------------------------------------------------------------------------------
    @property
    def label(self) -> str:
        return f"{self.kind} bucket {self.bucket_name!r}"

    def _key(self, key: str) -> str:
        return f"{self.root}/{key}" if self.root else key

    def uri(self, key: str = "") -> str:
        path = self._key(key) if key else self.root
        return f"{self.scheme}://{self.bucket_name}/{path}" if path else f"{self.scheme}://{self.bucket_name}"

    def run(self, what: str, fn: Callable[[], T], seconds: float | None = None, bucket_level: bool = False) -> T:
        """One step: `fn` under a total deadline (default: the step deadline), its failures as one clear line."""
        self.ensure_up()
        return self.settle(what, Background(fn), seconds or self.timeouts.step_deadline_s, bucket_level)

    def settle(self, what: str, call: Background[T], seconds: float, bucket_level: bool = False) -> T:
        """Wait for a started step until `seconds` after its start; a 404 on a bucket-level step: no bucket."""
        self.ensure_up()
        try:
            return call.result(seconds)
        except Expired:
            self._down = f"{self.label}: {what} failed: no answer from {self.endpoint} within {seconds:g}s"
            raise DestinationError(redact(self._down, self.secrets)) from None
        except Exception as exc:
            reason = self._unreachable(exc)
            if reason is not None:
                self._down = f"{self.label}: {what} failed: endpoint {self.endpoint} unreachable ({reason})"
                raise DestinationError(redact(self._down, self.secrets)) from None
            error = self._translate(exc, what, bucket_level)
            if error is None:
                raise
            raise type(error)(redact(str(error), self.secrets)) from None

    def ensure_up(self) -> None:
        """Fail at once, with the first failure's message, once the store counts as down."""
        if self._down is not None:
            raise DestinationError(redact(self._down, self.secrets))

    # -- the Destination contract -------------------------------------------------------------------------------
    def open_write(self, key: str) -> StoreUpload:
        return self._sink(self._key(key))

    def write_bytes(self, key: str, data: bytes) -> None:
        full = self._key(key)
        seconds = self.timeouts.transfer_deadline(len(data))
        self.run(f"writing {full}", partial(self._put, full, data), seconds, bucket_level=True)

    def promote(self, temp_key: str, final_key: str) -> None:
        """Server-side copy to the final key, conditional on it being absent; then drop the temp object."""
        src, dst = self._key(temp_key), self._key(final_key)
        taken, size = self.run(f"publishing {dst}", lambda: (self._head(dst), self._head(src)))
        if taken is not None:
            raise DestinationError(f"refusing to overwrite existing object {self.uri(final_key)}")
        if size is None:
            raise DestinationError(f"cannot publish {self.uri(final_key)}: temp object {self.uri(temp_key)} is gone")
        copy = partial(self._copy_if_absent, src, dst, size)
        if not self.run(f"publishing {dst}", copy, self.timeouts.copy_deadline(size)):
            raise DestinationError(f"refusing to overwrite existing object {self.uri(final_key)}")
        self.delete(temp_key)

    def read_bytes(self, key: str) -> bytes:
        full = self._key(key)
        return self.run(f"reading {full}", partial(self._get, full))

    def open_read(self, key: str) -> BinaryIO:
        size = self.size(key)
        if size is None:
            raise DestinationError(f"{self.uri(key)} does not exist")
        full = self._key(key)

        def get_range(first: int, last: int) -> bytes:
            seconds = self.timeouts.transfer_deadline(last - first + 1)
            return self.run(f"reading {full}", partial(self._get, full, first, last), seconds)

        return open_ranged(get_range, size)

    def _objects(self, prefix: str) -> builtins.list[str]:
        """Full keys at `prefix` (as a path: the key itself and keys below `prefix/`)."""
        full = self._key(prefix).rstrip("/") if prefix else self.root
        below = f"{full}/" if full else ""
        keys = self.run(f"listing {below or '/'}", lambda: builtins.list(self._keys(full)), bucket_level=True)
        return [k for k in keys if k == full or k.startswith(below)]

    def list(self, prefix: str) -> builtins.list[str]:
        start = len(self.root) + 1 if self.root else 0
        return sorted(key[start:] for key in self._objects(prefix))

    def size(self, key: str) -> int | None:
        full = self._key(key)
        return self.run(f"reading {full}", partial(self._head, full))

    def delete(self, key: str) -> None:
        full = self._key(key)
        self.run(f"deleting {full}", partial(self._remove, [full]))

    def clear(self, prefix: str) -> int:
        """Delete every object under `prefix` and abandon unfinished uploads there; returns the count."""
        keys = self._objects(prefix)
        full = self._key(prefix).rstrip("/")
        for i in range(0, len(keys), self.delete_batch):
            self.run(f"deleting under {full}", partial(self._remove, keys[i : i + self.delete_batch]))
        return len(keys) + self.run(f"aborting uploads under {full}", partial(self._abort_uploads, full))


class StoreUpload(ABC):
    """A write-only sink that cuts the byte stream into parts and ships each from a background thread.

    At most one part is in flight while the next one fills, so memory stays near two parts whatever the object
    size, and encoding overlaps the network. Each part has a deadline from its start (timeouts.py). Subclasses
    say how a part is shipped (`_ship`), how the object is completed from the last bytes (`_finish`) and how an
    unfinished upload is abandoned (`_abort`); those run on the store's SDK, unbounded: this class bounds them.
    """

    def __init__(self, store: ObjectStore, key: str) -> None:
        self._store = store
        self.key = key
        self._buf = bytearray()
        self._inflight: tuple[Background[None], float] | None = None
        self.shipped = 0  # parts handed to `_ship`
        self.closed = False

    @abstractmethod
    def _chunk_size(self) -> int: ...

    @abstractmethod
    def _ship(self, chunk: bytes) -> None: ...

    @abstractmethod
    def _finish(self, tail: bytes) -> None: ...

    @abstractmethod
    def _abort(self) -> None: ...

    def write(self, data: bytes | memoryview) -> int:
        self._buf += data
        if len(self._buf) >= self._chunk_size():
            self._wait()
            chunk = bytes(self._buf)
            self._buf.clear()
            self.shipped += 1
            self._store.ensure_up()  # fail at once when the store is already down
            call = Background(partial(self._ship, chunk), name="rivet-upload")
            self._inflight = call, self._store.timeouts.transfer_deadline(len(chunk))
        return len(data)

    def _wait(self) -> None:
        """Re-raise the in-flight part's error here, in the writer's thread; at most its deadline."""
        if self._inflight is not None:
            (call, seconds), self._inflight = self._inflight, None
            self._store.settle(f"uploading part {self.shipped} of {self.key}", call, seconds, bucket_level=True)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:  # noqa: B027 - deliberately nothing: bytes leave in whole parts
        """Nothing to do: bytes leave in whole parts, and the object exists only once closed."""

    def __enter__(self) -> StoreUpload:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        """Complete the object, or abandon it when the block raised."""
        if exc_type is None:
            self.close()
        elif not self.closed:
            self.closed = True
            self._abandon()

    def close(self) -> None:
        """Ship the rest and complete the object; on failure abandon the upload so nothing half-written remains."""
        if self.closed:
            return
        self.closed = True
        try:
            self._wait()
            tail = bytes(self._buf)
            seconds = self._store.timeouts.transfer_deadline(len(tail))
            self._store.run(f"completing {self.key}", partial(self._finish, tail), seconds, bucket_level=True)
        except BaseException:
            self._abandon()  # the original error is the one worth reporting
            raise
        finally:
            self._buf = bytearray()

    def _abandon(self) -> None:
        """Let the in-flight part settle, then abort the upload; quietly, and not at all once the store is down."""
        with suppress(Exception):
            self._wait()
        with suppress(Exception):
            self._store.run(f"abandoning {self.key}", self._abort)
