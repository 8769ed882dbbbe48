"""Secrets never reach a message: URL userinfo passwords, DSN `password=` values, secrets whole and in fragments."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rivet_core.redact import FRAGMENT, MASK, forget_all, redact, redact_url, remember


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://u:secret@h:5432/d", "postgresql://u:***@h:5432/d"),
        ("mysql://root:p@ss@db/x and more", "mysql://root:***@db/x and more"),  # unencoded @: up to the last one
        ('host=h dbname=d password="q u o" user=u', "host=h dbname=d password=*** user=u"),
        ("PASSWORD = s3cr3t;", "PASSWORD = ***;"),
        ("sslpassword=abc&sslmode=require", "sslpassword=***&sslmode=require"),
        ("pwd=x1 passwd=x2", "pwd=*** passwd=***"),
        ("postgresql://reader@h/d", "postgresql://reader@h/d"),  # no password: unchanged
        ("s3://bucket/key", "s3://bucket/key"),
    ],
)
def test_redact_url_masks_passwords(text: str, expected: str) -> None:
    assert redact_url(text) == expected


def test_literal_secrets_masked_plain_and_percent_encoded() -> None:
    secret = "to ken/1"
    text = f"auth {secret} failed for https://h/?t={'to%20ken%2F1'}"
    assert redact(text, [secret]) == f"auth {MASK} failed for https://h/?t={MASK}"


def test_longer_secret_masked_before_its_prefix() -> None:
    assert redact("abcdef abc", ["abc", "abcdef"]) == f"{MASK} {MASK}"


def test_short_and_empty_secrets_are_not_masked() -> None:
    assert redact("ab is not a secret", ["ab", ""]) == "ab is not a secret"


def test_redact_without_secrets_still_masks_urls() -> None:
    assert redact("failed: postgresql://u:pw1@h/d") == "failed: postgresql://u:***@h/d"


@pytest.fixture(autouse=True)
def _empty_registry() -> Iterator[None]:
    forget_all()
    yield
    forget_all()


PG_URL = "postgresql://reader:Kx7q/Zr4w?Pm9v@127.0.0.1:5432/test"  # an unencoded / and ?, as a user may write it


@pytest.mark.parametrize(
    "message",
    [
        'invalid URI query parameter: "Pm9v@127.0.0.1:5432/test"',  # libpq: what follows the `?`
        'invalid integer value "Kx7q" for connection option "port"',  # libpq: what precedes the `/`
        "Unknown database 'Zr4w?Pm9v@127.0.0.1:5432/test'",  # urlsplit: the piece after the `/`
        "failed to resolve host 'Zr4w%3FPm9v@127.0.0.1'",  # a percent-encoded piece
        '{"error": "token \\"Kx7q/Zr4w\\" refused"}',  # JSON-escaped
    ],
)
def test_every_fragment_of_a_url_password_is_masked(message: str) -> None:
    out = redact(message, [PG_URL])
    assert not [p for p in ("Kx7q", "Zr4w", "Pm9v") if p in out], out
    assert MASK in out


def test_fragments_shorter_than_the_threshold_survive() -> None:
    assert FRAGMENT == 4
    assert redact("port ab refused", ["ab/cd?ef"]) == "port ab refused"
    assert redact("port abcd refused", ["abcd/efgh"]) == f"port {MASK} refused"


def test_adjacent_fragments_become_one_mask() -> None:
    assert redact("x Kx7qZr4w y", ["Kx7q/Zr4w"]) == f"x {MASK} y"


def test_url_user_host_port_and_database_are_not_secrets() -> None:
    message = 'password authentication failed for user "reader" at 127.0.0.1:5432, database test'
    assert redact(message, [PG_URL]) == message


def test_url_secret_query_values_are_masked_other_values_kept() -> None:
    url = "postgresql://u@h/d?sslmode=require&sslpassword=Qw8e-Rt5y"
    assert redact("passphrase Rt5y-Qw8e (Qw8e-Rt5y)", [url]) == f"passphrase {MASK}-{MASK} ({MASK})"
    assert redact("sslmode require is set", [url]) == "sslmode require is set"


def test_webhook_path_and_token_are_masked() -> None:
    hook = "https://hooks.slack.com/services/T0AAAA/B0BBBB/abcdEFGHijklMNOP"
    message = "Max retries exceeded with url: /services/T0AAAA/B0BBBB/abcdEFGHijklMNOP"
    assert redact(message, [hook]) == f"Max retries exceeded with url: {MASK}"
    assert redact("token ijklMNOP expired", [hook]) == f"token {MASK} expired"


def test_registered_secrets_mask_every_later_redaction() -> None:
    remember("Wq3n%Ht8y%Lb2d", None, "")
    assert redact('invalid percent-encoded token: "Wq3n%Ht8y%Lb2d"') == f'invalid percent-encoded token: "{MASK}"'
    assert redact("piece Ht8y%Lb") == f"piece {MASK}"
    forget_all()
    assert redact("piece Ht8y%Lb") == "piece Ht8y%Lb"


def test_a_plain_secret_is_masked_in_fragments_and_decoded_form() -> None:
    secret = "Ab3d%2FEf6h"  # holds a %-escape: a driver may print it decoded
    assert redact("got Ab3d/Ef6h and 3d%2FEf", [secret]) == f"got {MASK} and {MASK}"
