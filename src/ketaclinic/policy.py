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

    def values(self) -> dict[str, dict[str, float | bool]]:
        return {
            section: {f.name: getattr(getattr(self, section), f.name) for f in fields(cls)}
            for section, cls in SECTIONS.items()
        }

    @property
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
