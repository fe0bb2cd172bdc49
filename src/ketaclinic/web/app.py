"""The web app: ``create_app()`` builds it; ``uvicorn --factory ketaclinic.web.app:create_app``
serves it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from ketaclinic.policy import DEFAULT, Policy, PolicyError, parse
from ketaclinic.secret_settings import SecretUnreadable
from ketaclinic.services.clock import Clock, SystemClock
from ketaclinic.store import db
from ketaclinic.web import admin, api, csrf, errors, pages, rate_limits
from ketaclinic.web.api_common import PROBLEMS, refuse_nul_characters
from ketaclinic.web.api_export import router as export_api
from ketaclinic.web.api_home import router as home_api
from ketaclinic.web.api_ledger import router as ledger_api
from ketaclinic.web.api_plans import router as plans_api
from ketaclinic.web.api_questionnaires import router as questionnaire_api
from ketaclinic.web.api_rems import router as rems_api
from ketaclinic.web.api_routes import router as clinical_api
from ketaclinic.web.api_sessions import router as sessions_api
from ketaclinic.web.headers import SecurityHeaders
from ketaclinic.web.pages_clinic import router as clinic_pages
from ketaclinic.web.pages_home import router as home_pages
from ketaclinic.web.pages_ledger import router as ledger_pages
from ketaclinic.web.pages_outcomes import router as outcome_pages
from ketaclinic.web.pages_plans import router as plan_pages
from ketaclinic.web.pages_rems import router as rems_pages
from ketaclinic.web.pages_second_factor import router as second_factor_pages
from ketaclinic.web.pages_self_report import router as questionnaire_pages
from ketaclinic.web.pages_sessions import router as session_pages
from ketaclinic.web.templating import HERE

VERSION = "0.1.0"
WORKER_THREADS = 200


def clinic_policy() -> Policy:
    """The policy file named by KETACLINIC_POLICY, or the default. A file that cannot be used
    stops the server at start with the reason, rather than serving on a policy not chosen."""
    path = os.environ.get("KETACLINIC_POLICY")
    if not path:
        return DEFAULT
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        raise SystemExit(f"KETACLINIC_POLICY={path}: cannot read it ({exc.strerror})") from None
    try:
        return parse(text, name=os.path.splitext(os.path.basename(path))[0])
    except PolicyError as exc:
        raise SystemExit(f"KETACLINIC_POLICY={path}: {exc}") from None


def create_app(
    database_url: str | None = None, clock: Clock | None = None, policy: Policy | None = None
) -> FastAPI:
    """The app on this database (default: KETACLINIC_DATABASE_URL or ./ketaclinic.db), which
    must already be migrated (``store.db.migrate``). ``clock``: a FixedClock in tests.
    ``policy``: the clinic's policy (default: the file KETACLINIC_POLICY names, else DEFAULT)."""
    try:
        engine = db.make_engine(database_url or db.database_url())
    except SecretUnreadable as exc:
        # As for the policy: refuse to start, with the reason, rather than serve another database.
        raise SystemExit(str(exc)) from None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Sync routes and dependencies run on worker threads; SQLite writers queue for one write
        # turn (store.db), so there must be more threads than concurrent requests or a writer
        # could wait for a thread to commit in.
        to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        yield
        engine.dispose()

    app = FastAPI(
        title="ketaclinic",
        version=VERSION,
        summary="Screening and records for ketamine and esketamine clinics",
        # The docs page is served below with Swagger UI from our own static files (npm package
        # swagger-ui-dist, fetched at install time), never from a CDN.
        docs_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_url="/api/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
        # Every unsafe request that rides on the session cookie must carry its CSRF token.
        # Then no text with a NUL character reaches the API's routes (PostgreSQL cannot take it).
        dependencies=[Depends(csrf.require_csrf), Depends(refuse_nul_characters)],
        # The refusals every API operation may answer, in its OpenAPI description.
        responses=PROBLEMS,
    )
    app.state.engine = engine
    app.state.session_factory = db.session_factory(engine)
    app.state.clock = clock or SystemClock()
    app.state.policy = policy or clinic_policy()
    app.state.rate_limits = rate_limits.for_policy(app.state.policy)
    app.state.secure_cookies = os.environ.get("KETACLINIC_SECURE_COOKIES") == "1"
    errors.install(app)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(pages.router)
    app.include_router(second_factor_pages)
    app.include_router(clinic_pages)
    app.include_router(api.router)
    app.include_router(clinical_api)
    app.include_router(ledger_pages)
    app.include_router(ledger_api)
    app.include_router(rems_pages)
    app.include_router(rems_api)
    app.include_router(home_pages)
    app.include_router(home_api)
    app.include_router(plan_pages)
    app.include_router(plans_api)
    app.include_router(sessions_api)
    app.include_router(session_pages)
    app.include_router(outcome_pages)
    app.include_router(export_api)
    app.include_router(questionnaire_pages)
    app.include_router(questionnaire_api)
    app.include_router(admin.pages)
    app.include_router(admin.api)

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="ketaclinic API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/app.css",
        )

    return app
