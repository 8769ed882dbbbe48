"""Secrets never reach a message: URL userinfo passwords, DSN `password=` values, literal secrets."""

from __future__ import annotations

import pytest

from rivet_core.redact import MASK, redact, redact_url


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
