"""The clinic's thresholds and windows.

Every value the rules use is a named default here, with where it comes from
and the range a clinic may set it to. A clinic overrides any of them in a TOML
file whose tables are the sections below::

    name = "Riverside clinic"
    [resistance]
    minimum_weeks = 8

This module parses text; reading the file is the caller's job, so the rules
(which take a ``Policy``) stay free of I/O.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the key."""


def _setting(default: float | bool, low: float, high: float, source: str) -> Any:
    return field(default=default, metadata={"low": low, "high": high, "source": source})


WORKING = "working value of ketaclinic (clinical-facts.md), clinic may change"


@dataclass(frozen=True)
class Resistance:
    minimum_weeks: int = _setting(6, 1, 52, "ATRQ and MGH staging: at least 6 weeks; Seeds: 4-8")
    distinct_classes: bool = _setting(True, 0, 1, "Seeds: two antidepressants of different classes")
    merge_gap_days: int = _setting(30, 0, 180, f"gaps of up to 30 days are one trial; {WORKING}")
    minimum_failed_trials: int = _setting(2, 1, 10, "Seeds, Sanacora 2017: at least two failed")
    pain_minimum_weeks: int = _setting(4, 1, 52, f"pain-medication trial of 4 weeks; {WORKING}")
    pain_minimum_categories: int = _setting(2, 1, 3, "Seeds: standard pain treatments failed")


@dataclass(frozen=True)
class BloodPressure:
    uncontrolled_systolic: float = _setting(160, 120, 220, "Seeds: systolic consistently > 160")
    uncontrolled_diastolic: float = _setting(90, 60, 140, "Seeds: diastolic consistently > 90")
    elevated_systolic: float = _setting(140, 110, 200, "Spravato label: above about 140/90")
    elevated_diastolic: float = _setting(90, 60, 130, "Spravato label: above about 140/90")
    window_days: int = _setting(90, 1, 365, f"readings count for 90 days; {WORKING}")


@dataclass(frozen=True)
class Cardiac:
    recent_infarction_months: int = _setting(
        6, 1, 36, f"Seeds say 'recent'; elective guidance waits >= 60 days; {WORKING}"
    )


@dataclass(frozen=True)
class Liver:
    transaminase_limit: float = _setting(120, 40, 2000, f"ALT/AST 3 x ULN (40 U/L); {WORKING}")
    window_days: int = _setting(90, 1, 365, f"laboratory values count for 90 days; {WORKING}")


@dataclass(frozen=True)
class Kidney:
    egfr_limit: float = _setting(60, 10, 120, f"eGFR < 60, CKD stage 3 (KDIGO); {WORKING}")
    window_days: int = _setting(90, 1, 365, f"laboratory values count for 90 days; {WORKING}")


@dataclass(frozen=True)
class Thyroid:
    tsh_suppressed: float = _setting(0.1, 0.01, 1.0, f"TSH < 0.1 mIU/L suppressed; {WORKING}")
    window_days: int = _setting(180, 1, 730, f"TSH counts for 180 days; {WORKING}")


@dataclass(frozen=True)
class Pregnancy:
    positive_test_days: int = _setting(280, 7, 300, f"a positive test stands 280 days; {WORKING}")
    hcg_positive: float = _setting(25, 5, 100, f"hCG > 25 mIU/mL is positive; {WORKING}")
    test_age_min: int = _setting(12, 8, 20, f"pregnancy test for females 12-55; {WORKING}")
    test_age_max: int = _setting(55, 40, 65, f"pregnancy test for females 12-55; {WORKING}")


@dataclass(frozen=True)
class Suicidality:
    item9_window_days: int = _setting(30, 1, 180, f"PHQ-9 item 9 within 30 days; {WORKING}")


@dataclass(frozen=True)
class Age:
    adult: int = _setting(18, 16, 21, "Spravato label: adults only")


@dataclass(frozen=True)
class Workup:
    physical_exam_days: int = _setting(90, 1, 365, f"physical exam fresh within 90 days; {WORKING}")
    blood_pressure_days: int = _setting(30, 1, 180, f"BP fresh within 30 days; {WORKING}")
    liver_function_days: int = _setting(90, 1, 365, f"LFT fresh within 90 days; {WORKING}")
    renal_function_days: int = _setting(90, 1, 365, f"creatinine within 90 days; {WORKING}")
    thyroid_days: int = _setting(180, 1, 730, f"TSH within 180 days; {WORKING}")
    urinalysis_days: int = _setting(180, 1, 730, f"urinalysis within 180 days; {WORKING}")
    pregnancy_test_days: int = _setting(7, 1, 30, f"pregnancy test within 7 days; {WORKING}")
    ecg_days: int = _setting(180, 1, 730, f"ECG within 180 days; {WORKING}")
    baseline_scale_days: int = _setting(30, 1, 90, f"baseline scale within 30 days; {WORKING}")


# Sources named in the session settings below (clinical-facts.md).
LABEL = "Spravato label"
REMS = "Spravato REMS"
SEEDS = "Seeds"
SANACORA = "Sanacora 2017"
ANDRADE = "Andrade 2017"
ASKP3 = "ASKP3"
COSTS = "clinical-facts.md, Codes and costs"
ALERTS = "clinical-facts.md, Racemic ketamine: working values for in-session alerts"


@dataclass(frozen=True)
class Dosing:
    """Dose limits per route (policy section ``dosing``)."""

    weight_max_age_days: int = _setting(
        30, 1, 90, "issue 5: mg/kg from a weight measured within 30 days"
    )
    iv_minimum_mg_per_kg: float = _setting(
        0.1, 0.05, 0.5, f"{ANDRADE}: IV responses reported from 0.1 mg/kg"
    )
    iv_maximum_mg_per_kg: float = _setting(
        1.0, 0.5, 2.0, f"{ASKP3}: clinics start at 0.5-1 mg/kg; hard maximum, {WORKING}"
    )
    iv_usual_low_mg_per_kg: float = _setting(
        0.5, 0.1, 1.0, f"{SANACORA}: 0.5 mg/kg best studied; {ASKP3}: clinics from 0.5"
    )
    iv_usual_high_mg_per_kg: float = _setting(
        0.75, 0.1, 1.0, f"{ANDRADE}: responses reported up to 0.75 mg/kg"
    )
    iv_infusion_minutes: int = _setting(40, 20, 120, f"{SANACORA}: 0.5 mg/kg over 40 minutes")
    iv_infusion_minutes_low: int = _setting(40, 20, 120, f"{ASKP3}: over 40-60 minutes")
    iv_infusion_minutes_high: int = _setting(60, 20, 120, f"{ASKP3}: over 40-60 minutes")
    im_minimum_mg_per_kg: float = _setting(0.25, 0.05, 0.5, f"{ANDRADE}: IM 0.25-0.5 mg/kg")
    im_maximum_mg_per_kg: float = _setting(
        0.5, 0.25, 1.0, f"{ANDRADE}: IM 0.25-0.5 mg/kg; hard maximum, {WORKING}"
    )
    oral_minimum_mg: float = _setting(25, 5, 100, f"{ANDRADE}: oral studies used 25-300 mg")
    oral_maximum_mg: float = _setting(
        300, 50, 500, f"{ANDRADE}: oral studies used 25-300 mg; hard maximum, {WORKING}"
    )
    oral_minimum_mg_per_kg: float = _setting(
        0.25, 0.05, 2.0, f"{ANDRADE}: oral studies used 0.25-7 mg/kg"
    )
    oral_maximum_mg_per_kg: float = _setting(
        7.0, 1.0, 10.0, f"{ANDRADE}: oral studies used 0.25-7 mg/kg; hard maximum, {WORKING}"
    )
    device_interval_minutes: int = _setting(5, 5, 15, f"{LABEL}: 5 minutes between devices")


@dataclass(frozen=True)
class Series:
    """Series defaults and prices (policy section ``series``)."""

    iv_induction_sessions: int = _setting(
        6, 1, 12, f"{SEEDS}: 6-8 infusions over 2-3 weeks; {WORKING}"
    )
    iv_induction_days: int = _setting(
        14, 7, 28, f"{SEEDS}: 6-8 infusions over 2-3 weeks; {WORKING}"
    )
    maintenance_every_days: int = _setting(
        14, 7, 90, f"{SEEDS}: one session's effect lasts 1-2 weeks; {WORKING}"
    )
    twice_weekly_gap_days: int = _setting(3, 2, 5, "issue 5: twice weekly at least 2 days apart")
    review_after_iv_sessions: int = _setting(
        3, 2, 8, f"{SANACORA}: few respond after 3 infusions if they did not before"
    )
    iv_session_low_usd: int = _setting(400, 0, 5000, f"{SEEDS}: IV $400-800 per session")
    iv_session_high_usd: int = _setting(800, 0, 5000, f"{SEEDS}: IV $400-800 per session")
    esketamine_56_usd: int = _setting(590, 0, 5000, f"{COSTS}: list $590 for 56 mg")
    esketamine_84_usd: int = _setting(885, 0, 5000, f"{COSTS}: list $885 for 84 mg")


@dataclass(frozen=True)
class Monitoring:
    """Session limits (policy section ``monitoring``)."""

    alert_systolic: float = _setting(180, 140, 250, f"{ALERTS}: systolic > 180; {WORKING}")
    alert_diastolic: float = _setting(110, 80, 150, f"{ALERTS}: diastolic > 110; {WORKING}")
    alert_spo2: float = _setting(92, 85, 98, f"{ALERTS}: SpO2 < 92 %; {WORKING}")
    alert_heart_rate_high: float = _setting(120, 90, 180, f"{ALERTS}: heart rate > 120; {WORKING}")
    alert_heart_rate_low: float = _setting(50, 30, 70, f"{ALERTS}: heart rate < 50; {WORKING}")
    older_age: int = _setting(65, 55, 80, f"{LABEL}: trials withheld at systolic > 150 from 65")
    older_systolic: float = _setting(150, 130, 180, f"{LABEL}: systolic > 150 from age 65")
    esketamine_bp_recheck_minutes: int = _setting(
        40, 20, 90, f"{LABEL}: blood pressure peaks about 40 minutes after the dose"
    )
    esketamine_observation_minutes: int = _setting(
        120, 120, 360, f"{LABEL}, {REMS}: observe at least 2 hours from the first device"
    )
    observation_minutes: int = _setting(
        60, 30, 240, f"{SEEDS}: IV observation 30-60 minutes and until back to baseline; {WORKING}"
    )
    iv_vitals_every_minutes: int = _setting(
        15, 5, 30, f"issue 5: IV vitals every 10-15 minutes; {WORKING}"
    )
    near_baseline_percent: float = _setting(
        20, 5, 50, f"vital signs within 20 % of the pre-dose value (PADSS, Chung 1995); {WORKING}"
    )
    cadss_notable: int = _setting(4, 0, 92, f"{LABEL}: CADSS > 4 counted as notable")
    rems_form_days: int = _setting(7, 1, 14, f"{REMS}: Patient Monitoring Form within 7 days")


@dataclass(frozen=True)
class Outcomes:
    """Self-report links (policy section ``outcomes``)."""

    self_report_link_hours: int = _setting(
        72, 1, 168, "issue 6: a self-report link is single use and expires after 72 hours"
    )


@dataclass(frozen=True)
class Plans:
    """Treatment plans (policy section ``plans``)."""

    screening_max_age_days: int = _setting(
        90, 1, 365, "issue 5: a plan needs a signed screening no older than 90 days"
    )


@dataclass(frozen=True)
class Access:
    """Signing in and the patients' links (policy section ``access``, issue 9)."""

    second_factor_prescribers: bool = _setting(
        True, 0, 1, "DEA EPCS, 21 CFR 1311.115: two factors to prescribe controlled substances"
    )
    second_factor_admins: bool = _setting(
        True, 0, 1, "NIST SP 800-63B AAL2 for who manages users and reads the audit log"
    )
    sign_in_attempts_per_minute: int = _setting(
        10, 1, 1000, f"per address; NIST SP 800-63B 5.2.2 asks for rate limiting; {WORKING}"
    )
    self_report_requests_per_minute: int = _setting(
        30, 1, 1000, f"per address on /r/ links, against guessing tokens; {WORKING}"
    )


SECTIONS: dict[str, type[Any]] = {
    "resistance": Resistance,
    "blood_pressure": BloodPressure,
    "cardiac": Cardiac,
    "liver": Liver,
    "kidney": Kidney,
    "thyroid": Thyroid,
    "pregnancy": Pregnancy,
    "suicidality": Suicidality,
    "age": Age,
    "workup": Workup,
    "dosing": Dosing,
    "series": Series,
    "monitoring": Monitoring,
    "outcomes": Outcomes,
    "plans": Plans,
    "access": Access,
}


@dataclass(frozen=True)
class Policy:
    name: str = "default"
    resistance: Resistance = field(default_factory=Resistance)
    blood_pressure: BloodPressure = field(default_factory=BloodPressure)
    cardiac: Cardiac = field(default_factory=Cardiac)
    liver: Liver = field(default_factory=Liver)
    kidney: Kidney = field(default_factory=Kidney)
    thyroid: Thyroid = field(default_factory=Thyroid)
    pregnancy: Pregnancy = field(default_factory=Pregnancy)
    suicidality: Suicidality = field(default_factory=Suicidality)
    age: Age = field(default_factory=Age)
    workup: Workup = field(default_factory=Workup)
    dosing: Dosing = field(default_factory=Dosing)
    series: Series = field(default_factory=Series)
    monitoring: Monitoring = field(default_factory=Monitoring)
    outcomes: Outcomes = field(default_factory=Outcomes)
    plans: Plans = field(default_factory=Plans)
    access: Access = field(default_factory=Access)

    def values(self) -> dict[str, dict[str, float | bool]]:
        return {
            section: {f.name: getattr(getattr(self, section), f.name) for f in fields(cls)}
            for section, cls in SECTIONS.items()
        }

    @cached_property
    def sha256(self) -> str:
        """Hash of the effective values: two files that set the same values hash the same."""
        text = json.dumps(self.values(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


DEFAULT = Policy()


def describe() -> list[tuple[str, float | bool, float, float, str]]:
    """Every setting as (key, default, low, high, source), for documentation and the CLI."""
    rows: list[tuple[str, float | bool, float, float, str]] = []
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            meta = f.metadata
            default: float | bool = f.default  # type: ignore[assignment]
            rows.append((f"{section}.{f.name}", default, meta["low"], meta["high"], meta["source"]))
    return rows


def _checked(key: str, f: Any, value: object) -> float | bool:
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if kind == "bool":
        if not isinstance(value, bool):
            raise PolicyError(f"{key}: expected true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(f"{key}: expected a number, got {value!r}")
    if kind == "int" and not isinstance(value, int):
        raise PolicyError(f"{key}: expected a whole number, got {value!r}")
    low, high = f.metadata["low"], f.metadata["high"]
    if not low <= value <= high:
        raise PolicyError(f"{key}: {value} is outside the allowed range {low}-{high}")
    return value


def parse(text: str, name: str = "custom") -> Policy:
    """A policy from TOML text; unknown keys, wrong types and out-of-range values are refused."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"not valid TOML: {exc}") from None
    policy_name = data.pop("name", name)
    if not isinstance(policy_name, str) or not policy_name.strip():
        raise PolicyError("name: expected a non-empty string")
    sections: dict[str, Any] = {}
    for section, table in data.items():
        cls = SECTIONS.get(section)
        if cls is None:
            raise PolicyError(f"{section}: unknown section (known: {', '.join(SECTIONS)})")
        if not isinstance(table, dict):
            raise PolicyError(f"{section}: expected a table of settings")
        known = {f.name: f for f in fields(cls)}
        values = {}
        for key, value in table.items():
            if key not in known:
                raise PolicyError(f"{section}.{key}: unknown setting")
            values[key] = _checked(f"{section}.{key}", known[key], value)
        sections[section] = replace(cls(), **values)
    pregnancy = sections.get("pregnancy", Pregnancy())
    if pregnancy.test_age_min > pregnancy.test_age_max:
        raise PolicyError("pregnancy.test_age_min: greater than pregnancy.test_age_max")
    return Policy(name=policy_name, **sections)
