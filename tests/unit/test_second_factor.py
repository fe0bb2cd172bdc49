"""The second factor's parts that need no database: who is asked, the secret's display, and
which time step a code belongs to. Codes are checked against RFC 6238's own test values."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from ketaclinic.policy import DEFAULT, Access
from ketaclinic.services import second_factor

# RFC 6238, Appendix B: the SHA-1 key is the ASCII "12345678901234567890"; the codes there have
# 8 digits, whose last 6 are the 6-digit code at the same moment.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
RFC_CODES = [
    (datetime(1970, 1, 1, 0, 0, 59), "287082", 1),  # 94287082
    (datetime(2005, 3, 18, 1, 58, 29), "081804", 37037036),  # 1111111109 s: 07081804
    (datetime(2009, 2, 13, 23, 31, 30), "005924", 41152263),  # 1234567890 s: 89005924
    (datetime(2033, 5, 18, 3, 33, 20), "279037", 66666666),  # 2000000000 s: 69279037
]


@pytest.mark.parametrize(
    ("role", "prescribers", "admins", "asked"),
    [
        ("prescriber", True, True, True),
        ("admin", True, True, True),
        ("nurse", True, True, False),
        ("front_desk", True, True, False),
        ("prescriber", False, True, False),
        ("admin", True, False, False),
        ("admin", False, True, True),
        ("prescriber", True, False, True),
    ],
)
def test_who_is_asked_for_a_second_factor(
    role: str, prescribers: bool, admins: bool, asked: bool
) -> None:
    access = Access(second_factor_prescribers=prescribers, second_factor_admins=admins)
    assert second_factor.needed(role, access) is asked


def test_the_default_policy_asks_prescribers_and_admins() -> None:
    roles = ("prescriber", "nurse", "front_desk", "admin")
    asked = {role for role in roles if second_factor.needed(role, DEFAULT.access)}
    assert asked == {"prescriber", "admin"}


def test_a_new_secret_is_160_random_bits_of_base32() -> None:
    made = {second_factor.new_secret() for _ in range(20)}
    assert len(made) == 20
    for secret in made:
        assert len(secret) == 32
        assert set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def test_the_secret_is_shown_in_groups_of_four() -> None:
    assert second_factor.grouped(RFC_SECRET) == "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
    assert second_factor.grouped("ABCDEF") == "ABCD EF"


def test_the_enrolment_address_names_the_issuer_and_the_user() -> None:
    assert second_factor.enrolment_uri(RFC_SECRET, "pete") == (
        f"otpauth://totp/ketaclinic:pete?secret={RFC_SECRET}&issuer=ketaclinic"
    )


@pytest.mark.parametrize(("moment", "code", "step"), RFC_CODES)
def test_a_code_belongs_to_its_time_step(moment: datetime, code: str, step: int) -> None:
    assert second_factor.step_of(RFC_SECRET, code, moment) == step


@pytest.fixture
def far_from_utc() -> Iterator[None]:
    """The process in a time zone 5.5 hours from UTC: naive times must still be read as UTC."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Asia/Kolkata")
        time.tzset()
        yield
    time.tzset()


def test_the_clock_s_naive_times_are_read_as_utc_whatever_the_local_zone(
    far_from_utc: None,
) -> None:
    moment, code, step = RFC_CODES[2]
    assert second_factor.step_of(RFC_SECRET, code, moment) == step


def test_the_step_before_and_after_are_accepted_not_further() -> None:
    # 1111111109 s is the last second of step 37037036 (1111111080 to 1111111109).
    moment, code, step = RFC_CODES[1]
    assert second_factor.step_of(RFC_SECRET, code, moment + timedelta(seconds=30)) == step
    assert second_factor.step_of(RFC_SECRET, code, moment + timedelta(seconds=31)) is None
    assert second_factor.step_of(RFC_SECRET, code, moment - timedelta(seconds=59)) == step
    assert second_factor.step_of(RFC_SECRET, code, moment - timedelta(seconds=60)) is None


@pytest.mark.parametrize("typed", ["081 804", "081-804", " 081804 "])
def test_spaces_and_dashes_in_a_code_are_ignored(typed: str) -> None:
    moment, _, step = RFC_CODES[1]
    assert second_factor.step_of(RFC_SECRET, typed, moment) == step


@pytest.mark.parametrize("typed", ["", "81804", "0818040", "08180a", "081804\n1", "٠٨١٨٠٤"])
def test_anything_but_six_digits_is_no_code(typed: str) -> None:
    moment, _, _ = RFC_CODES[1]
    assert second_factor.step_of(RFC_SECRET, typed, moment) is None
