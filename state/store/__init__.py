"""Persistence behind one small async interface (see base.py)."""

from __future__ import annotations

from state.config import Config
from state.store.base import Store


def make_store(config: Config) -> Store:
    """The store the config asks for: embedded SQLite by default, MongoDB when configured."""
    if config.database == "mongodb":
        from state.store.mongo import MongoStore

        return MongoStore(config.mongodb_uri, config.mongodb_name)
    from state.store.sqlite import SQLiteStore

    return SQLiteStore(config.database_path)
