"""The records' schema as the first migration makes it: what every Kalinsky stored before migrations (the tables
and columns its `CREATE TABLE IF NOT EXISTS` script and added columns left). Frozen: later changes are migrations.

Databases made before migrations carry no version; `bring_up` gives them whatever of this schema they lack, so
that they can be stamped at the first revision and upgraded from there."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

#: The first revision's id.
REVISION = "0001"


def define(metadata: sa.MetaData) -> None:
    """The first schema's tables, on `metadata`."""
    sa.Table(
        "sources", metadata,
        sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("filename", sa.Text, nullable=False, unique=True),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("resolution", sa.Text, nullable=False),
        sa.Column("codec", sa.Text, nullable=False),
        sa.Column("file_size", sa.BigInteger, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("frame_rate", sa.Text, nullable=False),
        sa.Column("has_audio", sa.Integer, nullable=False),
        sa.Column("coding", sa.Text),  # JSON of VideoCoding, NULL when unknown
        sa.Column("keyframes", sa.Text, nullable=False, server_default="[]"),  # JSON array of frame indices
        sa.Column("frame_count", sa.Integer),
        sa.Column("copy_ends", sa.Text, nullable=False, server_default="[]"),  # JSON array of frame indices
        sa.Column("identity", sa.Text),  # JSON of FileIdentity, NULL when indexed without one
        sa.Column("audio", sa.Text),  # JSON {codec, duration} of the first audio stream, NULL when unrecorded
    )
    sa.Table(
        "assemblies", metadata,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("preview", sa.Integer, nullable=False),
        sa.Column("output_url", sa.Text),  # no longer written: where results live is the outputs' business
        sa.Column("duration", sa.Float),
        sa.Column("created", sa.Text, nullable=False),
        sa.Column("progress", sa.Float, nullable=False, server_default="0"),
        sa.Column("eta_seconds", sa.Float),
        sa.Column("callback_url", sa.Text),  # told when the assembly finishes; NULL when none was asked for
        sa.Column("callback_status", sa.Text),
        sa.Column("callback_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("callback_error", sa.Text),
    )
    sa.Table(
        "clips", metadata,
        sa.Column("assembly_id", sa.Text, sa.ForeignKey("assemblies.id"), primary_key=True),
        sa.Column("pos", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("start", sa.Float, nullable=False),
        sa.Column("end", sa.Float, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("video", sa.Text, nullable=False, server_default="reencode"),
    )
    sa.Table(
        "reports", metadata,
        sa.Column("assembly_id", sa.Text, sa.ForeignKey("assemblies.id"), primary_key=True),
        sa.Column("report", sa.Text, nullable=False),  # JSON of RenderReport
    )
    # kalinsky's own bookkeeping: whether an index was ever made, the last assembly number handed out
    sa.Table(
        "meta", metadata,
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def tables() -> sa.MetaData:
    metadata = sa.MetaData()
    define(metadata)
    return metadata


def is_unversioned(connection: sa.Connection) -> bool:
    """Whether the database holds records of a Kalinsky from before migrations (some of its tables, no version)."""
    names = set(sa.inspect(connection).get_table_names())
    return "alembic_version" not in names and bool(names & set(tables().tables))


def bring_up(connection: sa.Connection) -> None:
    """Give an unversioned database the tables and columns of the first schema it lacks (columns added since the
    first release have defaults or allow NULL, so the rows it holds stay as they are)."""
    first = tables()
    first.create_all(connection, checkfirst=True)
    inspector = sa.inspect(connection)
    operations = Operations(MigrationContext.configure(connection))
    for table in first.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                operations.add_column(table.name, sa.Column(
                    column.name, column.type, nullable=column.nullable, server_default=column.server_default
                ))
