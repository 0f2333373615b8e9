"""Fixtures: one schema per test process, emptied between tests; users by role.

`make test` runs the suite in pytest-xdist worker processes (`-n0` runs it in this one). A test
is parallel-safe when it follows these rules:
- Ports: take a free one from the OS (`free_port()` below), never a fixed number.
- Databases: use the suite's (`app.config["SQLALCHEMY_DATABASE_URI"]`, or DATABASE_URL in the
  environment, which is the worker's own: `test` becomes `test_gw0`, `test_gw1`...). A scratch
  PostgreSQL database gets a unique name (see tests/test_migrations.py) and is dropped after.
- Redis: REDIS_URL is the worker's own db (its db number plus the worker's index). Keys of
  your own carry a unique name (a queue per test, a RATELIMIT_KEY_PREFIX per test); never
  FLUSHDB or FLUSHALL a Redis you did not start.
- Files: under `tmp_path` (or the app's instance path pointed there), never a fixed path.
- Order: no reliance on ids, on rows another test left or on running before or after another
  test; `--order reverse` or `--order shuffle:SEED` runs the suite in another order to check.
- Session fixtures are per process: each worker starts its own browser (tests/browser/) and its
  own redis-server (tests/worker/).
"""

import os
import random
import socket
import tempfile

import pytest
from sqlalchemy import text

# First: importing it sets this worker's DATABASE_URL and REDIS_URL, before config.py reads them.
from tests import per_worker

# isort: split
from app import create_app
from app.extensions import db
from app.leads.intake import WAKE_KEY
from app.queue import ThreadWorker, get_queue, get_redis
from config import TestConfig
from tests import factories

_tmpdir = tempfile.mkdtemp(prefix="stagegate-test-")


class SuiteConfig(TestConfig):
    # A file, not :memory:, so the browser tests' server thread sees the same data.
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URI") or (
        TestConfig.SQLALCHEMY_DATABASE_URI
        if os.environ.get("DATABASE_URL")
        else f"sqlite:///{_tmpdir}/test.db"
    )
    REDIS_URL = os.environ.get("REDIS_URL", "")


def pytest_addoption(parser):
    parser.addoption("--order", default="", metavar="reverse|shuffle:SEED",
                     help="run the tests in reverse or in a shuffled (seeded) order, to find order dependence")


# In parallel runs these start first, longest first (as measured): a long test that starts last
# keeps the run going while the other workers sit idle. A hint for speed, never for correctness.
LONG_FIRST = (
    "tests/browser/test_accessibility.py", "tests/api/test_fuzz.py", "tests/test_migrations.py",
    "tests/api/test_schemathesis.py", "tests/sequences/test_fuzz.py", "tests/sequences/test_worker_kill.py",
    "tests/api/test_openapi_bounds.py", "tests/deals/test_gate_properties.py", "tests/worker/",
    "tests/auth/test_limits.py", "tests/browser/", "tests/sequences/test_imap.py", "tests/test_cli.py",
)


def _long_first(item) -> int:
    return next((rank for rank, prefix in enumerate(LONG_FIRST) if item.nodeid.startswith(prefix)),
                len(LONG_FIRST))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    order = config.getoption("--order")
    if order == "reverse":
        items.reverse()
    elif order.startswith("shuffle"):
        # Every xdist worker collects on its own: the same seed gives them the same order.
        random.Random(order.partition(":")[2] or "0").shuffle(items)
    elif order:
        raise pytest.UsageError(f"--order {order}: use reverse or shuffle:SEED")
    elif per_worker.WORKER:
        items.sort(key=_long_first)  # stable: the rest keep their order


def _empty_queue() -> None:
    """Drop queued jobs and the lead intake's wake-up mark, so no test runs another's jobs."""
    get_queue().empty()
    get_redis().delete(WAKE_KEY)


@pytest.fixture(scope="session")
def app():
    per_worker.create_database(SuiteConfig.SQLALCHEMY_DATABASE_URI)
    app = create_app(SuiteConfig)
    with app.app_context():
        db.drop_all()
        db.create_all()
        _empty_queue()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()


@pytest.fixture(autouse=True)
def _clean(app):
    with app.app_context():
        yield
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            # DELETE, not TRUNCATE: on PostgreSQL a TRUNCATE of every table per test costs far
            # more than deleting the few rows a test made.
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
        _empty_queue()
    from app.extensions import limiter

    limiter.reset()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def drain_queue():
    """Run every queued job now, as the worker would (there is no worker thread in tests)."""
    queue = get_queue()
    ThreadWorker([queue], connection=queue.connection).work(burst=True, logging_level="WARNING")
    get_redis().delete(WAKE_KEY)  # a new submission queues a new wake-up
    db.session.expire_all()


@pytest.fixture
def drain(app):
    return drain_queue


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def org(app):
    """An organisation with the article pipeline and one user per role."""
    return factories.make_org(templates=["article"])


@pytest.fixture
def login_as(client, org):
    """Sign the test client in as the org's admin, manager or rep; return that user."""

    def login(role="admin", who=None):
        user = who or factories.user(org, role)
        client.post("/auth/logout")
        response = client.post("/auth/login", data={"email": user.email, "password": factories.PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return login


@pytest.fixture
def key_for(org):
    """Return Authorization headers for a new API key acting as `role` (or `who`) of `org`."""
    from app.auth.service import create_api_key

    def make(role="admin", who=None, in_org=None):
        user = who or factories.user(in_org or org, role)
        raw, _ = create_api_key(user, f"{user.role} key")
        return {"Authorization": f"Bearer {raw}"}

    return make
