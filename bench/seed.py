"""Seed a bench database: "Bench Org", the article pipeline, 5 reps and N open deals with history.

Deals and their transitions go in with bulk INSERTs (executemany), not create_deal per row:
seeding 10,000 deals through the gate would take minutes and measure nothing useful.
Each deal's facts meet every requirement of the stages it passed, so the board and the gate
see realistic data; half the deals still lack their current stage's exit facts.
"""

import os
import random
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.engine import make_url

from app.auth.service import create_organization, create_user
from app.extensions import db
from app.models import Deal, Pipeline, StageTransition, User, utcnow
from config import Config

OUT = Path(__file__).resolve().parent / "out"
PASSWORD = "bench-password-1"
ADMIN_EMAIL = "admin@bench.example.com"
SECRET_KEY = "bench-secret-key-not-for-production"
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Soylent"]
BATCH = 2000


def database_url() -> str:
    """Use DATABASE_URL when set (PostgreSQL), else a SQLite file under bench/out/."""
    url = os.environ.get("DATABASE_URL")
    if url:
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url
    OUT.mkdir(exist_ok=True)
    return f"sqlite:///{OUT / 'bench.db'}"


def describe(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database} (WAL journal)"
    return f"PostgreSQL database {parsed.database!r} on {parsed.host}"


def check_resettable(url: str) -> None:
    """The bench drops every table: refuse a database that does not look like a bench one."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" or "bench" in (parsed.database or ""):
        return
    if os.environ.get("BENCH_RESET_OK") == "1":
        return
    raise SystemExit(
        f"Refusing to wipe {describe(url)}: the bench drops all tables. Use a database whose name "
        "contains 'bench' (e.g. createdb stagegate_bench) or set BENCH_RESET_OK=1."
    )


def bench_config(url: str):
    class BenchConfig(Config):
        SQLALCHEMY_DATABASE_URI = url
        SECRET_KEY = "bench-secret-key-not-for-production"
        REDIS_URL = ""
        RATELIMIT_ENABLED = False
        WTF_CSRF_ENABLED = False
        TESTING = False

    return BenchConfig


def _value(field, i):
    return {
        "checkbox": True,
        "text": f"Next step {i}",
        "long_text": f"Documented context for deal {i}.",
        "number": i % 50,
        "money": f"{(i % 90 + 10) * 1000}.00",
        "date": (date.today() + timedelta(days=10 + i % 60)).isoformat(),
        "choice": (field.choices or ["x"])[0],
        "contact": f"buyer{i % 400}@customer{i % 97}.example.com",
        "email": f"someone{i}@example.com",
        "url": "https://example.com/doc",
    }[field.type]


def _snapshot(stage, when, facts):
    return [{"field": f.key, "label": f.label, "when": when, "stage_id": stage.id,
             "stage": stage.name, "met": True}
            for f in stage.required_fields(when) if f.key in facts]


def seed(app, n: int, rng_seed: int = 7) -> dict:
    """Reset the schema and seed N open deals with their transitions; return what benches need."""
    rng = random.Random(rng_seed)
    with app.app_context():
        db.drop_all()
        db.create_all()
        if db.engine.dialect.name == "sqlite":
            # WAL (persistent in the file) so the 2 gunicorn workers read while one writes, and
            # a commit is one WAL append instead of several journal fsyncs (22 ms -> <1 ms here).
            with db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        org = create_organization("Bench Org", ADMIN_EMAIL, PASSWORD, admin_name="Bea Bench",
                                  templates=["article"])
        for i in range(1, 6):
            create_user(org, f"rep{i}@bench.example.com", f"Rep Number{i}", "rep", PASSWORD)
        db.session.commit()
        reps = User.query.filter_by(org_id=org.id, role="rep").order_by(User.id).all()
        admin = User.query.filter_by(email=ADMIN_EMAIL).one()
        pipeline = Pipeline.query.filter_by(org_id=org.id).one()
        opens = pipeline.open_stages
        now = utcnow()
        deal_rows, histories = [], []
        for i in range(n):
            k = i % len(opens)  # the open stage this deal sits in
            facts = {}
            for s in opens[:k]:
                for f in s.required_fields("entry") + s.required_fields("exit"):
                    facts[f.key] = _value(f, i)
            for f in opens[k].required_fields("entry"):
                facts[f.key] = _value(f, i)
            if i % 2:  # ready to move on: the current stage's exit facts are there too
                for f in opens[k].required_fields("exit"):
                    facts[f.key] = _value(f, i)
            created = now - timedelta(days=rng.randint(k * 6 + 6, k * 6 + 120), hours=rng.randint(0, 23))
            times = [created]
            for _ in range(k):
                times.append(min(now, times[-1] + timedelta(days=rng.randint(1, 5), hours=rng.randint(0, 23))))
            owner = reps[i % len(reps)]
            deal_rows.append({
                "org_id": org.id, "pipeline_id": pipeline.id, "stage_id": opens[k].id,
                "owner_id": owner.id, "title": f"{COMPANIES[i % len(COMPANIES)]} deal {i + 1}",
                "amount": rng.choice([4800, 12000, 25000, 48000, 90000]), "currency": "USD",
                "facts": facts, "status": "open", "stage_entered_at": times[-1], "created_at": created,
                "updated_at": times[-1], "version": k + 1, "next_step": "",
            })
            history = [{"from_stage_id": None, "to_stage_id": opens[0].id, "kind": "create",
                        "user_id": owner.id, "at": times[0],
                        "criteria": _snapshot(opens[0], "entry", facts)}]
            for j in range(1, k + 1):
                history.append({
                    "from_stage_id": opens[j - 1].id, "to_stage_id": opens[j].id, "kind": "forward",
                    "user_id": owner.id, "at": times[j],
                    "criteria": _snapshot(opens[j - 1], "exit", facts) + _snapshot(opens[j], "entry", facts),
                })
            for row, before in zip(history, [None, *history[:-1]], strict=True):
                row["from_entered_at"] = before["at"] if before else None  # as the gate writes it
            histories.append((history, facts))
        transition_rows = []
        for start in range(0, n, BATCH):
            chunk = deal_rows[start:start + BATCH]
            ids = db.session.execute(
                insert(Deal).returning(Deal.id, sort_by_parameter_order=True), chunk).scalars().all()
            for deal_id, (history, facts) in zip(ids, histories[start:start + BATCH], strict=True):
                for row in history:
                    transition_rows.append({**row, "org_id": org.id, "deal_id": deal_id, "facts": facts,
                                            "reason": "", "override": False})
        for start in range(0, len(transition_rows), BATCH * 2):
            db.session.execute(insert(StageTransition), transition_rows[start:start + BATCH * 2])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        return {"org_id": org.id, "pipeline_id": pipeline.id, "admin_id": admin.id,
                "deals": n, "transitions": len(transition_rows)}
