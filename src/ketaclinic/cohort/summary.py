"""What a cohort run counted: decisions, findings, and everything it passed over, and why."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ketaclinic.cohort.export_files import Skipped
from ketaclinic.cohort.patient_rows import Refused, Row

# Each skipped line and refused patient is counted; this many are also kept to be shown.
KEEP = 20
_DETAIL = re.compile(r" \(.*$")
_ENTRY = re.compile(r"^entry \d+ ")


def reason_kind(text: str) -> str:
    """The reason without its particulars, for counting like with like."""
    return _DETAIL.sub("", _ENTRY.sub("entry ", text))


@dataclass
class Summary:
    rows: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    findings: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    skipped_shown: list[Skipped] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    refused_shown: list[Refused] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    peak_lines: int = 0
    peak_bytes: int = 0

    def add(self, result: Row | Refused) -> None:
        if isinstance(result, Refused):
            self.refused[reason_kind(result.reason)] += 1
            if len(self.refused_shown) < KEEP:
                self.refused_shown.append(result)
            return
        self.rows += 1
        self.decisions[result.decision] += 1
        if result.findings:
            self.findings.update(result.findings.split(";"))

    def skip(self, skipped: Skipped) -> None:
        self.skipped[reason_kind(skipped.reason)] += 1
        if len(self.skipped_shown) < KEEP:
            self.skipped_shown.append(skipped)

    def add_reading(self, other: Summary) -> None:
        """What another reader of the export (a later slice of it) skipped and passed over."""
        self.skipped.update(other.skipped)
        room = KEEP - len(self.skipped_shown)
        self.skipped_shown.extend(other.skipped_shown[: max(room, 0)])
        self.ignored.update(other.ignored)

    @property
    def lines_skipped(self) -> int:
        return sum(self.skipped.values())

    @property
    def patients_refused(self) -> int:
        return sum(self.refused.values())
