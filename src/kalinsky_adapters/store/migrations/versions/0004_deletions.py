"""The assemblies deleted lately, as they were, for the change feeds of every process sharing the records.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deletions",
        sa.Column("revision", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("assembly_id", sa.Text, nullable=False),
        sa.Column("deleted", sa.Float, nullable=False),
        sa.Column("assembly", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("deletions")
