"""The esketamine REMS Patient Monitoring Form as versioned data.

The REMS changes its form from time to time; a form filled in keeps the version it was filled
on, and is shown, printed and exported with that version's fields and labels, never with the
newest. A new version is a new entry in ``FORM_VERSIONS`` and a new ``CURRENT``; old entries
are never edited.

Source: clinical-facts.md, "Esketamine (Label, REMS)": a Patient Monitoring Form within 7 days
after every session with patient, first treatment yes/no, concomitant benzodiazepines /
non-benzodiazepine sedative-hypnotics / psychostimulants / MAOIs (yes/no each), monitoring
clinician and site, date, dose (56, 84, other) and lot, total minutes from the first device to
the end of monitoring (at least 120), minutes until ready to leave had there been no 2-hour
rule, vitals acceptable before dosing and before leaving, blood pressure before dosing, at 40
minutes and before leaving, sedation, dissociation, respiratory depression. The version name
"ketaclinic-1" is ours: it is the field list of clinical-facts.md, not an FDA form number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from types import MappingProxyType
from typing import Any, Literal

from ketaclinic.clinical.monitoring import RemsMonitoringForm

SOURCE = "clinical-facts.md, Esketamine (Label, REMS): the Patient Monitoring Form's fields"

FieldKind = Literal["text", "yes_no", "date", "dose", "mg", "minutes", "blood_pressure"]


@dataclass(frozen=True)
class FormField:
    """One question of the form: its key in the stored data, its label, how it is written."""

    name: str
    label: str
    kind: FieldKind


_KETACLINIC_1: tuple[FormField, ...] = (
    FormField("patient", "Patient", "text"),
    FormField("first_treatment", "First treatment with esketamine", "yes_no"),
    FormField("benzodiazepines", "Concomitant benzodiazepines", "yes_no"),
    FormField(
        "non_benzodiazepine_sedative_hypnotics",
        "Concomitant non-benzodiazepine sedative hypnotics",
        "yes_no",
    ),
    FormField("psychostimulants", "Concomitant psychostimulants", "yes_no"),
    FormField("maois", "Concomitant monoamine oxidase inhibitors (MAOIs)", "yes_no"),
    FormField("monitoring_clinician", "Monitoring healthcare provider", "text"),
    FormField("site", "Healthcare setting (REMS certification)", "text"),
    FormField("session_date", "Date of treatment", "date"),
    FormField("dose", "Dose (56 mg, 84 mg or other)", "dose"),
    FormField("dose_mg", "Dose given (mg)", "mg"),
    FormField("lot", "Lot number", "text"),
    FormField(
        "minutes_first_device_to_end_of_monitoring",
        "Total minutes from the first device to the end of monitoring",
        "minutes",
    ),
    FormField(
        "minutes_until_ready_without_2_hour_rule",
        "Minutes until ready to leave had there been no 2-hour rule",
        "minutes",
    ),
    FormField("vitals_acceptable_before_dosing", "Vital signs acceptable before dosing", "yes_no"),
    FormField(
        "vitals_acceptable_before_leaving", "Vital signs acceptable before leaving", "yes_no"
    ),
    FormField("blood_pressure_before_dosing", "Blood pressure before dosing", "blood_pressure"),
    FormField("blood_pressure_at_40_minutes", "Blood pressure at 40 minutes", "blood_pressure"),
    FormField("blood_pressure_before_leaving", "Blood pressure before leaving", "blood_pressure"),
    FormField("sedation", "Sedation (MOAA/S below 5)", "yes_no"),
    FormField("dissociation", "Dissociation (CADSS above 4)", "yes_no"),
    FormField("respiratory_depression", "Respiratory depression", "yes_no"),
)

FORM_VERSIONS: Mapping[str, tuple[FormField, ...]] = MappingProxyType(
    {"ketaclinic-1": _KETACLINIC_1}
)
CURRENT = "ketaclinic-1"

# Every field a version names must be one the session can fill (monitoring.rems_form).
_FILLABLE = frozenset(f.name for f in fields(RemsMonitoringForm))
for _version, _fields in FORM_VERSIONS.items():
    _unknown = {f.name for f in _fields} - _FILLABLE
    if _unknown:
        raise ValueError(f"form version {_version}: fields nobody fills: {sorted(_unknown)}")


def form_fields(version: str) -> tuple[FormField, ...]:
    """The fields of one version, in the form's order."""
    found = FORM_VERSIONS.get(version)
    if found is None:
        raise ValueError(f"unknown REMS form version {version!r}")
    return found


def form_data(form: RemsMonitoringForm, version: str = CURRENT) -> dict[str, Any]:
    """The values a version asks for, as JSON-ready values (dates as ISO text)."""
    data: dict[str, Any] = {}
    for f in form_fields(version):
        value = getattr(form, f.name)
        data[f.name] = value.isoformat() if isinstance(value, date) else value
    return data


def field_text(f: FormField, value: Any) -> str:
    """A stored value as the printed form writes it; an empty answer stays empty."""
    if value is None or value == "":
        return ""
    if f.kind == "yes_no":
        return "Yes" if value else "No"
    if f.kind == "dose":
        return "Other" if value == "other" else f"{value} mg"
    if f.kind == "mg":
        return f"{float(value):g} mg"
    if f.kind == "minutes":
        return f"{int(value)} minutes"
    if f.kind == "blood_pressure":
        return f"{value} mmHg"
    return str(value)


def field_cell(f: FormField, value: Any) -> str:
    """A stored value as a CSV cell: yes/no, plain numbers, ISO dates; empty when missing."""
    if value is None:
        return ""
    if f.kind == "yes_no":
        return "yes" if value else "no"
    if f.kind == "mg":
        return f"{float(value):g}"
    return str(value)


def form_rows(version: str, data: Mapping[str, Any]) -> list[tuple[FormField, str]]:
    """Each field of the version with its printed answer, in order."""
    return [(f, field_text(f, data.get(f.name))) for f in form_fields(version)]
