"""The export's Medication resources, by ``Medication/id``, kept on disk.

Bulk Data writes Medication resources in a file of their own, with no patient: a statement or
request names one by reference, and it must be bundled with every patient naming it. An exporter
may write one Medication per order, so the catalogue can grow with the population; it lives in a
SQLite file beside the partitions, so the memory of the run stays the same whatever N is
(issue 8), and each worker opens it read-only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path


class MedicationCatalogue:
    """Medications by reference; the last line with a given id wins, as in a bundle."""

    def __init__(self, path: Path, writable: bool = False) -> None:
        self.path = path
        if writable:
            self._db = sqlite3.connect(path)
            self._db.execute("PRAGMA journal_mode = OFF")
            self._db.execute("PRAGMA synchronous = OFF")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS medication (ref TEXT PRIMARY KEY, raw BLOB NOT NULL)"
            )
        else:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self.count = self._db.execute("SELECT count(*) FROM medication").fetchone()[0]

    @classmethod
    def create(cls, path: Path) -> MedicationCatalogue:
        return cls(path, writable=True)

    def add(self, ref: str, raw: bytes) -> None:
        self._db.execute("INSERT OR REPLACE INTO medication VALUES (?, ?)", (ref, raw))
        self.count += 1

    def seal(self) -> None:
        """Written to disk, so that workers may open it."""
        self._db.commit()
        self.count = self._db.execute("SELECT count(*) FROM medication").fetchone()[0]

    def lines(self, refs: Iterable[str]) -> list[bytes]:
        """The Medications of these references that the export holds, in reference order."""
        if not self.count:
            return []
        found: list[bytes] = []
        for ref in sorted(set(refs)):
            row = self._db.execute("SELECT raw FROM medication WHERE ref = ?", (ref,)).fetchone()
            if row is not None:
                found.append(bytes(row[0]))
        return found

    def close(self) -> None:
        self._db.close()
