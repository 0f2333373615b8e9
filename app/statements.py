"""Prebuilt statements: SQL a hot path builds once, with bound parameters, and reuses.

Building a SQLAlchemy statement, and SQLAlchemy hashing it for its compiled cache, costs more
Python time than running a small query; the board, the header's bell and the login loader
run on every request. A function marked `@prebuilt` builds a statement from its *shape* only
(which filters apply, how many stages, which dialect), never from values: values go in as
bound parameters when it runs, so one statement serves every request of that shape.
"""

import functools

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db


def prebuilt(build):
    """Build the statement once per distinct arguments (its shape, all hashable) and return that one ever after."""
    return functools.cache(build)


def dialect() -> str:
    """The name of the session's database dialect ("postgresql" or "sqlite")."""
    return db.session.get_bind().dialect.name


def dialect_insert(table):
    """An INSERT in the session's dialect, so `on_conflict_do_nothing` (idempotent writes) is available."""
    return (pg_insert if dialect() == "postgresql" else sqlite_insert)(table)
