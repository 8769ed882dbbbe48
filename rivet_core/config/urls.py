"""Shape checks of a connection URL, before any driver sees it.

Messages name what is wrong (scheme, host, port, database, length) and never quote the URL: its userinfo
and query may hold a password.
"""

from __future__ import annotations

import ipaddress
import re

from rivet_core.config.aliases import URL_SCHEMES

MAX_URL_LENGTH = 8192
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]{0,31}$")
_HOST = re.compile(r"^[A-Za-z0-9._~%!$&'()*+;=\-]*$")  # RFC 3986 reg-name (percent-encoded socket paths too)
_ENCODE_HINT = "percent-encode / ? # @ : in the user name and password"


def url_problem(url: str, source_type: str) -> str | None:
    """What is wrong with `url` for a `source.type` source, or None; the text never contains the URL."""
    if len(url) > MAX_URL_LENGTH:
        return f"longer than {MAX_URL_LENGTH} characters"
    if any(ch in url for ch in "\r\n\t\x00"):
        return "must be one line without control characters"
    scheme, sep, rest = url.strip().partition("://")
    schemes = URL_SCHEMES[source_type]
    expected = f"{schemes[0]}://user@host:port/database"
    if not sep or not _SCHEME.match(scheme):
        return f"not a URL: expected {expected}"
    if scheme.lower() not in schemes:
        allowed = " or ".join(f"{s}://" for s in schemes)
        return f"scheme {scheme}:// does not match source.type {source_type} (use {allowed})"
    authority, path = _split_authority(rest)
    hosts = authority.rpartition("@")[2]
    for host in hosts.split(",") if source_type == "postgres" else [hosts]:
        if problem := _host_problem(host):
            return problem
    database = path.lstrip("/")
    if any(ch.isspace() for ch in database):
        return "the database name contains a space; percent-encode it (%20) if it is part of the name"
    return None


def _split_authority(rest: str) -> tuple[str, str]:
    """(authority, path) of what follows `scheme://`; the query and fragment are dropped."""
    end = len(rest)
    for mark in "/?#":
        if (i := rest.find(mark)) >= 0:
            end = min(end, i)
    path = rest[end:]
    for mark in "?#":
        path = path.split(mark, 1)[0]
    return rest[:end], path


def _host_problem(hostport: str) -> str | None:
    """What is wrong with one `host[:port]` (IPv6 literals in brackets), or None."""
    if hostport.startswith("["):
        inside, closed, after = hostport[1:].partition("]")
        if not closed:
            return "malformed IPv6 host: '[' without ']'"
        try:
            ipaddress.IPv6Address(inside.split("%", 1)[0])
        except ValueError:
            return "malformed IPv6 host: not an IPv6 address inside [ ]"
        if after and not after.startswith(":"):
            return "malformed IPv6 host: only :port may follow ']'"
        port = after[1:] if after else ""
    else:
        if hostport.count(":") > 1:
            return "malformed host: write an IPv6 address in brackets, e.g. [::1]:5432"
        host, _, port = hostport.partition(":")
        if not _HOST.match(host):
            return f"malformed host: letters, digits and - . _ % only ({_ENCODE_HINT})"
    if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        return f"the port must be a number 1..65535 ({_ENCODE_HINT})"
    return None
