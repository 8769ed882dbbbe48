"""How long an object store may take: the defaults in one place, each overridable by an environment variable.

Every S3/GCS request has a connect timeout and a read timeout (per socket wait) handed to the SDK, and the SDK's
retries are bounded too (S3: `MAX_ATTEMPTS` attempts; GCS: retrying stops after the step deadline). On top, every
step runs under a total deadline measured from its start, whatever the SDK does: a request (manifest, `_SUCCESS`,
a delete, a listing) gets `step_deadline_s`; a step that moves N bytes (an upload part, a ranged read) gets
`step_deadline_s + N / MIN_TRANSFER_BYTES_PER_S`; a promotion's server-side copy of N bytes gets
`step_deadline_s + N / MIN_COPY_BYTES_PER_S`. A step past its deadline fails the run with a DestinationError naming
the bucket, the endpoint and the step; the store then counts as down for the rest of the run (later steps fail at
once with the same message) and the next run cleans up (docs/commit-protocol.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from rivet_core.errors import ConfigError

CONNECT_TIMEOUT_S = 10.0  # establishing one TCP (+TLS) connection
READ_TIMEOUT_S = 60.0  # one socket wait for bytes to be accepted or to arrive
STEP_DEADLINE_S = 120.0  # one request or commit step, retries included
MAX_ATTEMPTS = 5  # S3 attempts per request (botocore `standard` mode; AWS_MAX_ATTEMPTS overrides)
MIN_TRANSFER_BYTES_PER_S = 1 << 20  # the slowest upload/download rate a part's deadline allows for
MIN_COPY_BYTES_PER_S = 16 << 20  # the slowest server-side copy rate a promotion's deadline allows for

# Environment variables that override the defaults (seconds): field name -> variable.
ENV_OVERRIDES = {
    "connect_timeout_s": "RIVET_STORE_CONNECT_TIMEOUT_S",
    "read_timeout_s": "RIVET_STORE_READ_TIMEOUT_S",
    "step_deadline_s": "RIVET_STORE_STEP_DEADLINE_S",
}


@dataclass(frozen=True)
class StoreTimeouts:
    """The bounds of one object-store destination (seconds)."""

    connect_timeout_s: float = CONNECT_TIMEOUT_S
    read_timeout_s: float = READ_TIMEOUT_S
    step_deadline_s: float = STEP_DEADLINE_S

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StoreTimeouts:
        """The defaults, with any RIVET_STORE_* override found in `env` (a bad value is a ConfigError naming it)."""
        values: dict[str, float] = {}
        for field in fields(cls):
            name = ENV_OVERRIDES[field.name]
            if env.get(name):
                try:
                    values[field.name] = float(env[name])
                except ValueError:
                    raise ConfigError(f"{name}: expected a number of seconds, got {env[name]!r}") from None
                if values[field.name] <= 0:
                    raise ConfigError(f"{name}: must be a positive number of seconds")
        return cls(**values)

    @property
    def http(self) -> tuple[float, float]:
        """(connect, read) as the HTTP layers take them."""
        return self.connect_timeout_s, self.read_timeout_s

    def transfer_deadline(self, nbytes: int) -> float:
        """The total deadline of a step that uploads or downloads `nbytes`."""
        return self.step_deadline_s + nbytes / MIN_TRANSFER_BYTES_PER_S

    def copy_deadline(self, nbytes: int) -> float:
        """The total deadline of a server-side copy of `nbytes` (promotion)."""
        return self.step_deadline_s + nbytes / MIN_COPY_BYTES_PER_S
