"""Registering and finding patients, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import pytest

from ketaclinic.services import patients
from ketaclinic.services.errors import Forbidden, InvalidInput, NotFound
from ketaclinic.services.patients import PatientIn, get_patient, register_patient, search_patients
from ketaclinic.store.models import Patient
from tests.integration.services_support import NOW, TODAY, Clinic, open_clinic

ADA = PatientIn(
    mrn="MRN-100",
    given_name="Ada",
    family_name="Lovelace",
    birth_date=date(1980, 5, 1),
    sex="female",
    phone="+44 20 7946 0000",
    email="ada@example.org",
    address="12 St James's Square, London",
    escort_name="William King",
    escort_phone="+44 20 7946 0001",
)


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    with open_clinic(database_url) as opened:
        yield opened


def test_a_patient_is_registered_with_every_field(clinic: Clinic) -> None:
    with clinic.work() as s:
        created = register_patient(s, clinic.front_desk, clinic.clock, ADA)
    with clinic.factory() as s:
        stored = get_patient(s, created.id)
        assert (stored.mrn, stored.given_name, stored.family_name) == ("MRN-100", "Ada", "Lovelace")
        assert (stored.birth_date, stored.sex) == (date(1980, 5, 1), "female")
        assert (stored.phone, stored.email) == ("+44 20 7946 0000", "ada@example.org")
        assert stored.address == "12 St James's Square, London"
        assert (stored.escort_name, stored.escort_phone) == ("William King", "+44 20 7946 0001")
        assert stored.created_at == NOW
        assert stored.created_by_id == clinic.front_desk.user_id


def test_blank_optional_fields_are_stored_as_nothing(clinic: Clinic) -> None:
    with clinic.work() as s:
        created = register_patient(
            s, clinic.nurse, clinic.clock, replace(ADA, phone="  ", email=None)
        )
        assert created.phone is None and created.email is None


def test_a_duplicate_mrn_is_refused_with_nothing_written(clinic: Clinic) -> None:
    clinic.register("MRN-100")
    before = clinic.counts()
    with pytest.raises(InvalidInput) as refused, clinic.work() as s:
        register_patient(s, clinic.prescriber, clinic.clock, ADA)
    assert refused.value.field == "mrn"
    assert clinic.counts() == before


def test_a_duplicate_mrn_that_slips_past_the_check_is_still_refused(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two desks registering the same MRN at once: the check passes for both, the database's
    # unique constraint refuses the second.
    clinic.register("MRN-100")
    before = clinic.counts()
    monkeypatch.setattr(patients, "mrn_taken", lambda _session, _mrn: False)
    with pytest.raises(InvalidInput) as refused, clinic.work() as s:
        register_patient(s, clinic.prescriber, clinic.clock, ADA)
    assert refused.value.field == "mrn"
    assert clinic.counts() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"birth_date": date(2026, 11, 3)}, "birth_date"),
        ({"given_name": "   "}, "given_name"),
        ({"family_name": ""}, "family_name"),
        ({"mrn": " "}, "mrn"),
        ({"sex": "f"}, "sex"),
        ({"email": "not an address"}, "email"),
        ({"mrn": "M" * 41}, "mrn"),
    ],
)
def test_bad_demographics_are_refused_with_nothing_written(
    clinic: Clinic, change: dict[str, object], field: str
) -> None:
    before = clinic.counts()
    with pytest.raises(InvalidInput) as refused, clinic.work() as s:
        register_patient(s, clinic.prescriber, clinic.clock, replace(ADA, **change))  # type: ignore[arg-type]
    assert refused.value.field == field
    assert clinic.counts() == before


def test_a_birth_date_of_today_is_accepted(clinic: Clinic) -> None:
    with clinic.work() as s:
        newborn = register_patient(
            s, clinic.prescriber, clinic.clock, replace(ADA, birth_date=TODAY)
        )
    assert newborn.birth_date == TODAY


def test_an_admin_may_not_register_patients(clinic: Clinic) -> None:
    before = clinic.counts()
    with pytest.raises(Forbidden), clinic.work() as s:
        register_patient(s, clinic.admin, clinic.clock, ADA)
    assert clinic.counts() == before


def test_an_unknown_patient_is_not_found(clinic: Clinic) -> None:
    with clinic.factory() as s, pytest.raises(NotFound):
        get_patient(s, 999)


def _names(page: patients.Page[Patient]) -> list[str]:
    return [f"{p.given_name} {p.family_name}" for p in page.items]


@pytest.fixture
def registered(clinic: Clinic) -> Clinic:
    clinic.register("A-1", given_name="Ada", family_name="Lovelace", birth_date=date(1980, 5, 1))
    clinic.register("A-2", given_name="Alan", family_name="Turing", birth_date=date(1954, 6, 23))
    clinic.register("A-3", given_name="Grace", family_name="Hopper", birth_date=date(1980, 5, 1))
    clinic.register("A-4", given_name="Lovell", family_name="Adams", birth_date=date(1970, 1, 1))
    clinic.register(
        "A-5", given_name="Edsger", family_name="Dijkstra", birth_date=date(1930, 5, 11)
    )
    return clinic


def test_names_are_searched_ignoring_case_in_given_and_family_names(registered: Clinic) -> None:
    with registered.factory() as s:
        # "LOVE" is in Lovelace (family) and Lovell (given); ordered by family name.
        assert _names(search_patients(s, text="LOVE")) == ["Lovell Adams", "Ada Lovelace"]
        # Every word must match, each in either name: Lovell Adams has "love" and "ada" too.
        assert _names(search_patients(s, text="ada love")) == ["Lovell Adams", "Ada Lovelace"]
        assert _names(search_patients(s, text="ada lace")) == ["Ada Lovelace"]
        assert _names(search_patients(s, text="turing")) == ["Alan Turing"]
        assert search_patients(s, text="nobody").total == 0


def test_a_percent_sign_is_a_character_not_a_wildcard(registered: Clinic) -> None:
    with registered.factory() as s:
        assert search_patients(s, text="%").total == 0
        assert search_patients(s, text="_").total == 0


def test_patients_are_found_by_birth_date_and_by_mrn(registered: Clinic) -> None:
    with registered.factory() as s:
        born = search_patients(s, birth_date=date(1980, 5, 1))
        assert _names(born) == ["Grace Hopper", "Ada Lovelace"]
        assert _names(search_patients(s, mrn="A-2")) == ["Alan Turing"]
        assert _names(search_patients(s, text="ada", birth_date=date(1980, 5, 1))) == [
            "Ada Lovelace"
        ]


def test_results_come_in_pages(registered: Clinic) -> None:
    with registered.factory() as s:
        first = search_patients(s, page=1, size=2)
        last = search_patients(s, page=3, size=2)
    # Family names in order: Adams, Dijkstra, Hopper, Lovelace, Turing.
    assert (first.total, first.pages) == (5, 3)
    assert _names(first) == ["Lovell Adams", "Edsger Dijkstra"]
    assert _names(last) == ["Alan Turing"]


@pytest.mark.parametrize(
    ("page", "size", "field"), [(0, 20, "page"), (1, 0, "size"), (1, 101, "size")]
)
def test_bad_paging_is_refused(registered: Clinic, page: int, size: int, field: str) -> None:
    with registered.factory() as s, pytest.raises(InvalidInput) as refused:
        search_patients(s, page=page, size=size)
    assert refused.value.field == field
