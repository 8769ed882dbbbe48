"""Strip secrets from text before it reaches a log line, an error message or a written artifact.

A secret is masked as a whole and in fragments: any run of text made of `FRAGMENT`-character pieces of a
secret (raw, percent-encoded or decoded, JSON / repr escaped) becomes `***`, because drivers quote pieces of an
unencoded password when they mis-parse a URL (libpq quotes what follows a `?`, or takes what precedes a `/` as
a port). Secrets come from the call (`redact(text, [url])`) and from a process-wide registry filled where they
are resolved (`remember`): config loading, `SourceConfig.resolve_url`, `require_env`.

For a URL secret the fragment-masked parts are its password (between the first `:` of the userinfo and the
*last* `@`, so an unencoded `@ / ? #` stays inside it), the values of secret-looking query parameters and, for
http(s) webhooks, the last path segment; the whole URL, its query string and a webhook's path are masked only
verbatim. The user name, host, port and database name are not secrets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, quote_plus, unquote

MASK = "***"
FRAGMENT = 4  # no substring this long of a secret survives; shorter pieces carry too little to matter

# `scheme://user:password@host`: the password runs to the last `@` of the (whitespace/quote-free) token, so an
# unencoded `@` inside a password is still masked; over-masking an odd URL is preferred to leaking.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"<>]*:)"
    r"(?P<secret>[^\s'\"<>]+)"
    r"@(?=[^\s'\"<>@]*(?:[\s'\"<>]|$))"
)

# `password=...` in libpq/ODBC-style DSNs and URL query strings (`?sslpassword=x&...`), quoted or bare.
_KV_PASSWORD = re.compile(
    r"(?i)(?P<head>\b[a-z_]*(?:password|passwd|pwd)\s*=\s*)"
    r"(?P<secret>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&;,'\"]+)"
)

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_SECRET_PARAM = re.compile(r"pass|pwd|secret|token|key|auth|credential|signature|sig$", re.IGNORECASE)
_MIN_SECRET_LEN = 3


@dataclass
class _Masks:
    """What to mask: every `FRAGMENT`-gram of the fragment secrets, and literals masked only whole."""

    grams: set[str] = field(default_factory=set)
    literals: set[str] = field(default_factory=set)

    def add(self, secret: str) -> None:
        """Add one secret: a URL by its parts (see the module doc), anything else whole and in fragments."""
        if len(secret) < _MIN_SECRET_LEN:
            return
        if not _URL.match(secret):
            self._fragments(secret)
            return
        self._literal(secret)
        scheme, _, rest = secret.partition("://")
        userinfo, at, after = rest.rpartition("@")
        if at:
            self._fragments(userinfo.partition(":")[2])
        else:
            after = rest
        path, _, query = after.partition("?")
        self._literal(query)
        for key, value in parse_qsl(query, keep_blank_values=True):
            if _SECRET_PARAM.search(key):
                self._fragments(value)
        if scheme.lower() in ("http", "https") and "/" in path:
            self._literal(path[path.index("/") :])
            self._fragments(path.rstrip("/").rpartition("/")[2])

    def _literal(self, secret: str) -> None:
        self.literals.update(v for v in _variants(secret) if len(v) >= _MIN_SECRET_LEN)

    def _fragments(self, secret: str) -> None:
        if len(secret) < FRAGMENT:
            self._literal(secret)
            return
        for form in _variants(secret):
            self.grams.update(form[i : i + FRAGMENT] for i in range(len(form) - FRAGMENT + 1))

    def apply(self, text: str) -> str:
        """`text` with every covered run replaced by one `MASK`."""
        covered = bytearray(len(text) + 1)
        for literal in self.literals:
            start = text.find(literal)
            while start >= 0:
                covered[start : start + len(literal)] = b"\x01" * len(literal)
                start = text.find(literal, start + 1)
        if self.grams:
            for i in range(len(text) - FRAGMENT + 1):
                if text[i : i + FRAGMENT] in self.grams:
                    covered[i : i + FRAGMENT] = b"\x01" * FRAGMENT
        if not any(covered):
            return text
        out: list[str] = []
        for i, char in enumerate(text):
            if not covered[i]:
                out.append(char)
            elif i == 0 or not covered[i - 1]:
                out.append(MASK)
        return "".join(out)


def _variants(secret: str) -> set[str]:
    """The forms a secret takes in messages: raw, URL-decoded, percent-encoded, JSON and repr escaped."""
    forms = {secret, unquote(secret), quote(secret, safe=""), quote(secret, safe="/:@"), quote_plus(secret)}
    return forms | {json.dumps(f)[1:-1] for f in forms} | {repr(f)[1:-1] for f in forms}


_registered: list[str] = []
_registry = _Masks()


def remember(*secrets: str | None) -> None:
    """Register resolved secrets (a URL, a password, a key) for every later `redact` in this process."""
    for secret in secrets:
        if secret and secret not in _registered:
            _registered.append(secret)
            _registry.add(secret)


def forget_all() -> None:
    """Empty the registry (tests isolate themselves with it)."""
    global _registry
    _registered.clear()
    _registry = _Masks()


def redact_url(url: str) -> str:
    """Return `url` with the userinfo password and any `password=` query value replaced by `***`."""
    url = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", url)
    return _KV_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", url)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask URL passwords, DSN `password=` values, the given and the registered secrets in `text`.

    Secrets shorter than 3 characters are skipped (masking every `ab` protects nothing); one of 3 is masked
    only whole; from `FRAGMENT` (4) characters on, every 4-character piece of it is masked wherever it appears.
    """
    masks = _registry
    extra = [s for s in secrets if s and s not in _registered]
    if extra:
        masks = _Masks(set(_registry.grams), set(_registry.literals))
        for secret in extra:
            masks.add(secret)
    return redact_url(masks.apply(text))
