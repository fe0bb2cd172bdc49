"""The clinical JSON API (patients, records, screenings) as one router for ``create_app``."""

from __future__ import annotations

from fastapi import APIRouter

from ketaclinic.web import api_patients, api_records, api_screenings

router = APIRouter()
router.include_router(api_patients.router)
router.include_router(api_records.router)
router.include_router(api_screenings.router)
