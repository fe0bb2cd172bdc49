"""The clinic's HTML pages: patients, chart, record forms, screening. One router for create_app.

Every route, and the roles it admits (others: 403 page; not signed in: redirect to /sign-in).
P = prescriber, N = nurse, F = front_desk; admins are admitted to none of these.

    GET  /patients                                   P N F  list; search: name, birth_date, mrn
    GET  /patients/new                               P N F  new-patient form
    POST /patients                                   P N F  register a patient
    GET  /patients/{patient_id}                      P N    the chart
    GET  /patients/{patient_id}/diagnoses/new        P      diagnosis form
    POST /patients/{patient_id}/diagnoses            P
    GET  /patients/{patient_id}/medications/new      P      trial form; ?after=<id>: dose change
    POST /patients/{patient_id}/medications          P
    GET  /patients/{patient_id}/vitals/new           P N    blood pressure, heart rate, SpO2, weight
    POST /patients/{patient_id}/vitals               P N
    GET  /patients/{patient_id}/labs/new             P N    lab or scale result
    POST /patients/{patient_id}/labs                 P N
    GET  /patients/{patient_id}/allergies/new        P      allergy form
    POST /patients/{patient_id}/allergies            P
    GET  /patients/{patient_id}/procedures/new       P      procedure form
    POST /patients/{patient_id}/procedures           P
    GET  /records/{kind}/{record_id}/history         P N    kind: condition medication observation
                                                            allergy procedure
    GET  /records/{kind}/{record_id}/correct         P (N when kind is observation)
    POST /records/{kind}/{record_id}/correct         P (N when kind is observation)
    POST /records/{kind}/{record_id}/entered-in-error  P (N when kind is observation)
    GET  /records/medication/{record_id}/outcome     P      inline trial-outcome form (htmx)
    POST /records/medication/{record_id}/outcome     P
    POST /patients/{patient_id}/screenings           P      Screen (form field route)
    GET  /screenings/{screening_id}                  P N    the screening page
    POST /screenings/{screening_id}/sign             P
    POST /screenings/{screening_id}/override         P      fields decision, justification

Every route that reads or writes a patient's data writes audit rows in the request's transaction.
"""

from __future__ import annotations

from fastapi import APIRouter

from ketaclinic.web import pages_chart, pages_patients, pages_records, pages_screening

router = APIRouter(include_in_schema=False)
# Routes match in order: /patients/new must come before /patients/{patient_id}.
router.include_router(pages_patients.router)
router.include_router(pages_chart.router)
router.include_router(pages_records.router)
router.include_router(pages_screening.router)
