"""How often one address may knock: sign-in attempts and patients' links (issue 9).

A sliding window of one minute per (purpose, address), kept in the server's memory: the
limits exist to slow guessing of passwords and link tokens, and a restart forgetting them does
no harm (the account lockout in services.users is kept in the database). Time comes from the
app's clock, so tests move a FixedClock instead of waiting.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from datetime import datetime, timedelta

from fastapi import Request

from ketaclinic.policy import Policy
from ketaclinic.web import state

WINDOW = timedelta(minutes=1)
# Addresses forgotten once their window is empty; the table is swept when it grows past this.
SWEEP_AT = 10_000


class TooManyRequests(Exception):
    """Over the limit: HTTP 429 with Retry-After (whole seconds until a slot frees)."""

    def __init__(self, what: str, retry_after: int) -> None:
        super().__init__(f"Too many {what} from this address. Try again in {retry_after} s.")
        self.message = str(self)
        self.retry_after = retry_after


class RateLimit:
    """At most ``per_minute`` requests per key in any minute."""

    def __init__(self, what: str, per_minute: int) -> None:
        self.what = what
        self.per_minute = per_minute
        self._seen: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def knock(self, key: str, now: datetime) -> None:
        """Count one request for ``key`` at ``now``, or raise TooManyRequests (not counted)."""
        with self._lock:
            times = self._seen.setdefault(key, deque())
            while times and now - times[0] >= WINDOW:
                times.popleft()
            if len(times) >= self.per_minute:
                wait = (times[0] + WINDOW - now).total_seconds()
                raise TooManyRequests(self.what, max(1, math.ceil(wait)))
            times.append(now)
            if len(self._seen) > SWEEP_AT:
                self._sweep(now)

    def _sweep(self, now: datetime) -> None:
        for key in [k for k, t in self._seen.items() if not t or now - t[-1] >= WINDOW]:
            del self._seen[key]


def for_policy(policy: Policy) -> dict[str, RateLimit]:
    """The app's limits by purpose; create_app keeps them on ``app.state.rate_limits``."""
    access = policy.access
    return {
        "sign_in": RateLimit("sign-in attempts", access.sign_in_attempts_per_minute),
        "self_report": RateLimit(
            "requests for patient links", access.self_report_requests_per_minute
        ),
    }


def knock(request: Request, purpose: str) -> None:
    """Count this request against its address's limit for ``purpose`` (sign_in, self_report)."""
    address = state.client_address(request) or "unknown"
    found: dict[str, RateLimit] = request.app.state.rate_limits
    found[purpose].knock(address, state.clock(request).now())
