"""What each pytest-xdist worker process has of its own: a PostgreSQL database and a Redis db.

Importing this module (tests/conftest.py does it first, before config.py reads the environment)
writes the worker's URLs into DATABASE_URL and REDIS_URL, so the suite's app and every process
a test starts (worker.py, gunicorn, `flask db upgrade`) use them. Run serially, nothing changes.
"""

import os
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ...; empty when serial
INDEX = int(WORKER[2:]) if WORKER.startswith("gw") else 0
REDIS_DATABASES = 16  # redis-server's default `databases`


def database_url(url: str) -> str:
    """DATABASE_URL with the worker's name after the database's (test -> test_gw0); SQLite as it is."""
    if not WORKER or not url.startswith(("postgres://", "postgresql")):
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path}_{WORKER}"))


def redis_url(url: str) -> str:
    """REDIS_URL's db number plus the worker's index (db 6 -> 6, 7, 8, 9 for gw0..gw3)."""
    if not WORKER or not url:
        return url
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0) + INDEX
    if number >= REDIS_DATABASES:
        raise RuntimeError(f"REDIS_URL {url}: worker {WORKER} would use Redis db {number}, past the last "
                           f"({REDIS_DATABASES - 1}); give REDIS_URL a db number at most "
                           f"{REDIS_DATABASES} minus the number of workers")
    return urlunsplit(parts._replace(path=f"/{number}"))


def use_own_servers() -> None:
    """Point DATABASE_URL and REDIS_URL at this worker's database and Redis db (once: the processes
    a test starts inherit the rewritten environment)."""
    if os.environ.get("STAGEGATE_TEST_WORKER") == WORKER:
        return
    for name, own in (("DATABASE_URL", database_url), ("REDIS_URL", redis_url)):
        if os.environ.get(name):
            os.environ[name] = own(os.environ[name])
    os.environ["STAGEGATE_TEST_WORKER"] = WORKER


def create_database(sqlalchemy_url: str) -> None:
    """Create the PostgreSQL database of `sqlalchemy_url` when it is missing (trust auth, through the
    server's `postgres` database); the suite's session then builds the schema in it."""
    url = make_url(sqlalchemy_url)
    if url.get_backend_name() != "postgresql":
        return
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                            {"name": url.database}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        server.dispose()


use_own_servers()
