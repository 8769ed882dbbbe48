"""`rivet doctor`: can rivet reach the source (version, read-only role, TLS, pooler) and write each destination."""

from __future__ import annotations

import ipaddress
import uuid
from urllib.parse import urlsplit

from rivet_core.config import Config
from rivet_core.destinations.base import Destination
from rivet_core.errors import RivetError
from rivet_core.preflight.common import export_destination, one_line
from rivet_core.preflight.pooler import detect_pooler
from rivet_core.preflight.report import ProbeResult
from rivet_core.redact import redact
from rivet_core.sources import open_source
from rivet_core.sources.catalog import Catalog, Privileges, open_catalog


def doctor(config: Config) -> list[ProbeResult]:
    """Source reachable (version), read-only advice, TLS, pooler; each destination root written, read, deleted."""
    probes = source_probes(config)
    roots: dict[str, tuple[Destination, list[str]]] = {}
    for export in config.exports:
        try:
            dest = export_destination(config, export, "doctor")
        except Exception as exc:  # credentials that do not resolve, an unusable profile or file
            detail = f"{export.destination.type}: {one_line(exc)}"
            probes.append(ProbeResult(f"destination {export.name}", "FAIL", detail))
            continue
        roots.setdefault(dest.uri(), (dest, []))[1].append(export.name)
    probes += [destination_probe(dest, f"destination {', '.join(names)}") for dest, names in roots.values()]
    return probes


def source_probes(config: Config) -> list[ProbeResult]:
    """The source probes; a source that cannot be reached yields that one FAIL line."""
    where = config.source.display_url()
    try:
        url = config.source.resolve_url(config.base_dir)
        source = open_source(config.source, url, config.tuning_for(config.exports[0]))
        catalog = open_catalog(source)
    except RivetError as exc:
        return [ProbeResult("source", "FAIL", f"{where}: {exc}")]
    probes: list[ProbeResult] = []
    try:
        probes.append(ProbeResult("source", "OK", f"{catalog.version()} at {where}"))
        probes.append(read_only_probe(catalog.privileges()))
        probes.append(tls_probe(config, catalog, url))
    except RivetError as exc:
        probes.append(ProbeResult("source", "FAIL", f"{where}: {exc}"))
        return probes
    except Exception as exc:  # a catalog statement the server refused: one redacted line
        probes.append(ProbeResult("source", "FAIL", f"{where}: {redact(str(exc).splitlines()[0], [url])}"))
        return probes
    finally:
        catalog.close()
    warning = detect_pooler(source)
    probes.append(ProbeResult("pooler", "WARN", warning) if warning else ProbeResult("pooler", "OK", "none detected"))
    return probes


def read_only_probe(privileges: Privileges) -> ProbeResult:
    """OK on a replica or a role that cannot write; WARN (advice) when the role could write."""
    if privileges.replica:
        return ProbeResult("read-only", "OK", f"user {privileges.user}: the server is a read-only replica")
    if privileges.reasons:
        return ProbeResult(
            "read-only",
            "WARN",
            f"user {privileges.user} can write ({'; '.join(privileges.reasons)}); rivet only reads, inside "
            "READ ONLY transactions — export with a role that holds SELECT only (README: Production)",
        )
    return ProbeResult("read-only", "OK", f"user {privileges.user} cannot write")


def _loopback(host: str | None) -> bool:
    if not host or host.startswith("/") or host == "localhost":
        return True  # a Unix socket, or the local machine
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_probe(config: Config, catalog: Catalog, url: str) -> ProbeResult:
    """TLS in effect on the connection; plain text is fine on loopback or `environment: local` only."""
    cipher = catalog.tls()
    if cipher:
        return ProbeResult("tls", "OK", f"encrypted ({cipher})")
    try:
        host = urlsplit(url).hostname if "://" in url else config.source.host
    except ValueError:
        host = None
    if config.source.environment == "local" or _loopback(host):
        return ProbeResult("tls", "OK", "not encrypted (local connection)")
    return ProbeResult(
        "tls", "WARN", "not encrypted; set source.tls.mode: verify-full (or require) for a remote database"
    )


def destination_probe(dest: Destination, name: str) -> ProbeResult:
    """Write, read back and delete a probe object at a destination root, through the Destination protocol."""
    key, body = f"_rivet_doctor_{uuid.uuid4().hex[:12]}.probe", b"rivet doctor probe\n"
    try:
        dest.write_bytes(key, body)
        if dest.read_bytes(key) != body:
            return ProbeResult(name, "FAIL", f"{dest.uri()}: the probe object read back differs")
        dest.delete(key)
        if dest.size(key) is not None:
            return ProbeResult(name, "FAIL", f"{dest.uri()}: the probe object {key} could not be deleted")
    except Exception as exc:
        return ProbeResult(name, "FAIL", f"{dest.uri()}: {one_line(exc)}")
    return ProbeResult(name, "OK", f"{dest.uri()} is writable (probe object written, read back and deleted)")
