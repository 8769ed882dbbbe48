"""Writers: Arrow batches → Parquet or CSV parts, rolled at `max_file_size`, each hashed as it is written.

A writer never knows where its bytes go: it writes to a binary sink a destination opened (a local temp file, an
S3 multipart upload), through `HashingSink`, which counts and fingerprints every byte on the way.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Protocol, TypeVar, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rivet_core.config import ExportConfig
from rivet_core.config.output import DEFAULT_ROW_GROUP_MB
from rivet_core.destinations.base import Sink
from rivet_core.errors import RivetError

if TYPE_CHECKING:
    import polars as pl

# Parquet codec names per config `compression` value.
_PARQUET_CODECS = {"zstd": "zstd", "snappy": "snappy", "gzip": "gzip", "lz4": "lz4", "none": "none"}
# What an encoder raises on a value it cannot write (besides a Rust panic and Polars' errors); I/O errors are the
# destination's. Polars is imported by the CSV writer only (start-up: a Parquet run never loads it).
_ENCODE_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)
_Tabular = TypeVar("_Tabular", pa.RecordBatch, pa.Table)


class HashingSink:
    """A write-only file object that forwards to `inner` while counting bytes and computing sha256."""

    def __init__(self, inner: Sink) -> None:
        self.inner = inner
        self.bytes = 0
        self._hash = hashlib.sha256()
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        self._hash.update(data)
        self.bytes += len(data)
        self.inner.write(data)
        return len(data)

    def tell(self) -> int:
        return self.bytes

    def flush(self) -> None:
        self.inner.flush()

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.inner.close()

    @property
    def fingerprint(self) -> str:
        return "sha256:" + self._hash.hexdigest()


@dataclass
class WrittenPart:
    """One finished part: where it was written (temp key), its final name, rows, bytes, fingerprint."""

    temp_key: str
    final_key: str
    rows: int
    bytes: int
    fingerprint: str


@dataclass(frozen=True)
class FormatOptions:
    """What the writer needs from an export's config, resolved."""

    format: str
    compression: str = "zstd"
    compression_level: int | None = None
    row_group_rows: int | None = None
    row_group_bytes: int | None = DEFAULT_ROW_GROUP_MB << 20
    max_file_size: int | None = None

    @property
    def extension(self) -> str:
        if self.format == "parquet":
            return "parquet"
        return {"gzip": "csv.gz", "zstd": "csv.zst"}.get(self.compression, "csv")


def format_options(export: ExportConfig) -> FormatOptions:
    """Writer options from an export's config: codec and level as `ExportConfig.compression_choice` resolves them
    (a profile wins), row groups as `ExportConfig.row_groups` (fixed_rows counts rows only)."""
    choice = export.compression_choice
    sizing = export.row_groups
    group_bytes = sizing.bytes
    limit = export.max_file_size_bytes
    if limit:  # a part stays near its limit: a row group closes at half of it in every strategy
        group_bytes = min(group_bytes or limit, max(1 << 20, limit // 2))
    return FormatOptions(export.format, choice.codec, choice.level, sizing.rows, group_bytes, limit)


class PartWriter(Protocol):
    def write(self, batch: pa.RecordBatch) -> None: ...
    def close(self) -> None: ...


class ParquetPart:
    """One Parquet file; batches are gathered into row groups of the configured rows or bytes."""

    def __init__(self, sink: HashingSink, schema: pa.Schema, options: FormatOptions) -> None:
        self.sink = sink
        self.options = options
        self._schema = schema
        self._writer: pq.ParquetWriter | None = None  # opened at the first row group, which picks the dictionaries
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._pending_bytes = 0

    def write(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self._pending_bytes += batch.nbytes
        rows_full = self.options.row_group_rows is not None and self._pending_rows >= self.options.row_group_rows
        bytes_full = self.options.row_group_bytes is not None and self._pending_bytes >= self.options.row_group_bytes
        if rows_full or bytes_full:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            writer = self._writer or self._open(self._pending[0])
            writer.write_table(pa.Table.from_batches(self._pending), row_group_size=self._pending_rows)
            self._pending, self._pending_rows, self._pending_bytes = [], 0, 0

    def _open(self, first: pa.RecordBatch | None) -> pq.ParquetWriter:
        codec = _PARQUET_CODECS[self.options.compression]
        level = self.options.compression_level if codec != "none" else None
        dictionary = dictionary_columns(first) if first is not None else False
        self._writer = pq.ParquetWriter(
            self.sink, self._schema, compression=codec, compression_level=level, use_dictionary=dictionary
        )
        return self._writer

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    def close(self) -> None:
        self.flush()
        (self._writer or self._open(None)).close()
        self.sink.close()


DICTIONARY_MAX_DISTINCT = 0.1  # a column is dictionary-encoded when its first batch has at most 10% distinct values


def dictionary_columns(batch: pa.RecordBatch) -> list[str]:
    """The columns worth a Parquet dictionary, judged on a part's first batch: those that repeat their values.

    Arrow dictionary-encodes every column by default and falls back to plain once a dictionary page fills, which
    on unique values (keys, timestamps, free text) doubles the encode time and grows the file (bench/README.md)."""
    picked = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_boolean(column.type) or pa.types.is_nested(column.type) or len(column) == 0:
            continue
        try:
            distinct = pc.count_distinct(column, mode="all").as_py()
        except pa.ArrowNotImplementedError:  # a type Arrow cannot count: left plain
            continue
        if distinct <= DICTIONARY_MAX_DISTINCT * len(column):
            picked.append(name)
    return picked


class CsvPart:
    """One CSV file (RFC 4180, header, NULL as empty, ISO-8601 timestamps with µs); gzip/zstd when asked."""

    def __init__(self, sink: HashingSink, schema: pa.Schema, options: FormatOptions) -> None:
        self.sink = sink
        self._out: IO[bytes] = cast(IO[bytes], sink)
        self._encoded = options.compression in ("gzip", "zstd")  # a compressing stream sits between out and sink
        if options.compression == "gzip":
            level = options.compression_level or 6
            self._out = cast(IO[bytes], gzip.GzipFile(fileobj=cast(IO[bytes], sink), mode="wb", compresslevel=level))
        elif options.compression == "zstd":
            self._out = cast(IO[bytes], pa.CompressedOutputStream(sink, "zstd"))
        self._header = True
        self._schema = schema

    def write(self, batch: pa.RecordBatch) -> None:
        import polars as pl

        frame = csv_frame(pl.from_arrow(exact_decimals(batch)))  # type: ignore[arg-type]
        frame.write_csv(self._out, include_header=self._header, null_value="")
        self._header = False

    @property
    def pending_bytes(self) -> int:
        return 0

    def close(self) -> None:
        if self._header:  # an empty part still gets its header line
            import polars as pl

            empty = exact_decimals(self._schema.empty_table())
            csv_frame(pl.from_arrow(empty)).write_csv(self._out, include_header=True)  # type: ignore[arg-type]
        if self._encoded:
            self._out.close()
        self.sink.close()


def exact_decimals(data: _Tabular) -> _Tabular:
    """decimal256 columns (which Polars cannot import) as their exact digits, `-0.000…01` rather than `-1E-30`."""
    wide = [i for i, f in enumerate(data.schema) if pa.types.is_decimal256(f.type)]
    for i in wide:
        field = data.schema.field(i)
        data = data.set_column(i, field.name, decimal_text(data.column(i), field.type.scale))
    return data


def decimal_text(values: pa.Array | pa.ChunkedArray, scale: int) -> pa.Array | pa.ChunkedArray:
    """Decimal values as fixed-point text with `scale` digits after the point (Arrow writes tiny ones as `1E-30`)."""
    text = pc.cast(values, pa.string())
    scientific = pc.match_substring(text, "E")
    if scale == 0 or not pc.any(scientific).as_py():
        return text
    parts = pc.extract_regex(pc.if_else(scientific, text, pa.scalar("0E-0")), r"^(?P<sign>-?)(?P<digits>\d+)E-\d+$")
    digits = pc.utf8_lpad(pc.struct_field(parts, "digits"), scale, "0")
    fixed = pc.binary_join_element_wise(pc.struct_field(parts, "sign"), "0.", digits, "")
    return pc.if_else(scientific, fixed, text)


def csv_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Columns CSV cannot hold natively, as text: timestamps ISO-8601 with µs, lists as JSON, binary as hex,
    durations as MySQL writes a TIME (`-838:59:59.000000`), floats as 0.7.7 writes them (`float_text`)."""
    import polars as pl

    from rivet_core.float_text import float_column  # Polars-based: loaded with the CSV writer only

    exprs: list[pl.Expr | pl.Series] = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype in (pl.Float32, pl.Float64):
            if (text := float_column(frame.get_column(name))) is not None:
                exprs.append(text)
        elif isinstance(dtype, pl.Duration):
            exprs.append(_duration_text(col).alias(name))
        elif isinstance(dtype, pl.Datetime):
            fmt = "%Y-%m-%dT%H:%M:%S%.6f" + ("%:z" if dtype.time_zone else "")
            exprs.append(col.dt.to_string(fmt))
        elif isinstance(dtype, pl.Time):
            exprs.append(col.dt.to_string("%H:%M:%S%.6f"))
        elif isinstance(dtype, pl.List | pl.Array | pl.Struct):
            json = pl.struct(col.alias("v")).struct.json_encode().str.slice(5).str.head(-1)
            exprs.append(pl.when(col.is_null()).then(None).otherwise(json).alias(name))  # NULL stays an empty field
        elif dtype == pl.Binary:
            exprs.append(col.bin.encode("hex"))
    return frame.with_columns(exprs) if exprs else frame


def _duration_text(col: pl.Expr) -> pl.Expr:
    """`[-]H:MM:SS.ffffff` of a duration (MySQL TIME's own text form)."""
    import polars as pl

    us = col.dt.total_microseconds()
    size = us.abs()
    pieces = [(size // 3_600_000_000).cast(pl.String).str.zfill(2)]
    for unit in (60_000_000, 1_000_000):
        pieces.append(((size // unit) % 60).cast(pl.String).str.zfill(2))
    clock = pl.concat_str(pieces, separator=":")
    text = pl.concat_str([pl.when(us < 0).then(pl.lit("-")).otherwise(pl.lit("")), clock, pl.lit(".")])
    return pl.concat_str([text, (size % 1_000_000).cast(pl.String).str.zfill(6)])


def _encoder_failed(exc: BaseException) -> bool:
    """An error of Polars/Arrow on a value, or a Rust panic (`pyo3_runtime.PanicException`, a BaseException)."""
    polars = sys.modules.get("polars")  # not loaded: the error cannot be one of its
    polars_error = polars is not None and isinstance(exc, polars.exceptions.PolarsError)
    return polars_error or isinstance(exc, _ENCODE_ERRORS) or type(exc).__name__ == "PanicException"


def part_key(stem: str, extension: str, index: int | None) -> str:
    """A part's final name: `<stem>.<ext>` alone, `<stem>_part<index>.<ext>` when the output has several."""
    return f"{stem}.{extension}" if index is None else f"{stem}_part{index}.{extension}"


@dataclass
class RollingWriter:
    """Writes a stream of batches into `<stem>.<ext>`, or `<stem>_part0.<ext>`, `<stem>_part1.<ext>`, … when
    max_file_size rolls it into more than one part (0-based, as rivet-cli 0.7.7 names them).

    `open_sink(name)` returns (temp key, file object) for a part's final name; sizes are estimated from the
    compression ratio seen so far, so a part exceeds `max_file_size` by at most one row group.
    """

    schema: pa.Schema
    options: FormatOptions
    stem: str
    open_sink: Callable[[str], tuple[str, Sink]]
    parts: list[WrittenPart] = field(default_factory=list)
    rows: int = 0
    _part: ParquetPart | CsvPart | None = None
    _part_rows: int = 0
    _part_arrow: int = 0
    _closed_arrow: int = 0
    _temp_key: str = ""
    _final_key: str = ""

    def write(self, batch: pa.RecordBatch) -> None:
        if self._part is None:
            self._open()
        elif self._should_roll(batch):
            with self._boundary(None):
                self._close_part()
            self._open()
        assert self._part is not None
        with self._boundary(batch):
            self._part.write(batch)
        self._part_rows += batch.num_rows
        self._part_arrow += batch.nbytes
        self.rows += batch.num_rows

    def _should_roll(self, batch: pa.RecordBatch) -> bool:
        limit = self.options.max_file_size
        if limit is None or self._part is None or self._part_rows == 0:
            return False
        written = self._part.sink.bytes
        flushed_arrow = self._part_arrow - self._part.pending_bytes
        # bytes per Arrow byte, learned from this part's flushed row groups and every part closed before it
        seen_arrow = flushed_arrow + self._closed_arrow
        ratio = (written + sum(p.bytes for p in self.parts)) / seen_arrow if seen_arrow > 0 else 1.0
        return written + (self._part.pending_bytes + batch.nbytes) * ratio > limit

    def _open(self) -> None:
        index = len(self.parts)
        if index == 1:  # a second part: the first one's final name becomes `_part0` too (0.7.7's naming)
            self.parts[0].final_key = part_key(self.stem, self.options.extension, 0)
        self._final_key = part_key(self.stem, self.options.extension, index if index else None)
        self._temp_key, raw = self.open_sink(self._final_key)
        sink = HashingSink(raw)
        cls = ParquetPart if self.options.format == "parquet" else CsvPart
        self._part = cls(sink, self.schema, self.options)
        self._part_rows = 0
        self._part_arrow = 0

    def _close_part(self) -> None:
        assert self._part is not None
        self._part.close()
        sink = self._part.sink
        self.parts.append(WrittenPart(self._temp_key, self._final_key, self._part_rows, sink.bytes, sink.fingerprint))
        self._closed_arrow += self._part_arrow
        self._part = None

    def finish(self, write_empty: bool) -> list[WrittenPart]:
        """Close the last part; with no rows, write one empty part only if `write_empty`."""
        if self._part is None and write_empty and not self.parts:
            self._open()
        if self._part is not None:
            with self._boundary(None):
                self._close_part()
        return self.parts

    @contextmanager
    def _boundary(self, batch: pa.RecordBatch | None) -> Iterator[None]:
        """A value Polars/Arrow cannot encode (an Arrow error, or a Rust panic: a BaseException) as one
        RivetError naming the column when it can be found; the caller aborts the unit, nothing is visible."""
        try:
            yield
        except BaseException as exc:
            if not _encoder_failed(exc):
                raise
            where = self._failing_column(batch) if batch is not None else None
            line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise RivetError(f"cannot write {where or 'a batch'} as {self.options.format}: {line}") from None

    def _failing_column(self, batch: pa.RecordBatch) -> str | None:
        """`column 'x' (type)`: the first column that fails alone, written to memory (only on the error path)."""
        cls = ParquetPart if self.options.format == "parquet" else CsvPart
        for column in batch.schema:
            one = pa.record_batch([batch.column(column.name)], schema=pa.schema([column]))
            try:
                part = cls(HashingSink(io.BytesIO()), one.schema, self.options)
                part.write(one)
                part.close()
            except BaseException as exc:
                if not _encoder_failed(exc):
                    raise
                return f"column {column.name!r} ({column.type})"
        return None

    def abort(self) -> None:
        """Close the open part without recording it (its temp object is removed by the caller)."""
        if self._part is not None:
            try:
                self._part.close()  # finishes the encoder too, so nothing writes to a closed file later
            except BaseException as exc:
                if not (isinstance(exc, Exception) or _encoder_failed(exc)):
                    raise
                self._part.sink.close()
            finally:
                self._part = None
