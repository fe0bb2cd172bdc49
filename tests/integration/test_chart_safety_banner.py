"""The chart itself shows an open safety alert (issue 6: "on the clinic dashboard and the chart"),
drawn with the page rather than loaded after it, and only a prescriber gets the form to
acknowledge it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from ketaclinic.services import questionnaires
from tests.integration.api_support import Api, open_api

# PHQ-9 with item 9 ("thoughts that you would be better off dead...") answered 2: more than
# half the days. Items 1-8 answered 1.
PHQ9_ITEM9_TWO = [1, 1, 1, 1, 1, 1, 1, 1, 2]
PHQ9_ITEM9_ZERO = [1, 1, 1, 1, 1, 1, 1, 1, 0]


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def _answered(api: Api, answers: list[int]) -> int:
    patient = api.new_patient()
    clinic = api.clinic
    with clinic.work() as s:
        questionnaires.record_response(
            s, clinic.nurse, clinic.clock, patient, "phq9", answers,
            clinic.clock.now() - timedelta(minutes=5),
        )  # fmt: skip
    return patient


def test_an_open_alert_is_on_the_chart_and_a_prescriber_may_acknowledge_it(api: Api) -> None:
    patient = _answered(api, PHQ9_ITEM9_TWO)
    nurse = api.http.get(f"/patients/{patient}", headers=api.headers("nurse"))
    assert nurse.status_code == 200
    assert "Urgent: safety alert" in nurse.text
    assert "A prescriber must acknowledge it." in nurse.text
    assert 'name="action_taken"' not in nurse.text
    prescriber = api.http.get(f"/patients/{patient}", headers=api.headers("prescriber"))
    assert "Urgent: safety alert" in prescriber.text
    assert 'name="action_taken"' in prescriber.text


def test_no_banner_without_an_alert(api: Api) -> None:
    patient = _answered(api, PHQ9_ITEM9_ZERO)
    chart = api.http.get(f"/patients/{patient}", headers=api.headers("prescriber"))
    assert chart.status_code == 200
    assert "Urgent: safety alert" not in chart.text
