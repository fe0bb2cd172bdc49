"""Typed access to what create_app keeps on ``app.state``."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.policy import Policy
from ketaclinic.services.clock import Clock


def engine(request: Request) -> Engine:
    value: Engine = request.app.state.engine
    return value


def session_factory(request: Request) -> sessionmaker[Session]:
    value: sessionmaker[Session] = request.app.state.session_factory
    return value


def clock(request: Request) -> Clock:
    value: Clock = request.app.state.clock
    return value


def policy(request: Request) -> Policy:
    """The clinic's policy (sign-in, second factor, rate limits among its sections)."""
    value: Policy = request.app.state.policy
    return value


def secure_cookies(request: Request) -> bool:
    return bool(request.app.state.secure_cookies)


def client_address(request: Request) -> str | None:
    """The peer's address as the server sees it (behind a proxy, run uvicorn with
    --proxy-headers so this is the browser's address, not the proxy's)."""
    return request.client.host if request.client else None


def is_api(request: Request) -> bool:
    path = request.url.path
    return path == "/api" or path.startswith("/api/")
