"""treatment plans, sessions, REMS, home programme, questionnaires

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:49:09.643480
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# What was given and measured at the chair is a record: never changed, corrections are new rows.
APPEND_ONLY = (
    "treatment_plan_versions",
    "treatment_plan_events",
    "session_events",
    "session_vitals",
    "session_doses",
    "session_scores",
)


def _append_only(tables: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        # ketaclinic_append_only() comes from 0001.
        for table in tables:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ketaclinic_append_only()"
            )
        return
    for table in tables:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END"
            )


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "questionnaire_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("scale", sa.String(length=20), nullable=False),
        sa.Column("before_each_session", sa.Boolean(), nullable=False),
        sa.Column("every_days", sa.Integer(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_questionnaire_assignments_created_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_questionnaire_assignments_patient_id_patients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_assignments")),
    )
    with op.batch_alter_table("questionnaire_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_questionnaire_assignments_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "rems_enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_rems_enrolments_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_rems_enrolments_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rems_enrolments")),
    )
    with op.batch_alter_table("rems_enrolments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rems_enrolments_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "self_report_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("scale", sa.String(length=20), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_self_report_links_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_self_report_links_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_report_links")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_self_report_links_token_sha256")),
    )
    with op.batch_alter_table("self_report_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_self_report_links_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "treatment_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=20), nullable=False),
        sa.Column("indication", sa.String(length=40), nullable=False),
        sa.Column("screening_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("integration_sessions", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_treatment_plans_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_treatment_plans_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["screening_id"],
            ["screenings.id"],
            name=op.f("fk_treatment_plans_screening_id_screenings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatment_plans")),
    )
    with op.batch_alter_table("treatment_plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_treatment_plans_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("patient_typed_name", sa.String(length=200), nullable=True),
        sa.Column("patient_drawn_png", sa.LargeBinary(), nullable=True),
        sa.Column("patient_signed_at", sa.DateTime(), nullable=True),
        sa.Column("clinician_id", sa.Integer(), nullable=True),
        sa.Column("clinician_signed_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinician_id"], ["users.id"], name=op.f("fk_consents_clinician_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_consents_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["treatment_plans.id"], name=op.f("fk_consents_plan_id_treatment_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consents_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "home_checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("sitter_present", sa.Boolean(), nullable=True),
        sa.Column("no_driving", sa.Boolean(), nullable=True),
        sa.Column("side_effects", sa.String(length=1000), nullable=True),
        sa.Column("reported_by", sa.String(length=20), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["treatment_plans.id"],
            name=op.f("fk_home_checkins_plan_id_treatment_plans"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_home_checkins_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_home_checkins")),
    )
    with op.batch_alter_table("home_checkins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_home_checkins_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "pdmp_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["by_id"], ["users.id"], name=op.f("fk_pdmp_checks_by_id_users")),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["treatment_plans.id"], name=op.f("fk_pdmp_checks_plan_id_treatment_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pdmp_checks")),
    )
    with op.batch_alter_table("pdmp_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pdmp_checks_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "treatment_plan_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_id"], ["users.id"], name=op.f("fk_treatment_plan_events_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["treatment_plans.id"],
            name=op.f("fk_treatment_plan_events_plan_id_treatment_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatment_plan_events")),
    )
    with op.batch_alter_table("treatment_plan_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_treatment_plan_events_plan_id"), ["plan_id"], unique=False
        )

    op.create_table(
        "treatment_plan_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("dose_mg", sa.Float(), nullable=True),
        sa.Column("mg_per_kg", sa.Float(), nullable=True),
        sa.Column("infusion_minutes", sa.Integer(), nullable=True),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("weight_on", sa.Date(), nullable=True),
        sa.Column("dose", sa.Text(), nullable=False),
        sa.Column("schedule", sa.Text(), nullable=False),
        sa.Column("cost", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_treatment_plan_versions_created_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["treatment_plans.id"],
            name=op.f("fk_treatment_plan_versions_plan_id_treatment_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatment_plan_versions")),
        sa.UniqueConstraint("plan_id", "version", name=op.f("uq_treatment_plan_versions_plan_id")),
    )
    with op.batch_alter_table("treatment_plan_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_treatment_plan_versions_plan_id"), ["plan_id"], unique=False
        )

    op.create_table(
        "treatment_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=True),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(), nullable=True),
        sa.Column("chair", sa.String(length=40), nullable=True),
        sa.Column("planned_mg", sa.Float(), nullable=True),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("state_at", sa.DateTime(), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(), nullable=True),
        sa.Column("dosing_started_at", sa.DateTime(), nullable=True),
        sa.Column("dosing_ended_at", sa.DateTime(), nullable=True),
        sa.Column("observation_ends_at", sa.DateTime(), nullable=True),
        sa.Column("discharged_at", sa.DateTime(), nullable=True),
        sa.Column("stop_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_treatment_sessions_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["treatment_plans.id"],
            name=op.f("fk_treatment_sessions_plan_id_treatment_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatment_sessions")),
        sa.UniqueConstraint(
            "plan_id", "kind", "number", name=op.f("uq_treatment_sessions_plan_id")
        ),
    )
    with op.batch_alter_table("treatment_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_treatment_sessions_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_treatment_sessions_plan_id"), ["plan_id"], unique=False
        )
        batch_op.create_index("ix_treatment_sessions_planned_on", ["planned_on"], unique=False)

    op.create_table(
        "adverse_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("onset_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_adverse_events_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_adverse_events_recorded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_adverse_events_session_id_treatment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adverse_events")),
    )
    with op.batch_alter_table("adverse_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_adverse_events_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_adverse_events_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "home_prescriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("pdmp_check_id", sa.Integer(), nullable=False),
        sa.Column("dose_mg", sa.Float(), nullable=False),
        sa.Column("doses", sa.Integer(), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_id"], ["users.id"], name=op.f("fk_home_prescriptions_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["pdmp_check_id"],
            ["pdmp_checks.id"],
            name=op.f("fk_home_prescriptions_pdmp_check_id_pdmp_checks"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["treatment_plans.id"],
            name=op.f("fk_home_prescriptions_plan_id_treatment_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_home_prescriptions")),
    )
    with op.batch_alter_table("home_prescriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_home_prescriptions_plan_id"), ["plan_id"], unique=False
        )

    op.create_table(
        "questionnaire_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("scale", sa.String(length=20), nullable=False),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("band", sa.String(length=40), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["self_report_links.id"],
            name=op.f("fk_questionnaire_responses_link_id_self_report_links"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_questionnaire_responses_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_questionnaire_responses_recorded_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_questionnaire_responses_session_id_treatment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_responses")),
    )
    with op.batch_alter_table("questionnaire_responses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_questionnaire_responses_patient_scale", ["patient_id", "scale"], unique=False
        )

    op.create_table(
        "rems_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("form_version", sa.String(length=20), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("submission_reference", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_rems_forms_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_rems_forms_session_id_treatment_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"], ["users.id"], name=op.f("fk_rems_forms_submitted_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rems_forms")),
        sa.UniqueConstraint("session_id", name=op.f("uq_rems_forms_session_id")),
    )
    op.create_table(
        "session_discharges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("alert_and_oriented", sa.Boolean(), nullable=False),
        sa.Column("escort_present", sa.Boolean(), nullable=False),
        sa.Column("no_driving_acknowledged", sa.Boolean(), nullable=False),
        sa.Column("blockers", sa.Text(), nullable=False),
        sa.Column("override_reason", sa.String(length=500), nullable=True),
        sa.Column("override_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_id"], ["users.id"], name=op.f("fk_session_discharges_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["override_by_id"],
            ["users.id"],
            name=op.f("fk_session_discharges_override_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_session_discharges_session_id_treatment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_discharges")),
        sa.UniqueConstraint("session_id", name=op.f("uq_session_discharges_session_id")),
    )
    op.create_table(
        "session_doses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("drug", sa.String(length=20), nullable=False),
        sa.Column("route", sa.String(length=20), nullable=False),
        sa.Column("dose_mg", sa.Float(), nullable=False),
        sa.Column("lot", sa.String(length=60), nullable=False),
        sa.Column("device_number", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("outside_plan", sa.Boolean(), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.Column("confirmation_reason", sa.String(length=500), nullable=True),
        sa.Column("ledger_seq", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"], ["users.id"], name=op.f("fk_session_doses_confirmed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_session_doses_recorded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_session_doses_session_id_treatment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_doses")),
    )
    with op.batch_alter_table("session_doses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_doses_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "session_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("from_state", sa.String(length=30), nullable=False),
        sa.Column("to_state", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("data", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_id"], ["users.id"], name=op.f("fk_session_events_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_session_events_session_id_treatment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_events")),
    )
    with op.batch_alter_table("session_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_events_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "session_predose_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("screening_id", sa.Integer(), nullable=True),
        sa.Column("systolic", sa.Float(), nullable=True),
        sa.Column("diastolic", sa.Float(), nullable=True),
        sa.Column("pregnancy_test_ok", sa.Boolean(), nullable=True),
        sa.Column("fasting_confirmed", sa.Boolean(), nullable=True),
        sa.Column("rems_confirmed", sa.Boolean(), nullable=True),
        sa.Column("escort_confirmed", sa.Boolean(), nullable=False),
        sa.Column("benzodiazepine_today", sa.Boolean(), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("confirmation_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_id"], ["users.id"], name=op.f("fk_session_predose_checks_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"],
            ["users.id"],
            name=op.f("fk_session_predose_checks_confirmed_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["screening_id"],
            ["screenings.id"],
            name=op.f("fk_session_predose_checks_screening_id_screenings"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_session_predose_checks_session_id_treatment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_predose_checks")),
    )
    with op.batch_alter_table("session_predose_checks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_predose_checks_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "session_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("scale", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_session_scores_recorded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_session_scores_session_id_treatment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_scores")),
    )
    with op.batch_alter_table("session_scores", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_scores_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "session_vitals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("systolic", sa.Float(), nullable=True),
        sa.Column("diastolic", sa.Float(), nullable=True),
        sa.Column("heart_rate", sa.Float(), nullable=True),
        sa.Column("spo2", sa.Float(), nullable=True),
        sa.Column("respiratory_rate", sa.Float(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_session_vitals_recorded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_session_vitals_session_id_treatment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_vitals")),
    )
    with op.batch_alter_table("session_vitals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_vitals_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "home_doses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("prescription_id", sa.Integer(), nullable=False),
        sa.Column("checkin_id", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("dose_mg", sa.Float(), nullable=False),
        sa.Column("reported_by", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["checkin_id"],
            ["home_checkins.id"],
            name=op.f("fk_home_doses_checkin_id_home_checkins"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["treatment_plans.id"], name=op.f("fk_home_doses_plan_id_treatment_plans")
        ),
        sa.ForeignKeyConstraint(
            ["prescription_id"],
            ["home_prescriptions.id"],
            name=op.f("fk_home_doses_prescription_id_home_prescriptions"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_home_doses_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_home_doses")),
    )
    with op.batch_alter_table("home_doses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_home_doses_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "safety_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("action_taken", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"],
            ["users.id"],
            name=op.f("fk_safety_alerts_acknowledged_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_safety_alerts_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["questionnaire_responses.id"],
            name=op.f("fk_safety_alerts_response_id_questionnaire_responses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_alerts")),
    )
    with op.batch_alter_table("safety_alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_safety_alerts_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "session_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("vitals_id", sa.Integer(), nullable=True),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("action_taken", sa.String(length=500), nullable=True),
        sa.Column("infusion_stopped", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"],
            ["users.id"],
            name=op.f("fk_session_alerts_acknowledged_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_session_alerts_session_id_treatment_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["vitals_id"],
            ["session_vitals.id"],
            name=op.f("fk_session_alerts_vitals_id_session_vitals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_alerts")),
    )
    with op.batch_alter_table("session_alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_alerts_session_id"), ["session_id"], unique=False
        )

    _append_only(APPEND_ONLY)


def downgrade() -> None:
    with op.batch_alter_table("session_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_alerts_session_id"))

    op.drop_table("session_alerts")
    with op.batch_alter_table("safety_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safety_alerts_patient_id"))

    op.drop_table("safety_alerts")
    with op.batch_alter_table("home_doses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_home_doses_plan_id"))

    op.drop_table("home_doses")
    with op.batch_alter_table("session_vitals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_vitals_session_id"))

    op.drop_table("session_vitals")
    with op.batch_alter_table("session_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_scores_session_id"))

    op.drop_table("session_scores")
    with op.batch_alter_table("session_predose_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_predose_checks_session_id"))

    op.drop_table("session_predose_checks")
    with op.batch_alter_table("session_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_events_session_id"))

    op.drop_table("session_events")
    with op.batch_alter_table("session_doses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_doses_session_id"))

    op.drop_table("session_doses")
    op.drop_table("session_discharges")
    op.drop_table("rems_forms")
    with op.batch_alter_table("questionnaire_responses", schema=None) as batch_op:
        batch_op.drop_index("ix_questionnaire_responses_patient_scale")

    op.drop_table("questionnaire_responses")
    with op.batch_alter_table("home_prescriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_home_prescriptions_plan_id"))

    op.drop_table("home_prescriptions")
    with op.batch_alter_table("adverse_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adverse_events_session_id"))
        batch_op.drop_index(batch_op.f("ix_adverse_events_patient_id"))

    op.drop_table("adverse_events")
    with op.batch_alter_table("treatment_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_treatment_sessions_planned_on")
        batch_op.drop_index(batch_op.f("ix_treatment_sessions_plan_id"))
        batch_op.drop_index(batch_op.f("ix_treatment_sessions_patient_id"))

    op.drop_table("treatment_sessions")
    with op.batch_alter_table("treatment_plan_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_treatment_plan_versions_plan_id"))

    op.drop_table("treatment_plan_versions")
    with op.batch_alter_table("treatment_plan_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_treatment_plan_events_plan_id"))

    op.drop_table("treatment_plan_events")
    with op.batch_alter_table("pdmp_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pdmp_checks_plan_id"))

    op.drop_table("pdmp_checks")
    with op.batch_alter_table("home_checkins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_home_checkins_plan_id"))

    op.drop_table("home_checkins")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consents_plan_id"))

    op.drop_table("consents")
    with op.batch_alter_table("treatment_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_treatment_plans_patient_id"))

    op.drop_table("treatment_plans")
    with op.batch_alter_table("self_report_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_self_report_links_patient_id"))

    op.drop_table("self_report_links")
    with op.batch_alter_table("rems_enrolments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rems_enrolments_patient_id"))

    op.drop_table("rems_enrolments")
    with op.batch_alter_table("questionnaire_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_questionnaire_assignments_patient_id"))

    op.drop_table("questionnaire_assignments")
