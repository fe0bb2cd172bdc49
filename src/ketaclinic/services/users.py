"""Clinic staff: accounts, passwords, sign-in with lockout, and API tokens.

Passwords are stored only as Argon2id hashes (argon2-cffi's defaults, RFC 9106's
low-memory profile). Five wrong passwords in a row lock the account for 15 minutes by the
injected clock; a correct password resets the count. API tokens are shown once and only
their SHA-256 is kept, so a copy of the database gives no usable token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ketaclinic.services import audit
from ketaclinic.services.actor import Actor, Role
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Forbidden, InvalidInput, NotFound
from ketaclinic.store.models import ROLES, ApiToken, User, WebSession

PASSWORD_MINIMUM = 12
# Far above any passphrase; stops a megabyte "password" from tying up the hasher.
PASSWORD_MAXIMUM = 1024
FAILURES_BEFORE_LOCK = 5
LOCK_MINUTES = 15
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")

_hasher = PasswordHasher()
# Verified against when the username is unknown, so a wrong name costs as long as a wrong
# password and the timing does not tell which usernames exist.
_DECOY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class SignInRefused(Exception):
    """A refused sign-in, with the message to show. The failure count it updated must be
    committed: callers catch this inside their transaction rather than letting it roll back."""

    def __init__(self, message: str, *, locked_until: datetime | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.locked_until = locked_until


def normal_username(username: str) -> str:
    return username.strip().lower()


def create_user(
    session: Session,
    clock: Clock,
    username: str,
    full_name: str,
    role: str,
    password: str,
    *,
    by: Actor | None = None,
) -> User:
    """A new active account. Refuses a taken or malformed username, an unknown role, a short
    password. ``by``: the admin creating it through the app (checked and audited); the
    command line, which bootstraps the first admin, passes none."""
    if by is not None:
        _require_admin(by)
    name = normal_username(username)
    if not USERNAME.fullmatch(name):
        raise InvalidInput(
            "username",
            "must be 2 to 64 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
        )
    if not full_name.strip():
        raise InvalidInput("full_name", "is required")
    if len(full_name.strip()) > 200:
        raise InvalidInput("full_name", "must be at most 200 characters")
    if role not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    _check_password(password)
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise InvalidInput("username", f"{name!r} is already taken")
    user = User(
        username=name,
        full_name=full_name.strip(),
        role=role,
        password_hash=_hasher.hash(password),
        active=True,
        failed_sign_ins=0,
        locked_until=None,
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    if by is not None:
        audit.record(session, by, clock, audit.WRITE, f"created user {name} ({role})")
    return user


def _check_password(password: str) -> None:
    if len(password) < PASSWORD_MINIMUM:
        raise InvalidInput("password", f"must be at least {PASSWORD_MINIMUM} characters")
    if len(password) > PASSWORD_MAXIMUM:
        raise InvalidInput("password", f"must be at most {PASSWORD_MAXIMUM} characters")


def actor_for(user: User, address: str | None = None) -> Actor:
    return Actor(user.id, user.username, cast(Role, user.role), address)


def _stranger(username: str, address: str | None) -> Actor:
    # An attempt on an unknown name is audited under the name typed. The role is a
    # placeholder: audit rows do not keep roles, and this actor is never allowed anything.
    return Actor(None, username[: audit.NAME_WIDTH] or "(blank)", "front_desk", address)


def authenticate(
    session: Session, clock: Clock, username: str, password: str, address: str | None = None
) -> User:
    """The user whose password this is, or SignInRefused. Every attempt is audited."""
    user = check_password(session, clock, username, password, address)
    signed_in(session, clock, user, address)
    return user


def check_password(
    session: Session, clock: Clock, username: str, password: str, address: str | None = None
) -> User:
    """The user whose password this is, or SignInRefused (audited, counted toward the lock).

    A right password is not yet a sign-in: the caller ends it with ``signed_in``, at once or
    after the second factor. Until then the count of failures stands, so that wrong codes
    (which add to it) cannot be wiped by typing the password again."""
    name = normal_username(username)
    user = session.scalar(select(User).where(User.username == name))
    if user is None:
        _verify(_DECOY_HASH, password)
        audit.record(session, _stranger(name, address), clock, audit.REFUSED, "sign-in")
        raise SignInRefused("Wrong username or password.")
    refuse_if_locked(session, clock, user, address)
    if not _verify(user.password_hash, password):
        raise count_failure(session, clock, user, address, "wrong password")
    if not user.active:
        audit.record(session, actor_for(user, address), clock, audit.REFUSED, "sign-in: inactive")
        raise SignInRefused("This account has been deactivated. Ask an administrator.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    session.flush()
    return user


def refuse_if_locked(session: Session, clock: Clock, user: User, address: str | None) -> None:
    """SignInRefused (audited) while the account is locked; a lock that has run out is lifted."""
    if user.locked_until is not None and user.locked_until > clock.now():
        audit.record(session, actor_for(user, address), clock, audit.REFUSED, "sign-in: locked")
        raise SignInRefused(_locked_message(user.locked_until), locked_until=user.locked_until)
    if user.locked_until is not None:
        # The lock has run out: a fresh run of attempts.
        user.locked_until = None
        user.failed_sign_ins = 0


def count_failure(
    session: Session,
    clock: Clock,
    user: User,
    address: str | None,
    what: str,
    message: str = "Wrong username or password.",
) -> SignInRefused:
    """One more failed attempt (a wrong password or code), audited; the account is locked at
    FAILURES_BEFORE_LOCK in a row. Returns the refusal for the caller to raise."""
    user.failed_sign_ins += 1
    detail = f"sign-in: {what} ({user.failed_sign_ins} in a row)"
    audit.record(session, actor_for(user, address), clock, audit.REFUSED, detail)
    if user.failed_sign_ins >= FAILURES_BEFORE_LOCK:
        user.locked_until = clock.now() + timedelta(minutes=LOCK_MINUTES)
        session.flush()
        return SignInRefused(
            f"{message} {_locked_message(user.locked_until)}", locked_until=user.locked_until
        )
    session.flush()
    return SignInRefused(message)


def signed_in(session: Session, clock: Clock, user: User, address: str | None = None) -> None:
    """The sign-in is complete: the run of failures is over, and the audit trail says so."""
    user.failed_sign_ins = 0
    audit.record(session, actor_for(user, address), clock, audit.SIGN_IN, "signed in")
    session.flush()


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _locked_message(until: datetime) -> str:
    return (
        f"The account is locked after {FAILURES_BEFORE_LOCK} failed sign-ins "
        f"until {until:%Y-%m-%d %H:%M} UTC."
    )


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, clock: Clock, user: User) -> str:
    """A new API token for the user; the plaintext is returned once and never stored."""
    if not user.active:
        raise Forbidden(f"{user.username} is deactivated")
    token = secrets.token_urlsafe(32)
    session.add(
        ApiToken(user_id=user.id, token_sha256=_token_digest(token), created_at=clock.now())
    )
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The active user owning this unrevoked token, else None."""
    if not token:
        return None
    return session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_sha256 == _token_digest(token),
            ApiToken.revoked_at.is_(None),
            User.active.is_(True),
        )
    )


def revoke_token(session: Session, clock: Clock, token: str) -> bool:
    """Stop a token from working; False when no such live token exists."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.token_sha256 == _token_digest(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )
    return bool(getattr(result, "rowcount", 0))


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == normal_username(username)))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def _require_admin(actor: Actor) -> None:
    if actor.role != "admin":
        raise Forbidden("only an admin may manage users")


def list_users(session: Session, actor: Actor, clock: Clock) -> list[User]:
    """Every account, by username; admins only, and audited."""
    _require_admin(actor)
    users = list(session.scalars(select(User).order_by(User.username)))
    audit.record(session, actor, clock, audit.READ, "user list")
    return users


def deactivate_user(session: Session, actor: Actor, clock: Clock, username: str) -> User:
    """Close an account: it can no longer sign in, its tokens and sessions stop working."""
    _require_admin(actor)
    user = find_user(session, username)
    if user.id == actor.user_id:
        raise InvalidInput("username", "you cannot deactivate your own account")
    now = clock.now()
    user.active = False
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.execute(
        update(WebSession)
        .where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    audit.record(session, actor, clock, audit.WRITE, f"deactivated user {user.username}")
    session.flush()
    return user
