"""Preflight (design §7, §9): `rivet doctor` (can rivet reach the source and write each destination?), `rivet
check` (how will each export load the database?) and the pooler/proxy warning every run starts with.

Nothing here exports data or prints a secret: errors come through the sources' and destinations' redacted
messages, and only `display_url()` forms of a connection are shown.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from rivet_core.config import Config, ExportConfig, parse_type_override
from rivet_core.destinations import open_destination
from rivet_core.errors import RivetError
from rivet_core.planning import base_query
from rivet_core.redact import redact
from rivet_core.sources import open_source, sql
from rivet_core.sources.catalog import Catalog, open_catalog
from rivet_core.sources.types import UnmappedColumn

log = logging.getLogger("rivet")

# Verdict thresholds (README "Production"): a table this large must not be scanned per run in production.
LARGE_TABLE_ROWS = 1_000_000
SPARSE_FACTOR = 10  # aligned key ranges per expected chunk beyond which a chunk key counts as sparse
VERDICTS = ("efficient", "acceptable", "degraded", "unsafe")
# Types read through their text form by design (§5: json, uuid, ISO-8601 intervals, enums): not lossy.
_TEXT_FORMS = {"json", "jsonb", "uuid", "interval", "enum"}


def detect_pooler(source: Any) -> str | None:
    """The source's pooler/proxy warning (design §9), None when there is none or the source cannot tell.

    A source without `pooler_warning()` cannot tell; a connection failure here is left to the export itself
    (it is retried there when transient).
    """
    detect = getattr(source, "pooler_warning", None)
    if detect is None:
        return None
    try:
        return detect()  # type: ignore[no-any-return]
    except RivetError as exc:
        log.debug("pooler detection skipped: %s", exc)
        return None


# -- doctor ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One doctor line: OK, WARN (advice; the exit code stays 0) or FAIL."""

    name: str
    status: str
    detail: str

    def line(self) -> str:
        return f"[{self.status}] {self.name}: {self.detail}"


def _loopback(host: str | None) -> bool:
    if not host or host.startswith("/") or host == "localhost":
        return True  # a Unix socket, or the local machine
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _source_url(config: Config) -> str:
    return config.source.resolve_url(config.base_dir)


def doctor(config: Config) -> list[Probe]:
    """Source reachable (version), read-only advice, TLS, pooler; each destination root written, read, deleted."""
    probes = source_probes(config)
    roots: dict[str, tuple[Any, list[str]]] = {}
    for export in config.exports:
        table = export.source_table[1] if export.source_table else export.name
        try:
            dest = open_destination(
                export.destination, export.name, table, "doctor", dt.datetime.now(dt.UTC), config.base_dir
            ).destination
        except Exception as exc:  # credentials that do not resolve, an unusable profile or file
            detail = f"{export.destination.type}: {_one_line(exc)}"
            probes.append(Probe(f"destination {export.name}", "FAIL", detail))
            continue
        roots.setdefault(dest.uri(), (dest, []))[1].append(export.name)
    probes += [destination_probe(dest, f"destination {', '.join(names)}") for dest, names in roots.values()]
    return probes


def source_probes(config: Config) -> list[Probe]:
    """The source probes; a source that cannot be reached yields that one FAIL line."""
    src = config.source
    where = src.display_url()
    try:
        url = _source_url(config)
        source = open_source(src, url, config.tuning_for(config.exports[0]))
        catalog = open_catalog(source)
    except RivetError as exc:
        return [Probe("source", "FAIL", f"{where}: {exc}")]
    try:
        probes = [Probe("source", "OK", f"{catalog.version()} at {where}")]
        privileges = catalog.privileges()
        if privileges.replica:
            probes.append(Probe("read-only", "OK", f"user {privileges.user}: the server is a read-only replica"))
        elif privileges.reasons:
            probes.append(
                Probe(
                    "read-only",
                    "WARN",
                    f"user {privileges.user} can write ({'; '.join(privileges.reasons)}); rivet only reads, inside "
                    "READ ONLY transactions — export with a role that holds SELECT only (README: Production)",
                )
            )
        else:
            probes.append(Probe("read-only", "OK", f"user {privileges.user} cannot write"))
        probes.append(tls_probe(config, catalog, url))
    except RivetError as exc:
        probes.append(Probe("source", "FAIL", f"{where}: {exc}"))
        return probes
    except Exception as exc:  # a catalog statement the server refused: one redacted line
        probes.append(Probe("source", "FAIL", f"{where}: {redact(str(exc).splitlines()[0], [url])}"))
        return probes
    finally:
        catalog.close()
    warning = detect_pooler(source)
    probes.append(Probe("pooler", "WARN", warning) if warning else Probe("pooler", "OK", "none detected"))
    return probes


def tls_probe(config: Config, catalog: Catalog, url: str) -> Probe:
    """TLS in effect on the connection; plain text is fine on loopback or `environment: local` only."""
    cipher = catalog.tls()
    if cipher:
        return Probe("tls", "OK", f"encrypted ({cipher})")
    try:
        host = urlsplit(url).hostname if "://" in url else config.source.host
    except ValueError:
        host = None
    if config.source.environment == "local" or _loopback(host):
        return Probe("tls", "OK", "not encrypted (local connection)")
    return Probe("tls", "WARN", "not encrypted; set source.tls.mode: verify-full (or require) for a remote database")


def destination_probe(dest: Any, name: str) -> Probe:
    """Write, read back and delete a probe object at a destination root, through the Destination protocol."""
    key, body = f"_rivet_doctor_{uuid.uuid4().hex[:12]}.probe", b"rivet doctor probe\n"
    try:
        dest.write_bytes(key, body)
        if dest.read_bytes(key) != body:
            return Probe(name, "FAIL", f"{dest.uri()}: the probe object read back differs")
        dest.delete(key)
        if dest.size(key) is not None:
            return Probe(name, "FAIL", f"{dest.uri()}: the probe object {key} could not be deleted")
    except Exception as exc:
        return Probe(name, "FAIL", f"{dest.uri()}: {_one_line(exc)}")
    return Probe(name, "OK", f"{dest.uri()} is writable (probe object written, read back and deleted)")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return redact(text.splitlines()[0] if text else type(exc).__name__)


# -- check -------------------------------------------------------------------------------------------------


@dataclass
class Report:
    """`rivet check` of one export (also the verdict and warnings a plan records)."""

    export: str
    mode: str
    source: str
    environment: str
    query: str = "ok"
    columns: list[dict[str, Any]] = field(default_factory=list)
    key: dict[str, Any] | None = None
    row_estimate: int | None = None
    row_estimate_from: str | None = None
    chunks: dict[str, Any] | None = None
    windows: int | None = None
    connections: dict[str, Any] | None = None
    verdict: str = "efficient"
    reasons: list[str] = field(default_factory=list)
    recommended_profile: str = "balanced"
    tuning: dict[str, Any] = field(default_factory=dict)
    destination: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[dict[str, Any]]:
        """Columns whose mapping is lossy or unsupported (`--strict` fails on them)."""
        return [c for c in self.columns if c.get("flag")]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def key_column(export: ExportConfig) -> tuple[str, str | None, str | None]:
    """(config field, column, fallback) of the column the export ranges over; column None for full/auto-chunk."""
    if export.mode == "incremental":
        fallback = export.cursor_fallback_column if export.incremental_cursor_mode == "coalesce" else None
        return "cursor_column", export.cursor_column, fallback
    if export.mode == "chunked":
        return "chunk_column", export.chunk_column, None
    if export.mode == "time_window":
        return "time_column", export.time_column, None
    return "", None, None


def check(config: Config, names: list[str]) -> list[Report]:
    """One report per export; a source that cannot be reached is an error in each."""
    return [check_export(config, config.export(name)) for name in names]


def check_export(config: Config, export: ExportConfig) -> Report:
    """Everything `rivet check` says about one export, without exporting a row."""
    tuning = config.tuning_for(export)
    environment = config.source.environment or "production (unset)"
    report = Report(
        export.name,
        export.mode,
        f"table {export.table}" if export.table else "query",
        environment,
        tuning=asdict(tuning),
    )
    report.destination = destination_credentials(config, export)
    if "error" in report.destination:
        report.errors.append(f"destination: {report.destination['error']}")
    try:
        source = open_source(config.source, _source_url(config), tuning)
        query = base_query(config, export)
        catalog = open_catalog(source)
    except RivetError as exc:
        report.query = "not checked"
        report.errors.append(str(exc))
        return report
    try:
        inspect(config, export, source, catalog, query, report)
    except Exception as exc:  # a rivet error, or a catalog statement the server refused
        message = str(exc) if isinstance(exc, RivetError) else _one_line(exc)
        report.errors.append(message)
        if report.query == "unresolved":
            report.query = f"failed: {message}"
    finally:
        catalog.close()
    decide(config, export, report)
    return report


def inspect(config: Config, export: ExportConfig, source: Any, catalog: Catalog, query: Any, report: Report) -> None:
    """Columns, key index, row estimate, chunk/window count and connection budget of one export."""
    overrides = {k: parse_type_override(v) for k, v in (export.columns or {}).items()}
    field_name, column, fallback = key_column(export)
    if export.mode == "chunked" and column is None and export.source_table:
        pk = source.primary_key(export.source_table)
        column = pk[0] if len(pk) == 1 else None
        if column is None:
            report.errors.append(f"exports[{export.name}].chunk_column: not set and no single-column primary key")
    report.query = "unresolved"
    with source.snapshot() as snap:
        report.columns = describe(snap, query, overrides, f"exports[{export.name}]")
        report.query = "ok"
        if export.source_table:
            report.row_estimate = catalog.table_rows(export.source_table)
            report.row_estimate_from = "statistics"
        if report.row_estimate is None:
            report.row_estimate = catalog.explain_rows(query)
            report.row_estimate_from = "EXPLAIN"
        if column:
            indexed = catalog.indexed(export.source_table, column, fallback) if export.source_table else None
            report.key = {
                "field": field_name,
                "column": column if not fallback else f"coalesce({column},{fallback})",
                "indexed": indexed if indexed is not None else "unknown",
            }
            if export.mode == "chunked":
                report.chunks = chunk_estimate(export, snap, query, column, report)
        if export.mode == "time_window":
            report.windows = export.window_count + 1
    budget = catalog.budget()
    needed = (export.parallel if export.mode == "chunked" else 1) + 1
    report.connections = {
        "needed": needed,
        "max_connections": budget.max_connections,
        "in_use": budget.used,
        "free": budget.free,
    }


def describe(snap: Any, query: Any, overrides: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """Each column's source and Arrow type, flagging unsupported (unbounded numeric) and lossy (text) mappings."""
    import pyarrow as pa

    flagged: dict[str, str] = {}
    while True:
        try:
            plans = snap.plan(query, {**overrides, **{c: pa.string() for c in flagged}}, path)
            break
        except UnmappedColumn as exc:
            if exc.column in flagged:
                raise
            flagged[exc.column] = f"unsupported: {exc} — the export fails until it has a columns: override"
    columns = []
    for p in plans:
        flag = flagged.get(p.name)
        if flag is None and p.name not in overrides and p.expr.endswith("::text") and p.source_type not in _TEXT_FORMS:
            flag = f"lossy: {p.source_type} has no Arrow type and is written as its text form"
        if flag is None and pa.types.is_list(p.arrow_type) and p.expr.endswith("::text[]"):
            flag = f"lossy: {p.source_type} elements are written as text"
        arrow = "(needs override)" if p.name in flagged else str(p.arrow_type)
        columns.append({"name": p.name, "source_type": p.source_type, "arrow_type": arrow, "flag": flag})
    return columns


def chunk_estimate(export: ExportConfig, snap: Any, query: Any, column: str, report: Report) -> dict[str, Any]:
    """How many chunks a run would plan (MIN/MAX only where an index or a small table makes it cheap)."""
    rows = report.row_estimate
    size = export.chunk_size or 100_000
    if report.key and report.key["indexed"] is False and (rows is None or rows >= LARGE_TABLE_ROWS):
        return {"estimate": None, "note": f"not computed: MIN/MAX of the unindexed {column} would scan the table"}
    lo, hi = sql.bounds(snap, query, column)
    out: dict[str, Any] = {"min": _plain(lo), "max": _plain(hi)}
    if lo is None:
        return {**out, "estimate": 0}
    if export.chunk_count:
        return {**out, "estimate": export.chunk_count}
    if export.chunk_by_days:
        days = (hi - lo).days if hasattr(hi - lo, "days") else 0
        return {**out, "estimate": days // export.chunk_by_days + 1}
    expected = max(1, -(-(rows or 0) // size))
    if export.chunk_dense or not isinstance(lo, int):
        return {**out, "estimate": expected}
    span = hi // size - lo // size + 1
    out["estimate"] = min(span, max(expected, rows or span))
    if span > SPARSE_FACTOR * expected:
        note = (
            f"sparse key {column}: {span} aligned ranges of {size} for ~{rows} rows; empty ranges are skipped by "
            "index seeks (work follows the non-empty chunks), chunk_dense gives ranges of equal row counts"
        )
        out["note"] = note
        report.warnings.append(note)
    return out


def _plain(value: Any) -> Any:
    iso = getattr(value, "isoformat", None)
    return iso() if iso else value


def decide(config: Config, export: ExportConfig, report: Report) -> None:
    """The verdict and recommended profile (rules: README "Production"); reasons say which rule fired."""
    production = config.source.environment in (None, "production")
    rows = report.row_estimate
    large = rows is not None and rows >= LARGE_TABLE_ROWS
    key = report.key
    found: dict[str, list[str]] = {v: [] for v in VERDICTS}
    if report.connections:
        c = report.connections
        if c["needed"] > c["free"]:
            found["unsafe"].append(f"needs {c['needed']} connections, {c['free']} free of {c['max_connections']}")
        elif c["free"] - c["needed"] < max(3, c["max_connections"] // 10):
            found["degraded"].append(f"leaves {c['free'] - c['needed']} of {c['max_connections']} connections free")
    if key and key["indexed"] is False:
        what = f"{key['field']} {key['column']} is not indexed"
        if large and production:
            found["unsafe"].append(f"{what} on a table of ~{rows} rows in production: every run scans it")
        else:
            found["degraded"].append(f"{what}: every {'chunk' if export.mode == 'chunked' else 'run'} scans the table")
    if key and key["indexed"] == "unknown":
        found["acceptable"].append(f"{key['field']} {key['column']}: index unknown for a query export")
    if export.mode == "full" and large and production:
        found["acceptable"].append(f"full export of ~{rows} rows holds one snapshot open for the whole run")
    if rows is None:
        found["acceptable"].append("no row estimate")
    if report.chunks and report.chunks.get("note", "").startswith("sparse"):
        found["acceptable"].append("sparse chunk key")
    report.verdict = next((v for v in reversed(VERDICTS) if found[v]), "efficient")
    report.reasons = found[report.verdict] or ["indexed key, statistics available, connections to spare"]
    environment = config.source.environment
    if environment == "local":
        report.recommended_profile = "fast"
    elif environment == "replica":
        report.recommended_profile = "fast" if report.verdict == "efficient" else "balanced"
    else:
        report.recommended_profile = "safe" if report.verdict in ("degraded", "unsafe") else "balanced"


def destination_credentials(config: Config, export: ExportConfig) -> dict[str, Any]:
    """Whether the export's destination credentials resolve (env vars set, files present), without a request."""
    d = export.destination
    if d.type == "local":
        return {"type": "local", "credentials": "none needed"}
    out: dict[str, Any] = {"type": d.type, "bucket": d.bucket}  # type: ignore[union-attr]
    table = export.source_table[1] if export.source_table else export.name
    try:
        open_destination(d, export.name, table, "check", dt.datetime.now(dt.UTC), config.base_dir)
    except RivetError as exc:
        return {**out, "error": str(exc)}
    except Exception as exc:
        return {**out, "error": _one_line(exc)}
    if d.type == "s3":
        if d.access_key_env:  # type: ignore[union-attr]
            return {**out, "credentials": f"keys from ${d.access_key_env} / ${d.secret_key_env}"}  # type: ignore[union-attr]
        if d.aws_profile:  # type: ignore[union-attr]
            return {**out, "credentials": f"aws_profile {d.aws_profile}"}  # type: ignore[union-attr]
        if d.allow_anonymous:  # type: ignore[union-attr]
            return {**out, "credentials": "anonymous (unsigned requests)"}
        import boto3

        if boto3.session.Session().get_credentials() is None:
            return {**out, "error": "no AWS credentials in the default chain (environment, shared files, role)"}
        return {**out, "credentials": "default AWS credential chain"}
    if d.credentials_file:  # type: ignore[union-attr]
        return {**out, "credentials": f"credentials_file {d.credentials_file}"}  # type: ignore[union-attr]
    return {**out, "credentials": "anonymous" if d.allow_anonymous else "application-default credentials"}  # type: ignore[union-attr]


def render(report: Report) -> str:
    """`rivet check` text for one export."""
    lines = [f"{report.export} ({report.mode}, {report.source}): {report.verdict.upper()}"]
    lines += [f"  verdict: {reason}" for reason in report.reasons]
    lines.append(f"  query: {report.query}")
    if report.row_estimate is not None:
        lines.append(f"  rows: ~{report.row_estimate} ({report.row_estimate_from})")
    if report.key:
        lines.append(f"  {report.key['field']}: {report.key['column']} indexed: {report.key['indexed']}")
    if report.chunks:
        lines.append(f"  chunks: {report.chunks.get('estimate')} {report.chunks.get('note', '')}".rstrip())
    if report.windows:
        lines.append(f"  windows per run: {report.windows}")
    if report.connections:
        c = report.connections
        lines.append(
            f"  connections: needs {c['needed']}, {c['free']} free ({c['in_use']} in use of {c['max_connections']})"
        )
    t = report.tuning
    lines.append(
        f"  tuning: profile {t['profile']} (recommended: {report.recommended_profile}), batch_size {t['batch_size']}, "
        f"throttle_ms {t['throttle_ms']}, statement_timeout_s {t['statement_timeout_s']}, lock_timeout_s "
        f"{t['lock_timeout_s']}, max_retries {t['max_retries']}, retry_backoff_ms {t['retry_backoff_ms']}, "
        f"memory_threshold_mb {t['memory_threshold_mb']}"
    )
    d = report.destination
    lines.append(f"  destination: {d['type']}, credentials: {d.get('credentials') or d.get('error')}")
    lines += [f"  column {c['name']}: {c['source_type']} -> {c['arrow_type']}" + (f"  [{c['flag']}]" if c["flag"]
              else "") for c in report.columns]  # fmt: skip
    lines += [f"  warning: {w}" for w in report.warnings]
    lines += [f"  error: {e}" for e in report.errors]
    return "\n".join(lines)
