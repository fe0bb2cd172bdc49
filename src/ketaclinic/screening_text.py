"""The screening for a person to read: decision first, then why, trials and workup.

Rendered from the same JSON object the CLI prints with ``--format json``, so the
two formats can never say different things.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

DECISION_WORDS = {
    "eligible": ("ELIGIBLE", "green"),
    "eligible_with_precautions": ("ELIGIBLE WITH PRECAUTIONS", "yellow"),
    "not_eligible": ("NOT ELIGIBLE", "red"),
    "needs_information": ("NEEDS INFORMATION", "cyan"),
}
KIND_WORDS = {
    "absolute": "Absolute contraindication",
    "indication": "Indication",
    "missing": "Missing information",
    "relative": "Relative contraindication",
    "interaction": "Interaction",
    "note": "Note",
}
ROUTE_WORDS = {
    "iv": "IV infusion",
    "esketamine": "esketamine nasal spray",
    "im": "IM injection",
    "oral": "oral / sublingual",
}


def _dash(value: object) -> str:
    return "-" if value is None else str(value)


def render(result: dict[str, Any], console: Console) -> None:
    words, colour = DECISION_WORDS[result["decision"]]
    route = ROUTE_WORDS[result["route"]]
    console.print(
        Text.assemble(
            ("Decision: ", "bold"),
            (words, f"bold {colour}"),
            f"  ({result['patient']}, {route}, as of {result['as_of']})",
        )
    )
    if result["indications"]:
        for ind in result["indications"]:
            label = "on-label" if ind["on_label"] else "off-label"
            console.print(
                f"Indication: {ind['id']} ({label}); evidence {', '.join(ind['evidence'])}"
            )
    else:
        console.print("Indication: none qualifies")

    console.print()
    console.print(Text("Findings", style="bold"))
    if not result["findings"]:
        console.print("  none")
    for f in result["findings"]:
        console.print(f"- {KIND_WORDS[f['kind']]} [{f['id']}]: {f['message']}", markup=False)
        evidence = ", ".join(f["evidence"]) or "no record (absence)"
        console.print(f"    evidence: {evidence}", markup=False)
        console.print(f"    source: {f['source']}", markup=False)

    tr = result["treatment_resistance"]
    console.print()
    console.print(
        Text(
            f"Treatment resistance: {tr['status']} "
            f"({tr['failed_adequate_trials']} failed adequate trials; "
            f"classes {', '.join(tr['classes']) or 'none'})",
            style="bold",
        )
    )
    if tr["trials"]:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for header in ("#", "drug", "class", "mg/day", "minimum", "weeks", "adequate", "outcome"):
            table.add_column(header, overflow="fold")
        for n, t in enumerate(tr["trials"], start=1):
            table.add_row(
                str(n),
                t["medication"],
                _dash(t["class"]),
                _dash(t["daily_dose_mg"]),
                _dash(t["minimum_adequate_mg"]),
                _dash(t["weeks"]),
                "yes" if t["adequate"] else "no",
                _dash(t["outcome"]),
            )
        console.print(table)
        for n, t in enumerate(tr["trials"], start=1):
            console.print(f"  #{n} evidence: {', '.join(t['evidence'])}", markup=False)
            for assumption in t["assumptions"]:
                console.print(f"  #{n} assumption: {assumption}", markup=False)

    pain = result["pain_resistance"]
    if pain["status"] != "not_applicable":
        console.print(
            Text(
                f"Pain resistance: {pain['status']} "
                f"(failed: {', '.join(pain['failed_categories']) or 'none'})",
                style="bold",
            )
        )
        for t in pain["treatments"]:
            state = "failed" if t["failed"] else _dash(t["outcome"])
            console.print(f"  {t['category']}: {t['name']} ({state}); {', '.join(t['evidence'])}")

    staging = result["staging"]
    if staging is not None:
        m = staging["maudsley"]
        console.print(
            f"Staging: Thase-Rush {_dash(staging['thase_rush']['stage'])}; "
            f"Maudsley {_dash(m['score'])} ({_dash(m['band'])}); "
            f"MGH {_dash(staging['mgh']['score'])}"
        )

    console.print()
    done = "complete" if result["workup_complete"] else "incomplete"
    console.print(Text(f"Workup ({done})", style="bold"))
    marks = {"done": "[x]", "missing": "[ ]", "stale": "[!]", "not_required": "[-]"}
    for w in result["workup"]:
        when = f" {w['date']}" if w["date"] else ""
        console.print(f"  {marks[w['status']]} {w['test']}: {w['status']}{when}", markup=False)
    policy = result["policy"]
    console.print(f"\nPolicy: {policy['name']} (sha256 {policy['sha256'][:12]}...)")
