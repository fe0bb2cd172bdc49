"""Who is acting: every service that reads or writes a patient's data is told."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["prescriber", "nurse", "front_desk", "admin"]


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    role: Role
    address: str | None = None

    @staticmethod
    def system(name: str = "system") -> Actor:
        """The command line or the demo seeder acting on the clinic's behalf."""
        return Actor(None, name, "admin")
