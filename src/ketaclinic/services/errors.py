"""What the services refuse, with the reason: the web turns these into 422/403/404/409."""

from __future__ import annotations


class InvalidInput(ValueError):
    """Bad input, refused with nothing written. ``field`` names the form field or JSON key."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(LookupError):
    """No such patient, record or screening."""


class Forbidden(PermissionError):
    """The actor's role does not allow this."""


class Conflict(ValueError):
    """The request clashes with what is stored (a duplicate, a second signature)."""
