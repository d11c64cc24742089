"""Alembic migrations (env.py + versions/); run them with `countersign migrate`."""
