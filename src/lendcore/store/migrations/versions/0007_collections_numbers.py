"""collections: the dialled number's blind index on attempts, and a lock row per number

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collection_numbers",
        sa.Column("phone_index", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone_index", name=op.f("pk_collection_numbers")),
    )
    with op.batch_alter_table("collection_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_index", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ix_collection_attempts_phone_index", ["phone_index", "requested_at"], unique=False
        )
    # Attempts made before this revision: the number their contact point holds now.
    op.execute(
        """
        UPDATE collection_attempts SET phone_index = (
            SELECT c.phone_index FROM collection_contacts c
            WHERE c.borrower_id = collection_attempts.borrower_id
              AND c.contact_id = COALESCE(collection_attempts.contact_id, 'self')
        )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("collection_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_collection_attempts_phone_index")
        batch_op.drop_column("phone_index")
    op.drop_table("collection_numbers")
