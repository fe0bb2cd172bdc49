"""Records in a database: SQLAlchemy 2 models, Alembic migrations, SQLite or PostgreSQL."""
