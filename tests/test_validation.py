"""`Email` answers exactly as pydantic's `EmailStr`: the same normal form, the same errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import EmailStr, TypeAdapter, ValidationError

from pulsecrm.validation import Email

FAST = TypeAdapter(Email)
REFERENCE = TypeAdapter(EmailStr)

LOCALS = st.one_of(
    st.from_regex(r"[a-z0-9._%+-]{1,20}", fullmatch=True),
    st.sampled_from(["Info", "SUPPORT", "postmaster", "a..b", ".a", "a.", '"quoted"', "ünï", "x" * 70]),
    st.text(min_size=0, max_size=12),
)
DOMAINS = st.one_of(
    st.sampled_from(
        [
            "gmail.com",
            "example.com",
            "Example.COM",
            "localhost",
            "mail.test",
            "host.local",
            "x.invalid",
            "a.b",
            "1.23",
            "xn--bcher-kva.de",
            "bücher.de",
            "-bad.com",
            "bad-.com",
            "a..com",
            "[127.0.0.1]",
            "sub.domain.co.in",
            ("a" * 63 + ".") * 4 + "com",
        ]
    ),
    st.from_regex(r"[a-z0-9.-]{1,30}", fullmatch=True),
)


def answer(adapter: TypeAdapter[str], value: str) -> tuple[str, str]:
    try:
        return "ok", adapter.validate_python(value)
    except ValidationError as exc:
        return "error", exc.errors(include_url=False)[0]["msg"]


@settings(max_examples=600, deadline=None)
@given(LOCALS, DOMAINS)
def test_addresses_are_read_as_email_validator_reads_them(local: str, domain: str) -> None:
    value = f"{local}@{domain}"
    assert answer(FAST, value) == answer(REFERENCE, value)


@pytest.mark.parametrize(
    "value",
    [
        "Asha <asha@example.com>",
        " asha@example.com ",
        "asha@example.com\n",
        "INFO@example.com",
        "asha@@example.com",
        "asha",
        "",
        "a" * 250 + "@example.com",
    ],
)
def test_forms_outside_the_plain_one_take_the_full_check(value: str) -> None:
    assert answer(FAST, value) == answer(REFERENCE, value)
