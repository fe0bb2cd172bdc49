"""The one-minute sliding window behind the sign-in and patient-link limits (issue 9, item 5).

Expectations by hand: with 3 a minute, requests at 0 s, 10 s and 20 s pass; at 30 s the oldest
frees its slot at 60 s, so the answer is "retry in 30 s"; at 60 s exactly the request of 0 s
is a minute old and no longer counts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ketaclinic.policy import DEFAULT, parse
from ketaclinic.web import rate_limits
from ketaclinic.web.rate_limits import RateLimit, TooManyRequests

T0 = datetime(2026, 11, 1, 9, 0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def refused_after(limit: RateLimit, key: str, moment: datetime) -> int:
    """The Retry-After of a refused knock (the test fails if it is let through)."""
    with pytest.raises(TooManyRequests) as refused:
        limit.knock(key, moment)
    return refused.value.retry_after


def test_the_limit_lets_through_as_many_as_it_allows_in_a_minute_then_refuses() -> None:
    limit = RateLimit("requests", 3)
    for second in (0, 10, 20):
        limit.knock("203.0.113.5", at(second))
    assert refused_after(limit, "203.0.113.5", at(30)) == 30


def test_retry_after_is_whole_seconds_rounded_up_and_never_zero() -> None:
    limit = RateLimit("requests", 1)
    limit.knock("a", at(0))
    assert refused_after(limit, "a", at(0.5)) == 60  # 59.5 s left: 60
    assert refused_after(limit, "a", at(59.5)) == 1  # 0.5 s left: 1, not 0
    assert refused_after(limit, "a", at(59.999)) == 1


def test_a_request_a_minute_old_no_longer_counts() -> None:
    limit = RateLimit("requests", 3)
    for second in (0, 10, 20):
        limit.knock("a", at(second))
    limit.knock("a", at(60))  # the one of 0 s has left the window
    # Now 10 s, 20 s and 60 s count: the next slot frees at 70 s.
    assert refused_after(limit, "a", at(60)) == 10
    limit.knock("a", at(70))


def test_refused_requests_are_not_counted() -> None:
    """Otherwise a client retrying too early would push its own window on for ever."""
    limit = RateLimit("requests", 2)
    limit.knock("a", at(0))
    limit.knock("a", at(1))
    for second in range(2, 60):
        refused_after(limit, "a", at(second))
    limit.knock("a", at(60))
    limit.knock("a", at(61))


def test_each_address_has_its_own_window() -> None:
    limit = RateLimit("requests", 2)
    limit.knock("198.51.100.1", at(0))
    limit.knock("198.51.100.1", at(0))
    refused_after(limit, "198.51.100.1", at(0))
    limit.knock("198.51.100.2", at(0))
    limit.knock("198.51.100.2", at(0))


def test_the_refusal_names_what_was_limited_and_when_to_retry() -> None:
    limit = RateLimit("requests for patient links", 1)
    limit.knock("a", at(0))
    with pytest.raises(TooManyRequests) as refused:
        limit.knock("a", at(15))
    assert refused.value.message == (
        "Too many requests for patient links from this address. Try again in 45 s."
    )


def test_forgotten_addresses_are_swept_once_the_table_grows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rate_limits, "SWEEP_AT", 2)
    limit = RateLimit("requests", 5)
    for key in ("a", "b", "c"):
        limit.knock(key, at(0))
    limit.knock("d", at(30))  # a, b, c are still inside their minute: all kept
    assert sorted(limit._seen) == ["a", "b", "c", "d"]
    limit.knock("e", at(61))  # a, b and c are over a minute old: forgotten
    assert sorted(limit._seen) == ["d", "e"]
    # A forgotten address starts afresh, with its whole allowance.
    for _ in range(5):
        limit.knock("a", at(62))
    refused_after(limit, "a", at(62))


def test_the_limits_come_from_the_policy() -> None:
    default = rate_limits.for_policy(DEFAULT)
    assert (default["sign_in"].per_minute, default["self_report"].per_minute) == (10, 30)
    chosen = parse(
        "[access]\nsign_in_attempts_per_minute = 4\nself_report_requests_per_minute = 7\n"
    )
    limits = rate_limits.for_policy(chosen)
    assert (limits["sign_in"].per_minute, limits["self_report"].per_minute) == (4, 7)
