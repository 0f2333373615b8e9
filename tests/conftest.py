"""Fixtures: one schema per test session, emptied between tests; users by role."""

import os
import tempfile

import pytest
from sqlalchemy import text

from app import create_app
from app.extensions import db
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


@pytest.fixture(scope="session")
def app():
    app = create_app(SuiteConfig)
    with app.app_context():
        db.drop_all()
        db.create_all()
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
    from app.extensions import limiter

    limiter.reset()


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
