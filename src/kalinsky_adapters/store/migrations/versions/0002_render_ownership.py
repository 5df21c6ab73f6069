"""Who renders what: an assembly's worker, lease, attempts and phase, the live workers, the change revision, and an
explicit creation order (SQLite's rowid before, which PostgreSQL has no counterpart of).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None



def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("worker", sa.Text),
        sa.Column("lease_until", sa.Float),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("phase", sa.Text),
        sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"),
    ]


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    # A database of the release just before migrations may have some of these already.
    present = {column["name"] for column in inspector.get_columns("assemblies")}
    for column in _columns():
        if column.name not in present:
            op.add_column("assemblies", column)
    if "workers" not in inspector.get_table_names():
        op.create_table(
            "workers",
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("seen", sa.Float, nullable=False),
            sa.Column("renders", sa.Integer, nullable=False),
        )
    assemblies = sa.table("assemblies", sa.column("status"), sa.column("phase"), sa.column("seq"), sa.column("id"))
    op.execute(assemblies.update().where(assemblies.c.status == "processing", assemblies.c.phase.is_(None))
               .values(phase="queued"))
    # Creation order: SQLite's rowid, which the first schema listed by; PostgreSQL (no rowid) by creation time.
    if bind.dialect.name == "sqlite":
        op.execute("UPDATE assemblies SET seq = rowid")
    else:
        op.execute(
            "UPDATE assemblies SET seq = ordered.n FROM "
            "(SELECT id, row_number() OVER (ORDER BY created, id) AS n FROM assemblies) AS ordered "
            "WHERE assemblies.id = ordered.id"
        )
    op.create_index("assemblies_seq", "assemblies", ["seq"])
    op.create_index("assemblies_revision", "assemblies", ["revision"])
    # New assemblies take the store's revision as their place in the order: it must be past every one of these.
    meta = sa.table("meta", sa.column("key"), sa.column("value"))
    last = bind.execute(sa.select(sa.func.coalesce(sa.func.max(assemblies.c.seq), 0))).scalar_one()
    revision_now = bind.execute(sa.select(meta.c.value).where(meta.c.key == "revision")).scalar_one_or_none()
    if revision_now is None:
        op.execute(meta.insert().values(key="revision", value=last))
    elif revision_now < last:
        op.execute(meta.update().where(meta.c.key == "revision").values(value=last))


def downgrade() -> None:
    op.drop_index("assemblies_revision", "assemblies")
    op.drop_index("assemblies_seq", "assemblies")
    op.drop_table("workers")
    with op.batch_alter_table("assemblies") as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)
