"""credit lines carry the applicant key (the ID number's blind index) so a decision finds them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 03:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: a line whose decision row is missing has no key and is simply never matched.
    # SQLite adds a nullable column in place (no batch rebuild needed).
    op.add_column("credit_lines", sa.Column("applicant_key", sa.String(length=64), nullable=True))
    # Existing lines take the key of the decision that opened (or last rebased) them.
    op.execute(
        "UPDATE credit_lines SET applicant_key = (SELECT d.applicant_key FROM decisions d "
        "WHERE d.decision_id = credit_lines.decision_id)"
    )
    op.create_index("ix_credit_lines_applicant_key", "credit_lines", ["applicant_key"])


def downgrade() -> None:
    op.drop_index("ix_credit_lines_applicant_key", table_name="credit_lines")
    with op.batch_alter_table("credit_lines", schema=None) as batch_op:
        batch_op.drop_column("applicant_key")
