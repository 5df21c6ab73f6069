"""Who delivers a finished assembly's notice to its callback URL: a deliverer and its lease, so that of several
processes sharing the records exactly one delivers it at a time.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("assemblies", sa.Column("callback_deliverer", sa.Text))
    op.add_column("assemblies", sa.Column("callback_lease_until", sa.Float))
    op.create_index("assemblies_callback_status", "assemblies", ["callback_status"])  # the notices to deliver


def downgrade() -> None:
    op.drop_index("assemblies_callback_status", "assemblies")
    with op.batch_alter_table("assemblies") as batch:
        batch.drop_column("callback_lease_until")
        batch.drop_column("callback_deliverer")
