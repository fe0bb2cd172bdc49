"""When an esketamine patient would have been ready to leave had there been no 2-hour rule.

The REMS form asks for it (clinical-facts.md, "Esketamine (Label, REMS)": "minutes until ready
to leave had there been no 2-hour rule"). ketaclinic answers from what was measured, with the
discharge checklist itself (``monitoring.discharge_blockers``) minus its time rule: the first
reading after the first device at which blood pressure had settled, no vital raised an alert
and MOAA/S was 5. The attestations made only at discharge (alert and oriented, escort, no
driving) are taken as met then; a clinician who judged otherwise gives the time by hand.
When no reading before the end of monitoring passes, the answer is the end of monitoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ketaclinic.clinical.monitoring import MONITORING, Vitals, discharge_blockers
from ketaclinic.policy import Monitoring


def ready_to_leave_at(
    first_device_at: datetime,
    monitoring_ended_at: datetime,
    baseline: Vitals,
    readings: Sequence[tuple[datetime, Vitals]],
    moaas: Sequence[tuple[datetime, int]],
    limits: Monitoring = MONITORING,
) -> datetime:
    """The first moment the checklist, without its 2-hour rule, would have passed."""
    readings = sorted(readings, key=lambda r: r[0])
    scores = sorted(moaas, key=lambda s: s[0])
    moments = sorted(
        {at for at, _ in (*readings, *scores) if first_device_at < at <= monitoring_ended_at}
    )
    for now in moments:
        taken = [(at, v) for at, v in readings if at <= now]
        # Only a reading taken after the dose can show the patient has recovered from it.
        if not taken or taken[-1][0] <= first_device_at:
            continue
        latest_score = [s for at, s in scores if at <= now]
        blockers = discharge_blockers(
            "esketamine",
            now,
            first_device_at,  # the time rule switched off: observation "ended" at the dose
            baseline,
            taken[-1][1],
            latest_score[-1] if latest_score else None,
            alert_and_oriented=True,
            escort_present=True,
            no_driving_acknowledged=True,
            previous=taken[-2][1] if len(taken) > 1 else None,
            limits=limits,
        )
        if not blockers:
            return now
    return monitoring_ended_at
