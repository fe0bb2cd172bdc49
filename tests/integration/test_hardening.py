"""Hardening (issue 9, item 5): the security headers on pages and API answers, HSTS only over
HTTPS, a CSP that allows no inline script (and templates that have none), and the limit on
requests for patients' links, on SQLite and PostgreSQL.

Expected values by hand from the issue: HSTS is ``max-age=31536000; includeSubDomains`` (a year,
RFC 6797) when the request came over HTTPS and absent over HTTP; a link may be opened or posted
30 times a minute from one address (policy access.self_report_requests_per_minute), the 31st is
429 with Retry-After and stores nothing, wrong tokens count too (they are guesses), another
address is not affected, and a minute later the address may knock again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ketaclinic.policy import parse
from ketaclinic.services.self_report import send_link
from ketaclinic.store.models import AuditEvent, QuestionnaireResponse, SelfReportLink
from ketaclinic.web.app import create_app
from tests.integration.api_support import Api, open_api
from tests.integration.services_support import Clinic, open_clinic

TEMPLATES = Path(__file__).parents[2] / "src" / "ketaclinic" / "web" / "templates"
STRICT_TRANSPORT = "max-age=31536000; includeSubDomains"
PHQ9_FORM = {f"item_{n}": "1" for n in range(1, 10)}
ELSEWHERE = ("198.51.100.7", 50000)


@pytest.fixture
def web(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def over(web: Api, scheme: str, client: tuple[str, int] = ("testclient", 50000)) -> TestClient:
    return TestClient(
        web.app, base_url=f"{scheme}://testserver", client=client, follow_redirects=False
    )


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as {directive: [sources]}."""
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            found[words[0].lower()] = words[1:]
    return found


def _link(clinic: Clinic, patient_id: int, scale: str = "phq9") -> str:
    with clinic.work() as s:
        return send_link(s, clinic.nurse, clinic.clock, patient_id, scale).token


def _responses(clinic: Clinic) -> int:
    with clinic.factory() as s:
        return len(s.scalars(select(QuestionnaireResponse)).all())


# ---- headers ------------------------------------------------------------------------------------


def test_hsts_is_sent_over_https_on_pages_and_the_api(web: Api) -> None:
    secure = over(web, "https")
    patient = web.new_patient()
    answers = [
        secure.get("/sign-in"),
        secure.get(f"/patients/{patient}", headers=web.headers("nurse")),
        secure.get(f"/api/patients/{patient}", headers=web.headers("nurse")),
        secure.get("/api/patients/999999", headers=web.headers("nurse")),  # an error too
        secure.get("/r/not-a-link"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 404, 404]
    for answer in answers:
        assert answer.headers["strict-transport-security"] == STRICT_TRANSPORT


def test_no_hsts_over_plain_http(web: Api) -> None:
    plain = over(web, "http")
    patient = web.new_patient()
    for answer in (
        plain.get("/sign-in"),
        plain.get(f"/api/patients/{patient}", headers=web.headers("nurse")),
    ):
        assert answer.status_code == 200
        assert "strict-transport-security" not in answer.headers


def test_a_page_cannot_be_framed_cached_or_sniffed_and_sends_no_referrer_off_site(
    web: Api,
) -> None:
    patient = web.new_patient()
    page = web.get("nurse", f"/patients/{patient}")
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["cache-control"] == "no-store"
    policy = directives(page.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]


def test_an_api_answer_has_the_same_headers_and_a_policy_that_loads_nothing(web: Api) -> None:
    patient = web.new_patient()
    for answer in (
        web.get("nurse", f"/api/patients/{patient}"),
        web.get(None, f"/api/patients/{patient}"),  # 401
    ):
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["cache-control"] == "no-store"
        policy = directives(answer.headers["content-security-policy"])
        assert policy == {"default-src": ["'none'"], "frame-ancestors": ["'none'"]}


def test_the_api_docs_page_cannot_be_framed(web: Api) -> None:
    docs = web.http.get("/api/docs")
    assert docs.status_code == 200
    assert docs.headers["x-frame-options"] == "DENY"
    assert directives(docs.headers["content-security-policy"])["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize("path", ["/sign-in", "/r/not-a-link"])
def test_the_page_policy_allows_scripts_from_this_server_only(web: Api, path: str) -> None:
    policy = directives(web.http.get(path).headers["content-security-policy"])
    # Without script-src, scripts fall back to default-src (CSP level 3, 6.1.3).
    scripts = policy.get("script-src", policy["default-src"])
    assert scripts == ["'self'"]
    assert "script-src-elem" not in policy and "script-src-attr" not in policy


# ---- no inline scripts in the templates ---------------------------------------------------------

SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
HANDLER = re.compile(r"<[a-z][^<>]*?\son[a-z]+\s*=", re.IGNORECASE | re.DOTALL)
HTMX_HANDLER = re.compile(r"\shx-on[:\-]", re.IGNORECASE)
SCRIPT_URL = re.compile(r"(?:javascript|js):", re.IGNORECASE)


def inline_script_problems(name: str, text: str) -> list[str]:
    """What in one template (or page) would need 'unsafe-inline' or 'unsafe-eval' to run."""
    problems = []
    if text.lower().count("<script") != len(SCRIPT.findall(text)):
        problems.append(f"{name}: a <script> tag that is not closed where it opens")
    for attributes, body in SCRIPT.findall(text):
        if "src=" not in attributes:
            problems.append(f"{name}: <script{attributes}> without src")
        if body.strip():
            problems.append(f"{name}: inline script {body.strip()[:40]!r}")
    problems += [f"{name}: event handler {m.group(0)[-30:]!r}" for m in HANDLER.finditer(text)]
    problems += [f"{name}: htmx handler {m.group(0)!r}" for m in HTMX_HANDLER.finditer(text)]
    problems += [f"{name}: script URL {m.group(0)!r}" for m in SCRIPT_URL.finditer(text)]
    return problems


def test_the_scanner_finds_what_it_looks_for() -> None:
    """The scan must be able to fail: each kind of inline script is caught."""
    bad = {
        "inline": "<script>alert(1)</script>",
        "inline with type": '<script type="module">go()</script>',
        "src and body": '<script src="/static/a.js">alert(1)</script>',
        "handler": '<button class="x" onclick="go()">Go</button>',
        "handler on a new line": '<body\n  onload="go()">',
        "htmx handler": '<form hx-on:submit="go()">',
        "script url": '<a href="javascript:go()">Go</a>',
        "unclosed": "<script src=/static/a.js>",
    }
    for name, text in bad.items():
        assert inline_script_problems(name, text), name
    good = '<script src="/static/pages.js" defer></script><p>Carry on: no online forms</p>'
    assert inline_script_problems("good", good) == []


def test_no_template_has_an_inline_script_or_event_handler() -> None:
    names = sorted(TEMPLATES.rglob("*.html"))
    assert len(names) > 40  # the scan read the templates, not an empty folder
    problems = [
        problem
        for path in names
        for problem in inline_script_problems(path.name, path.read_text(encoding="utf-8"))
    ]
    assert problems == []


def test_served_pages_have_no_inline_script(web: Api) -> None:
    """The templates as rendered (htmx and the chart's own script are files from /static)."""
    patient = web.new_patient()
    token = _link(web.clinic, patient)
    pages = {
        "sign-in": web.http.get("/sign-in"),
        "chart": web.get("prescriber", f"/patients/{patient}"),
        "patients": web.get("front_desk", "/patients"),
        "self-report": web.http.get(f"/r/{token}"),
    }
    assert {name: page.status_code for name, page in pages.items()} == dict.fromkeys(pages, 200)
    assert '<script src="/static/vendor/htmx.min.js"' in pages["chart"].text
    for name, page in pages.items():
        assert inline_script_problems(name, page.text) == []


# ---- the limit on patients' links ---------------------------------------------------------------


def test_the_31st_link_request_in_a_minute_is_refused_and_stores_nothing(web: Api) -> None:
    patient = web.new_patient()
    token = _link(web.clinic, patient)
    for _ in range(29):
        assert web.http.get(f"/r/{token}").status_code == 200
    assert web.http.get("/r/a-wrong-token").status_code == 404  # the 30th: a guess counts
    before = web.counts()

    refused = web.http.post(f"/r/{token}", data=PHQ9_FORM)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"  # all 30 at the same instant: a minute
    assert "text/html" in refused.headers["content-type"]
    assert "Try again in 60 s" in refused.text
    assert web.http.get(f"/r/{token}").status_code == 429
    assert web.counts() == before  # no answer, no audit row, the link unused

    # Another address is not affected.
    assert over(web, "http", ELSEWHERE).get(f"/r/{token}").status_code == 200

    web.clinic.clock.advance(seconds=45)
    later = web.http.get(f"/r/{token}")
    assert (later.status_code, later.headers["retry-after"]) == (429, "15")
    web.clinic.clock.advance(seconds=15)
    sent = web.http.post(f"/r/{token}", data=PHQ9_FORM)
    assert sent.status_code == 200
    assert _responses(web.clinic) == 1
    with web.clinic.factory() as s:
        link = s.scalars(select(SelfReportLink)).one()
        assert link.used_at == web.clinic.clock.now()


def test_guessing_tokens_uses_up_the_allowance(web: Api) -> None:
    patient = web.new_patient()
    token = _link(web.clinic, patient)
    for guess in range(30):
        assert web.http.get(f"/r/guess-{guess}").status_code == 404
    before = web.counts()
    assert web.http.get(f"/r/{token}").status_code == 429
    assert web.http.post(f"/r/{token}", data=PHQ9_FORM).status_code == 429
    assert web.http.post(f"/r/guess-{31}", data=PHQ9_FORM).status_code == 429
    assert web.counts() == before
    with web.clinic.factory() as s:
        refusals = s.scalars(select(AuditEvent).where(AuditEvent.action == "refused")).all()
        assert len(refusals) == 30  # each guess let through was audited; the refused ones not


def test_the_staff_pages_do_not_share_the_links_allowance(web: Api) -> None:
    patient = web.new_patient()
    for guess in range(30):
        web.http.get(f"/r/guess-{guess}")
    assert web.get("nurse", f"/patients/{patient}/questionnaires").status_code == 200
    assert web.get("nurse", f"/api/patients/{patient}").status_code == 200


def test_the_allowance_is_the_policys(database_url: str) -> None:
    policy = parse("[access]\nself_report_requests_per_minute = 2\n")
    with open_clinic(database_url) as clinic:
        patient = clinic.register().id
        token = _link(clinic, patient)
        app = create_app(database_url, clinic.clock, policy)
        try:
            http = TestClient(app, follow_redirects=False)
            assert [http.get(f"/r/{token}").status_code for _ in range(3)] == [200, 200, 429]
        finally:
            app.state.engine.dispose()


# ---- the dependency audit -----------------------------------------------------------------------

MAKEFILE = Path(__file__).parents[2] / "Makefile"
RULE = re.compile(r"^([^\s:=#][^:=]*):(?!=)\s*(.*)$")


def make_rules() -> dict[str, tuple[list[str], list[str]]]:
    """The Makefile's rules: target -> (prerequisites, recipe lines)."""
    rules: dict[str, tuple[list[str], list[str]]] = {}
    recipe: list[str] = []
    for line in MAKEFILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("\t"):
            recipe.append(line.strip())
            continue
        found = RULE.match(line)
        if found:
            recipe = []
            for target in found.group(1).split():
                rules[target] = (found.group(2).split(), recipe)
    return rules


def test_make_audit_runs_pip_audit_and_make_test_does_not() -> None:
    rules = make_rules()
    prerequisites, recipe = rules["audit"]
    assert prerequisites == ["install"]
    assert recipe == ["$(VENV)/bin/pip-audit --skip-editable --progress-spinner off"]
    assert "audit" in rules[".PHONY"][0]
    # Everything `make test` runs, prerequisites followed to the end: no audit among them.
    reached, waiting = set(), ["test"]
    while waiting:
        target = waiting.pop()
        if target in reached or target not in rules:
            continue
        reached.add(target)
        waiting += rules[target][0]
    assert {"test", "lint", "install"} <= reached
    assert "audit" not in reached
    assert not [line for t in reached for line in rules[t][1] if "pip-audit" in line]


def test_a_defects_500_carries_the_same_headers(web: Api) -> None:
    # Starlette answers an unhandled exception outside the app's middleware, so the 500 handler
    # must add the headers itself: a page and an API answer, over HTTPS.
    @web.app.get("/test-defect-page")
    def page_defect() -> None:
        raise ValueError("a defect")

    @web.app.get("/api/test-defect")
    def api_defect() -> None:
        raise ValueError("a defect")

    client = TestClient(web.app, base_url="https://testserver", raise_server_exceptions=False)
    for path, policy in (
        ("/test-defect-page", "default-src 'self'"),
        ("/api/test-defect", "default-src 'none'"),
    ):
        answer = client.get(path)
        assert answer.status_code == 500
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Strict-Transport-Security"] == STRICT_TRANSPORT
        assert answer.headers["Content-Security-Policy"].startswith(policy)
