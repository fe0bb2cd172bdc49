"""The second factor: a six-digit code from an authenticator app (TOTP, RFC 6238), asked of
prescribers and admins after their password when the clinic's policy says so (policy section
``access``: DEA EPCS asks two factors of who prescribes controlled substances; NIST SP 800-63B
AAL2 of who manages accounts).

A user without a secret enrols at their next sign-in: a new random secret is shown, and it is
stored on the account only once a code from it is typed back, so a mistyped secret cannot
lock anyone out. Codes are checked against the injected clock, the step before and after
included (drift, typing time). A code's time step is kept: the same code, or an older one,
is refused afterwards (RFC 6238, section 5.2). Wrong codes count toward the password lockout.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyotp
from sqlalchemy.orm import Session

from ketaclinic.policy import Access
from ketaclinic.services import audit, pending_sign_ins, users
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Forbidden
from ketaclinic.store.models import PendingSignIn, User

ISSUER = "ketaclinic"
# One step (30 s) either side of now: pyotp's valid_window.
VALID_WINDOW = 1
SECRET_CHARACTERS = 32  # base32: 160 bits, the HMAC-SHA1 key length RFC 4226 recommends
CODE = re.compile(r"[0-9]{6}")
SEPARATORS = re.compile(r"[\s-]")


# What needs no database.


def needed(role: str, access: Access) -> bool:
    """Whether this role signs in with a second factor under the clinic's policy."""
    if role == "prescriber":
        return access.second_factor_prescribers
    if role == "admin":
        return access.second_factor_admins
    return False


def new_secret() -> str:
    """A random base32 secret (pyotp draws from the operating system's random source)."""
    return pyotp.random_base32(SECRET_CHARACTERS)


def grouped(secret: str) -> str:
    """The secret in groups of four, as it is easiest to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def enrolment_uri(secret: str, username: str) -> str:
    """The otpauth:// address an authenticator app reads (Key Uri Format)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def step_of(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code this is, within one step of ``now`` (naive UTC, as the clock
    gives it); None when it matches none. Spaces and dashes in the code are ignored."""
    typed = SEPARATORS.sub("", code)
    if not CODE.fullmatch(typed):
        return None
    # pyotp reads a naive datetime as local time: say that ours is UTC.
    moment = now.replace(tzinfo=UTC)
    try:
        return pyotp.TOTP(secret).verify_and_get_timecode(
            typed, for_time=moment, valid_window=VALID_WINDOW
        )
    except pyotp.OTPVerificationError:
        return None


# Over the database.


def begin(session: Session, clock: Clock, user: User, next_path: str, address: str | None) -> str:
    """The password was right: start the half sign-in that waits for the code (or for the
    enrolment, with a new secret, when the user has none). Returns its cookie value."""
    enrolling = user.totp_secret is None
    cookie = pending_sign_ins.start(
        session, clock, user, next_path, new_secret() if enrolling else None
    )
    what = "enrolment of a second factor" if enrolling else "the second factor's code"
    actor = users.actor_for(user, address)
    audit.record(session, actor, clock, audit.SIGN_IN, f"password accepted; asked for {what}")
    return cookie


def confirm(
    session: Session,
    clock: Clock,
    user: User,
    pending: PendingSignIn,
    code: str,
    address: str | None,
) -> None:
    """Accept the code that finishes this half sign-in (storing the secret when enrolling), or
    raise users.SignInRefused: audited, and a wrong or reused code counts toward the lockout.
    When the sign-in cannot go on (locked, deactivated, factor reset) the half sign-in is
    ended: ``pending.ended_at`` tells the caller to send the user back to the password."""
    try:
        _confirm(session, clock, user, pending, code, address)
    except users.SignInRefused as refused:
        if refused.locked_until is not None or not user.active:
            pending_sign_ins.end(session, clock, pending)
        raise


def _confirm(
    session: Session,
    clock: Clock,
    user: User,
    pending: PendingSignIn,
    code: str,
    address: str | None,
) -> None:
    users.refuse_if_locked(session, clock, user, address)
    actor = users.actor_for(user, address)
    if not user.active:
        audit.record(session, actor, clock, audit.REFUSED, "sign-in: inactive")
        raise users.SignInRefused("This account has been deactivated. Ask an administrator.")
    secret = pending.new_secret or user.totp_secret
    if secret is None:
        # Reset by an admin while this sign-in waited (reset ends half sign-ins; a race only).
        pending_sign_ins.end(session, clock, pending)
        raise users.SignInRefused("Your second factor was reset. Please sign in again.")
    step = step_of(secret, code, clock.now())
    if step is None:
        raise users.count_failure(session, clock, user, address, "wrong code", "Wrong code.")
    if user.totp_last_step is not None and step <= user.totp_last_step:
        raise users.count_failure(
            session,
            clock,
            user,
            address,
            "code already used",
            "This code has already been used. Wait for the next code.",
        )
    if pending.new_secret is not None:
        user.totp_secret = pending.new_secret
        audit.record(session, actor, clock, audit.WRITE, "enrolled a second factor")
    user.totp_last_step = step
    session.flush()


def reset(session: Session, actor: Actor, clock: Clock, username: str) -> bool:
    """Forget a user's second factor (a lost phone): their next sign-in enrols a new one, and
    any sign-in of theirs waiting for a code is ended. Admins only; audited. False (nothing
    written) when the user had none."""
    if actor.role != "admin":
        raise Forbidden("only an admin may reset a second factor")
    user = users.find_user(session, username)
    if user.totp_secret is None:
        return False
    user.totp_secret = None
    user.totp_last_step = None
    pending_sign_ins.end_all(session, clock, user.id)
    audit.record(session, actor, clock, audit.WRITE, f"reset the second factor of {user.username}")
    session.flush()
    return True
