"""Persistence: typed SQLAlchemy models, repositories, unit of work, cache and locks."""
