"""Bench: one stale-deal sweep over 100,000 open deals on PostgreSQL (target: under 2 s).

By default a tenth of the deals are past their stage's maximum days and not yet reminded
(BENCH_STALE_FRACTION=0.8 shows the cold worst case, dominated by per-row foreign-key checks).

Run with DATABASE_URL pointing at a PostgreSQL database you can write to:
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/stagegate_bench .venv/bin/python -m bench.stale
It seeds its own organisation with bulk inserts, times the sweep (one set-based INSERT ...
SELECT for the reminders, one for their notifications), times a second (no-op) run, and
deletes what it seeded.
"""

import os
import random
import sys
import time
from datetime import timedelta

DEALS = int(os.environ.get("BENCH_STALE_DEALS", "100000"))
# A tick finds the deals that went stale since the last one; a tenth of the book is generous.
STALE_FRACTION = float(os.environ.get("BENCH_STALE_FRACTION", "0.1"))
TARGET_SECONDS = 2.0


def _seed(org, owners, pipeline, now):
    from sqlalchemy import insert

    from app.extensions import db
    from app.models import Deal

    stages = pipeline.open_stages
    rng = random.Random(7)
    batch = []
    for i in range(DEALS):
        stage = stages[i % len(stages)]
        if rng.random() < STALE_FRACTION:
            entered = now - timedelta(days=stage.max_days + rng.uniform(0.01, 20))
        else:
            entered = now - timedelta(days=rng.uniform(0, stage.max_days - 0.01))
        batch.append({
            "org_id": org.id, "pipeline_id": pipeline.id, "stage_id": stage.id,
            "owner_id": owners[i % len(owners)].id, "title": f"Bench deal {i}",
            "amount": 1000 + i % 5000, "currency": "USD", "facts": {}, "status": "open",
            "next_step": "", "stage_entered_at": entered, "created_at": entered,
            "updated_at": entered, "version": 1,
        })
        if len(batch) == 10_000:
            db.session.execute(insert(Deal), batch)
            batch = []
    if batch:
        db.session.execute(insert(Deal), batch)
    db.session.commit()


def _cleanup(org_id):
    from sqlalchemy import text

    from app.extensions import db

    for table in ("notification", "task", "stage_transition", "deal"):
        db.session.execute(text(f'DELETE FROM "{table}" WHERE org_id = :org'), {"org": org_id})
    db.session.commit()


def main() -> float:
    """Seed 100,000 deals, time one stale sweep, print the figure; return the seconds."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("bench/stale.py needs DATABASE_URL=postgresql://... (the target is for PostgreSQL)")
        return float("nan")
    from app import create_app
    from app.auth.service import create_organization, create_user
    from app.extensions import db
    from app.models import Deal, Stage, Task, utcnow
    from app.tasks.service import sweep_stale

    app = create_app()
    with app.app_context():
        db.create_all()
        tag = f"{int(time.time())}-{os.getpid()}"
        org = create_organization(f"Stale bench {tag}", f"admin-{tag}@bench.example.com",
                                  "bench-password-1", templates=["article"])
        owners = [create_user(org, f"rep{n}-{tag}@bench.example.com", f"Rep {n}", "rep",
                              "bench-password-1") for n in range(10)]
        from app.models import Pipeline

        pipeline = Pipeline.query.filter_by(org_id=org.id).first()
        now = utcnow()
        try:
            started = time.perf_counter()
            _seed(org, owners, pipeline, now)
            seeded = time.perf_counter() - started
            db.session.execute(db.text("ANALYZE deal"))
            db.session.commit()
            stale = Deal.query.join(Stage, Stage.id == Deal.stage_id).filter(
                Deal.org_id == org.id,
                Deal.stage_entered_at < now - db.func.make_interval(0, 0, 0, Stage.max_days)).count()
            started = time.perf_counter()
            first = sweep_stale(now=now)
            elapsed = time.perf_counter() - started
            started = time.perf_counter()
            second = sweep_stale(now=now)
            again = time.perf_counter() - started
            reminders = Task.query.filter_by(org_id=org.id, kind="stale_reminder").count()
            assert first["created"] >= stale and reminders == stale, (first, stale, reminders)
            assert second["created"] == 0
            verdict = "OK" if elapsed < TARGET_SECONDS else "SLOW"
            print(f"stale sweep over {DEALS:,} open deals ({stale:,} stale): {elapsed:.2f} s "
                  f"[target < {TARGET_SECONDS:.0f} s: {verdict}]; re-run (nothing new) {again:.2f} s; "
                  f"seeded in {seeded:.1f} s")
            return elapsed
        finally:
            db.session.rollback()
            _cleanup(org.id)


if __name__ == "__main__":
    seconds = main()
    sys.exit(0 if seconds == seconds and seconds < TARGET_SECONDS else 1)
