"""The records' tables as the latest migration leaves them (SQLAlchemy Core), for SQLite and PostgreSQL alike.

JSON values are stored as text; booleans as 0/1, as the first schema had them. Times of leases and heartbeats are
seconds on the repository's clock (unix time by default)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

sources = sa.Table(
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

assemblies = sa.Table(
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
    sa.Column("callback_deliverer", sa.Text),  # the process delivering the notice now, NULL when nobody does
    sa.Column("callback_lease_until", sa.Float),  # when the deliverer's lease runs out
    sa.Column("worker", sa.Text),  # host:pid of the process rendering it, NULL while queued and once finished
    sa.Column("lease_until", sa.Float),  # when the worker's lease runs out
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("phase", sa.Text),  # queued, rendering, joining; NULL once finished
    sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"),  # the store's revision at its last change
    sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"),  # creation order: the store's revision then
    sa.Index("assemblies_seq", "seq"),
    sa.Index("assemblies_revision", "revision"),
    sa.Index("assemblies_callback_status", "callback_status"),
)

workers = sa.Table(
    "workers", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("seen", sa.Float, nullable=False),  # when it last said it was alive
    sa.Column("renders", sa.Integer, nullable=False),
)

clips = sa.Table(
    "clips", metadata,
    sa.Column("assembly_id", sa.Text, sa.ForeignKey("assemblies.id"), primary_key=True),
    sa.Column("pos", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("start", sa.Float, nullable=False),
    sa.Column("end", sa.Float, nullable=False),
    sa.Column("duration", sa.Float, nullable=False),
    sa.Column("video", sa.Text, nullable=False, server_default="reencode"),
)

reports = sa.Table(
    "reports", metadata,
    sa.Column("assembly_id", sa.Text, sa.ForeignKey("assemblies.id"), primary_key=True),
    sa.Column("report", sa.Text, nullable=False),  # JSON of RenderReport
)

#: Assemblies deleted lately, as they were, for the change feeds of every process; kept a while, then pruned.
deletions = sa.Table(
    "deletions", metadata,
    sa.Column("revision", sa.BigInteger, primary_key=True, autoincrement=False),  # the store's revision then
    sa.Column("assembly_id", sa.Text, nullable=False),
    sa.Column("deleted", sa.Float, nullable=False),  # when, on the repository's clock
    sa.Column("assembly", sa.Text, nullable=False),  # JSON of the record as it was
)

#: Kalinsky's own bookkeeping, one number per key: `indexed` (an index was made), `assembly_sequence` (the last
#: assembly number handed out), `revision` (the store's revision: raised by every change of an assembly, every
#: delete and every new index), `index_revision` (the store's revision when the index was last replaced).
meta = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
