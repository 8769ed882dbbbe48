"""The manifest: a committed unit's record (`units/<unit>/manifest.json`), typed, with one JSON encoding.

The JSON keys are those of every manifest written so far, so existing units stay readable (docs/commit-protocol.md).
"""

from __future__ import annotations

import builtins
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from rivet_core.slices import Slice, decode_value, encode_value
from rivet_core.writers import WrittenPart


@dataclass(frozen=True)
class Part:
    """One data file of a unit at its final key."""

    key: str
    rows: int
    bytes: int
    fingerprint: str

    @classmethod
    def of(cls, part: WrittenPart) -> Part:
        return cls(part.final_key, part.rows, part.bytes, part.fingerprint)


@dataclass(frozen=True)
class Cursor:
    """The cursor an incremental unit reached: the coalesce-aware column label and its last value."""

    column: str
    value: Any

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "value": encode_value(self.value)}


def schema_json(schema: pa.Schema) -> list[dict[str, str]]:
    """A written schema as `[{"name", "type"}]`."""
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def schema_fingerprint(schema: pa.Schema) -> str:
    text = ",".join(f"{f.name}:{f.type}" for f in schema)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Manifest:
    """What a unit holds and how it was made; `commit` fills in unit id, counts and parts."""

    rivet_version: str
    run_id: str
    export: str
    created_at: str
    source: dict[str, Any]
    destination: str
    format: str
    compression: str
    schema: list[dict[str, str]]
    slice: Slice
    schema_fingerprint: str | None = None
    replaces_slice: bool = False  # a window, or a chunk asked for by key: older units of the slice are replaced
    chunk_run: str | None = None  # the checkpointed run that wrote it (--resume trusts it over the checkpoint)
    cursor: Cursor | None = None
    status: str = "committed"
    unit_id: str = ""
    row_count: int = 0
    bytes: int = 0
    parts: list[Part] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "rivet_version": self.rivet_version,
            "run_id": self.run_id,
            "export": self.export,
            "created_at": self.created_at,
            "source": self.source,
            "destination": self.destination,
            "format": self.format,
            "compression": self.compression,
            "schema": self.schema,
            "slice": self.slice.to_json(),
            "status": self.status,
            "unit_id": self.unit_id,
            "row_count": self.row_count,
            "bytes": self.bytes,
            "parts": [
                {"key": p.key, "rows": p.rows, "bytes": p.bytes, "fingerprint": p.fingerprint} for p in self.parts
            ],
        }
        if self.schema_fingerprint:
            doc["schema_fingerprint"] = self.schema_fingerprint
        if self.replaces_slice:
            doc["replaces_slice"] = True
        if self.chunk_run:
            doc["chunk_run"] = self.chunk_run
        if self.cursor:
            doc["cursor"] = self.cursor.to_json()
        return doc

    def dumps(self) -> builtins.bytes:
        """The manifest file's bytes (sorted keys, indented)."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True, default=str).encode()

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Manifest:
        cursor = doc.get("cursor")
        return cls(
            rivet_version=doc.get("rivet_version", ""),
            run_id=doc["run_id"],
            export=doc["export"],
            created_at=doc.get("created_at", ""),
            source=doc.get("source", {}),
            destination=doc.get("destination", ""),
            format=doc["format"],
            compression=doc.get("compression", ""),
            schema=doc.get("schema", []),
            slice=Slice.from_json(doc["slice"]),
            schema_fingerprint=doc.get("schema_fingerprint"),
            replaces_slice=bool(doc.get("replaces_slice")),
            chunk_run=doc.get("chunk_run"),
            cursor=Cursor(cursor["column"], decode_value(cursor["value"])) if cursor else None,
            status=doc.get("status", "committed"),
            unit_id=doc["unit_id"],
            row_count=doc["row_count"],
            bytes=doc["bytes"],
            parts=[Part(p["key"], p["rows"], p["bytes"], p["fingerprint"]) for p in doc["parts"]],
        )

    @classmethod
    def loads(cls, body: builtins.bytes) -> Manifest:
        return cls.from_json(json.loads(body))
