"""The records' store: one AssemblyRepo on SQLAlchemy Core for SQLite and PostgreSQL (`repo.SqlRepo`), its tables
(`tables`), and its schema's migrations (Alembic, shipped in `migrations/`), which run when a repository opens.

`python -m kalinsky_adapters.store [DATABASE_URL | DB_PATH]` creates or upgrades the schema."""
