"""Plain records (a dataclass with an `id`, one table or collection each) to and from
both stores' forms: SQLite rows (times as UTC ISO text, see sqlite_rows.to_text) and
MongoDB documents (`id` as `_id`, times as integer milliseconds since the epoch,
which nx-27017 keeps exactly). Messages left, canned replies, notes and ratings are
such records; each store writes their SQL or queries itself."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, TypeVar

from state.store.base import epoch_ms, from_epoch_ms
from state.store.sqlite_rows import from_text, to_text

R = TypeVar("R")


def columns(kind: type) -> list[str]:
    return [field.name for field in dataclasses.fields(kind)]


def _times(kind: type) -> set[str]:
    return {field.name for field in dataclasses.fields(kind) if "datetime" in str(field.type)}


def epoch_millis(moment: datetime | None) -> int | None:
    return None if moment is None else epoch_ms(moment)


def from_epoch_millis(millis: int | None) -> datetime | None:
    return None if millis is None else from_epoch_ms(millis)


def to_row(record: Any) -> list[Any]:
    """The record's values in `columns()` order, times as text."""
    return [to_text(value) if isinstance(value, datetime) else value
            for value in (getattr(record, name) for name in columns(type(record)))]


def from_row(kind: type[R], row: Any) -> R:
    values = dict(row)
    for name in _times(kind):
        values[name] = from_text(values[name]) if values[name] else None
    return kind(**values)


def insert_sql(table: str, kind: type) -> str:
    names = columns(kind)
    return (f"INSERT INTO {table} ({', '.join(names)}) VALUES"
            f" ({', '.join('?' for _ in names)})")


def to_document(record: Any, key: str = "id") -> dict[str, Any]:
    """`key` is the field that becomes `_id`."""
    document = {name: getattr(record, name) for name in columns(type(record)) if name != key}
    for name in _times(type(record)):
        document[name] = epoch_millis(document[name])
    return {"_id": getattr(record, key), **document}


def from_document(kind: type[R], document: dict[str, Any], key: str = "id") -> R:
    values = {name: document.get(name) for name in columns(kind) if name != key}
    for name in _times(kind):
        values[name] = from_epoch_millis(values[name])
    return kind(**{key: document["_id"]}, **values)
