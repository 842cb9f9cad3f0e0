"""The store's Alembic environment and revisions (shipped in the wheel)."""
