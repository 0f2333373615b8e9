"""The Alembic migrations build the schema the models describe, on this suite's engine."""

import os
import subprocess
import sys
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fresh_database_url(tmp_path):
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path}/migrations.db", None
    name = f"stagegate_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(url.replace("postgresql://", "postgresql+psycopg://", 1)),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return url.rsplit("/", 1)[0] + "/" + name, (admin, name)


def _flask(args, url):
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi"}
    env.pop("STAGEGATE_EMBEDDED_WORKER", None)
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_upgrade_from_nothing_matches_the_models_and_seeds(tmp_path):
    url, cleanup = _fresh_database_url(tmp_path)
    try:
        upgrade = _flask(["db", "upgrade"], url)
        assert upgrade.returncode == 0, upgrade.stderr
        check = _flask(["db", "check"], url)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "No new upgrade operations" in check.stdout + check.stderr
        seed = _flask(["seed-demo"], url)
        assert seed.returncode == 0, seed.stderr
        assert "Sign in as" in seed.stdout
    finally:
        if cleanup:
            admin, name = cleanup
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
