"""collections: the investigation-authorisation register, and the expiry of the one in force

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 02:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collection_investigations",
        sa.Column("borrower_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("loan_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("authorised_by", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("authorised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=40), nullable=True),
        sa.Column("revoke_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "expires_at > authorised_at",
            name=op.f("ck_collection_investigations_expires_after_authorised"),
        ),
        sa.PrimaryKeyConstraint(
            "borrower_id", "loan_id", "reference", name=op.f("pk_collection_investigations")
        ),
    )
    with op.batch_alter_table("collection_investigations", schema=None) as batch_op:
        batch_op.create_index("ix_collection_investigations_loan_id", ["loan_id"], unique=False)
    # An authorisation recorded before this revision has no expiry: the gate no longer honours
    # it (fail-closed); it must be recorded again with one.
    with op.batch_alter_table("collection_loan_flags", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("investigation_expires_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("collection_loan_flags", schema=None) as batch_op:
        batch_op.drop_column("investigation_expires_at")
    with op.batch_alter_table("collection_investigations", schema=None) as batch_op:
        batch_op.drop_index("ix_collection_investigations_loan_id")
    op.drop_table("collection_investigations")
