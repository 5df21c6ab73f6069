"""The first schema: sources, assemblies with their clips and reports, and the bookkeeping numbers.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from kalinsky_adapters.store import first_schema

revision = first_schema.REVISION
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    first_schema.tables().create_all(op.get_bind())


def downgrade() -> None:
    first_schema.tables().drop_all(op.get_bind())
