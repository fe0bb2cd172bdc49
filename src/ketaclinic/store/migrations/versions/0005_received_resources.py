"""resources received from other clinics (imported types the clinic keeps no records of)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "received_resources"
# What a received resource says, where it came from and who took it in never change; only its
# ``state`` may (current -> superseded when a version marking it in error is added), as for the
# clinical rows. Rows are never deleted.
FIXED = (
    "id",
    "patient_id",
    "resource_type",
    "resource",
    "content_sha256",
    "import_id",
    "supersedes_id",
    "recorded_at",
    "recorded_by_id",
    "reason",
)


def _only_state_changes() -> None:
    columns = ", ".join(FIXED)
    if op.get_bind().dialect.name == "postgresql":
        # ketaclinic_append_only() comes from 0001.
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OF {columns} OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION ketaclinic_append_only()"
        )
        return
    for verb, event in (("update", f"UPDATE OF {columns}"), ("delete", "DELETE")):
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_{verb} BEFORE {event} ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} rows are append-only'); END"
        )


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_id"], ["imports.id"], name=op.f("fk_received_resources_import_id_imports")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_received_resources_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_received_resources_recorded_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_resources")),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_received_resources_content_sha256"), ["content_sha256"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_received_resources_patient_id"), ["patient_id"], unique=False
        )
    _only_state_changes()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
    # SQLite drops a table's triggers with it.
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_received_resources_patient_id"))
        batch_op.drop_index(batch_op.f("ix_received_resources_content_sha256"))
    op.drop_table(TABLE)
