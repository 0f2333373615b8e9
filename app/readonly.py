"""Read-only pages on PostgreSQL: their reads run outside a transaction (autocommit).

psycopg drops every prepared statement of a connection on ROLLBACK, and every request used to
end with one (the session's close), so PostgreSQL planned each of a page's statements again
on every request: on the board that planning cost more server time than running them. A view
marked @read_only (only ever GET, never writing) runs its session on an autocommit connection:
no BEGIN, no ROLLBACK, and psycopg prepares a statement once it has run five times on that
connection. Each statement still sees committed data as of its start, as in the default READ
COMMITTED transaction. SQLite is left as it is (no server-side planning to save).
"""

from flask import g, request

from app.extensions import db


def use_autocommit() -> bool:
    """On PostgreSQL, run this request's session on an autocommit connection; True if it did.

    For a request whose statements need no transaction: reads only (@read_only), or one
    self-contained INSERT (the public lead form). A session already in a transaction (a
    test's) keeps it; SQLite is left as it is (no server-side planning or round trip to save).
    """
    if db.session().in_transaction() or db.session.get_bind().dialect.name != "postgresql":
        return False
    db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return True


def read_only(view):
    """Mark a view that only reads: on PostgreSQL its GET runs without a transaction."""
    view.read_only = True
    return view


def init_app(app) -> None:
    @app.before_request
    def _autocommit_reads():
        if request.method not in ("GET", "HEAD"):
            return
        view = app.view_functions.get(request.endpoint)
        if getattr(view, "read_only", False) and use_autocommit():
            g.autocommit_reads = True

    @app.teardown_request
    def _end_autocommit_reads(_exc):
        if g.pop("autocommit_reads", False):
            # Nothing to undo; this hands the connection back, where its isolation level is reset.
            db.session.rollback()
