"""The REMS Patient Monitoring Form as versioned data (clinical-facts.md, Esketamine / REMS)."""

from __future__ import annotations

from datetime import datetime

import pytest

from ketaclinic.clinical import rems_versions
from ketaclinic.clinical.monitoring import Vitals, rems_form
from ketaclinic.clinical.rems_versions import (
    CURRENT,
    FORM_VERSIONS,
    FormField,
    field_cell,
    field_text,
    form_data,
    form_fields,
    form_rows,
)

# Every field clinical-facts.md lists, in its order.
FACTS_FIELDS = [
    "patient",
    "first_treatment",
    "benzodiazepines",
    "non_benzodiazepine_sedative_hypnotics",
    "psychostimulants",
    "maois",
    "monitoring_clinician",
    "site",
    "session_date",
    "dose",
    "dose_mg",
    "lot",
    "minutes_first_device_to_end_of_monitoring",
    "minutes_until_ready_without_2_hour_rule",
    "vitals_acceptable_before_dosing",
    "vitals_acceptable_before_leaving",
    "blood_pressure_before_dosing",
    "blood_pressure_at_40_minutes",
    "blood_pressure_before_leaving",
    "sedation",
    "dissociation",
    "respiratory_depression",
]


def test_current_version_has_every_field_of_the_facts_in_order() -> None:
    assert CURRENT in FORM_VERSIONS
    assert [f.name for f in form_fields(CURRENT)] == FACTS_FIELDS


def test_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown REMS form version"):
        form_fields("no-such-version")


def test_field_text_and_cells() -> None:
    yes_no = FormField("sedation", "Sedation", "yes_no")
    assert field_text(yes_no, True) == "Yes"
    assert field_text(yes_no, False) == "No"
    assert field_cell(yes_no, False) == "no"
    dose = FormField("dose", "Dose", "dose")
    assert field_text(dose, "56") == "56 mg"
    assert field_text(dose, "other") == "Other"
    mg = FormField("dose_mg", "Dose given", "mg")
    assert field_text(mg, 84.0) == "84 mg"
    assert field_cell(mg, 84.0) == "84"
    minutes = FormField("m", "Minutes", "minutes")
    assert field_text(minutes, 125) == "125 minutes"
    bp = FormField("b", "BP", "blood_pressure")
    assert field_text(bp, "128/82") == "128/82 mmHg"
    assert field_text(bp, "") == ""
    assert field_cell(bp, None) == ""


def test_form_data_and_rows_follow_the_version() -> None:
    form = rems_form(
        patient="Example, Alice",
        first_treatment=True,
        benzodiazepines=False,
        non_benzodiazepine_sedative_hypnotics=True,
        psychostimulants=False,
        maois=False,
        monitoring_clinician="Nurse Nina",
        site="REMS certified setting S-1",
        dose_mg=56,
        lot="L-1",
        first_device_at=datetime(2026, 11, 2, 9, 10),
        monitoring_ended_at=datetime(2026, 11, 2, 11, 15),
        ready_without_2_hour_rule_at=datetime(2026, 11, 2, 10, 40),
        before_dosing=Vitals(126, 80),
        at_40_minutes=Vitals(138, 86),
        before_leaving=Vitals(124, 78),
        vitals_acceptable_before_dosing=True,
        vitals_acceptable_before_leaving=True,
        lowest_moaas=4,
        highest_cadss=4,
        respiratory_depression=False,
    )
    data = form_data(form)
    assert data["session_date"] == "2026-11-02"
    assert data["minutes_first_device_to_end_of_monitoring"] == 125
    assert data["minutes_until_ready_without_2_hour_rule"] == 90
    rows = dict((f.name, text) for f, text in form_rows(CURRENT, data))
    assert rows["dose"] == "56 mg"
    assert rows["sedation"] == "Yes"  # MOAA/S 4 is below 5
    assert rows["dissociation"] == "No"  # CADSS 4 is not above 4
    assert rows["blood_pressure_at_40_minutes"] == "138/86 mmHg"


def test_a_stored_form_keeps_its_own_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """A later version with fewer or renamed fields does not change how an old form reads."""
    newer = (FormField("patient", "Patient name", "text"),)
    monkeypatch.setattr(rems_versions, "FORM_VERSIONS", {**FORM_VERSIONS, "ketaclinic-2": newer})
    monkeypatch.setattr(rems_versions, "CURRENT", "ketaclinic-2")
    old = form_rows("ketaclinic-1", {"patient": "Example, Alice", "sedation": False})
    assert old[0][0].label == "Patient"
    assert len(old) == len(FACTS_FIELDS)
    assert [f.label for f, _ in form_rows("ketaclinic-2", {"patient": "A"})] == ["Patient name"]
