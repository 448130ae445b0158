"""credit lines and their history; outbox kinds up to 32 characters, indexed by day

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 02:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_lines",
        sa.Column("borrower_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("partition_key", sa.Integer(), nullable=False),
        sa.Column("product_code", sa.String(length=41), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("decision_id", sa.BigInteger(), nullable=False),
        sa.Column("credit_limit", sa.BigInteger(), nullable=False),
        sa.Column("initial_limit", sa.BigInteger(), nullable=False),
        sa.Column("tier_max", sa.BigInteger(), nullable=False),
        sa.Column("step_up_after", sa.Integer(), nullable=False),
        sa.Column("step_up_factor", sa.String(length=12), nullable=False),
        sa.Column("on_time_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("on_time_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("late_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("step_ups", sa.Integer(), server_default="0", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("last_overdue_event_id", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "credit_limit > 0 AND credit_limit <= tier_max",
            name=op.f("ck_credit_lines_limit_in_tier"),
        ),
        sa.CheckConstraint(
            "step_up_after >= 1", name=op.f("ck_credit_lines_step_up_after_positive")
        ),
        sa.PrimaryKeyConstraint("borrower_id", name=op.f("pk_credit_lines")),
    )
    op.create_table(
        "credit_line_events",
        sa.Column("borrower_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("limit_before", sa.BigInteger(), nullable=False),
        sa.Column("limit_after", sa.BigInteger(), nullable=False),
        sa.Column("on_time_before", sa.Integer(), nullable=False),
        sa.Column("on_time_after", sa.Integer(), nullable=False),
        sa.Column("late_total", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.BigInteger(), nullable=True),
        sa.Column("loan_id", sa.BigInteger(), nullable=True),
        sa.Column("outbox_event_id", sa.BigInteger(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('OPENED', 'REBASED', 'STEPPED_UP', 'LATE')",
            name=op.f("ck_credit_line_events_kind"),
        ),
        sa.PrimaryKeyConstraint("borrower_id", "version", name=op.f("pk_credit_line_events")),
    )
    # CREDIT_LIMIT_STEPPED_UP is 23 characters. SQLite does not enforce VARCHAR lengths, and
    # rebuilding the outbox there (batch mode) for a length it ignores would copy every event.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "outbox", "kind", existing_type=sa.String(length=20), type_=sa.String(length=32)
        )
    # The end of day reads one day's BECAME_OVERDUE events per chunk (credit lines); the
    # collections strategy filters by day and kind too.
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_business_date_kind", ["business_date", "kind"])


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_business_date_kind")
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "outbox", "kind", existing_type=sa.String(length=32), type_=sa.String(length=20)
        )
    op.drop_table("credit_line_events")
    op.drop_table("credit_lines")
