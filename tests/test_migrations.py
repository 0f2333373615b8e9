"""The Alembic migrations build the schema the models describe, on this suite's engine."""

import os
import subprocess
import sys
import uuid
from datetime import datetime

from sqlalchemy import DateTime, bindparam, create_engine, text
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


def _drop(cleanup):
    """Drop the database _fresh_database_url made (PostgreSQL); nothing on SQLite."""
    if cleanup:
        admin, name = cleanup
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _run(url, *commands):
    """Run flask commands in order against `url`, each expected to succeed."""
    for args in commands:
        done = _flask(args, url)
        assert done.returncode == 0, done.stderr


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
        _drop(cleanup)


def _transitions(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(text("SELECT id, deal_id, at, from_entered_at FROM stage_transition")).all()


def test_the_backfill_gives_each_transition_the_time_its_from_stage_was_entered(tmp_path):
    """from_entered_at after the migration's backfill is the previous transition's `at` in (at, id)
    order (what LAG() gives), and the same value the gate wrote when it made the move."""
    url, cleanup = _fresh_database_url(tmp_path)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        _run(url, ["db", "upgrade"], ["seed-demo"])
        written = {row.id: row.from_entered_at for row in _transitions(engine)}
        assert sum(v is not None for v in written.values()) >= 20  # the demo's deals were moved
        done = _flask(["db", "downgrade", "3663cd717c1a"], url)
        assert done.returncode == 0, done.stderr
        # Three later transitions of one deal, two in the same instant: only the id orders them.
        copy = text("""INSERT INTO stage_transition (org_id, deal_id, from_stage_id, to_stage_id, kind, user_id, at,
                                                      facts, criteria, reason, override)
                       SELECT org_id, deal_id, to_stage_id, to_stage_id, 'forward', user_id, :at, facts, criteria,
                              reason, override FROM stage_transition WHERE id = :id""").bindparams(
            bindparam("at", type_=DateTime))
        latest = max(written)
        with engine.begin() as conn:
            for at in (datetime(2030, 1, 1), datetime(2030, 1, 1), datetime(2030, 1, 1, 1)):
                conn.execute(copy, {"at": at, "id": latest})
        done = _flask(["db", "upgrade"], url)
        assert done.returncode == 0, done.stderr

        rows = _transitions(engine)
        expected, previous = {}, {}
        for row in sorted(rows, key=lambda r: (r.deal_id, r.at, r.id)):  # plain Python, not a window
            expected[row.id] = previous.get(row.deal_id)
            previous[row.deal_id] = row.at
        assert {row.id: row.from_entered_at for row in rows} == expected
        assert {i: expected[i] for i in written} == written
        added = sorted(row.id for row in rows if row.id not in written)
        assert [str(expected[i])[:19] for i in added[1:]] == ["2030-01-01 00:00:00"] * 2
        assert str(expected[added[0]]) == str(next(r.at for r in rows if r.id == latest))
    finally:
        engine.dispose()
        _drop(cleanup)


_TALLY = "SELECT stage_id, owner_id, deals, amount_cents FROM stage_tally WHERE deals <> 0 ORDER BY 1, 2"
_GROUPED = """SELECT stage_id, owner_id, COUNT(*), SUM(COALESCE(CAST(ROUND(amount * 100) AS BIGINT), 0))
              FROM deal GROUP BY stage_id, owner_id ORDER BY 1, 2"""


def _tally_and_deals(engine) -> tuple:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(_TALLY))], [tuple(r) for r in conn.execute(text(_GROUPED))]


def test_stage_tally_is_backfilled_and_kept_by_the_migrations_triggers(tmp_path):
    """The migration's triggers keep stage_tally equal to a GROUP BY over deal (the demo seed writes
    deals through the app), and an upgrade over existing deals backfills it; downgrade removes both."""
    url, cleanup = _fresh_database_url(tmp_path)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        _run(url, ["db", "upgrade"], ["seed-demo"])
        tally, grouped = _tally_and_deals(engine)
        assert len(grouped) >= 3 and tally == grouped
        with engine.begin() as conn:  # a move, an owner change and an amount change in plain SQL
            first, second = conn.execute(text("SELECT id, stage_id FROM deal ORDER BY id LIMIT 2")).all()
            conn.execute(text("UPDATE deal SET stage_id = :s, amount = amount + 10.25 WHERE id = :d"),
                         {"s": second.stage_id, "d": first.id})
            conn.execute(text("UPDATE deal SET owner_id = (SELECT MAX(id) FROM \"user\") WHERE id = :d"),
                         {"d": second.id})
        tally, grouped = _tally_and_deals(engine)
        assert tally == grouped

        _run(url, ["db", "downgrade", "a7c3d9e1f254"])
        with engine.begin() as conn:  # written while no trigger runs: only the backfill can count it
            conn.execute(text("UPDATE deal SET stage_id = :s, amount = 777.77 WHERE id = :d"),
                         {"s": first.stage_id, "d": second.id})
        done = _flask(["db", "upgrade"], url)
        assert done.returncode == 0, done.stderr
        tally, grouped = _tally_and_deals(engine)
        assert tally == grouped
    finally:
        engine.dispose()
        _drop(cleanup)


BEFORE_HELD = "c5d8a1f3e7b2"  # the revision held review (8d4a1f7c2e95) follows


def test_submissions_stored_before_held_review_stay_processable_and_held_ones_go_on_downgrade(tmp_path):
    """Rows from before the status column are `received` (the worker still finds them); a downgrade, which
    has no way to keep a row from being processed, deletes the held ones rather than let them through."""
    url, cleanup = _fresh_database_url(tmp_path)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    insert = text("""INSERT INTO lead_submission (org_id, form_id, nonce, created_new, utm, referrer, payload,
                                                  created_at)
                     SELECT org_id, id, :nonce, false, '{}', '', '{"lead": {"email": "a@b.example"}}', :at
                     FROM lead_form ORDER BY id LIMIT 1""").bindparams(bindparam("at", type_=DateTime))
    try:
        # The demo is seeded by today's code (on today's schema), then the schema goes back to just
        # before held review, where an older release would have stored a submission.
        _run(url, ["db", "upgrade"], ["seed-demo"], ["db", "downgrade", BEFORE_HELD])
        with engine.begin() as conn:
            conn.execute(insert, {"nonce": "before", "at": datetime(2026, 1, 1)})
        _run(url, ["db", "upgrade"])
        with engine.begin() as conn:
            assert conn.execute(text("SELECT status, held_reason FROM lead_submission")).all() == [("received", "")]
            conn.execute(insert, {"nonce": "held-one", "at": datetime(2026, 1, 2)})
            conn.execute(text("UPDATE lead_submission SET status = 'held' WHERE nonce = 'held-one'"))
        _run(url, ["db", "downgrade", BEFORE_HELD])
        with engine.connect() as conn:
            assert conn.execute(text("SELECT nonce FROM lead_submission")).scalars().all() == ["before"]
    finally:
        engine.dispose()
        _drop(cleanup)
