"""Bench: the reports page's numbers over 100,000 deals and 600,000 stage transitions.

Targets: < 500 ms on PostgreSQL, < 2 s on SQLite for every number of the page (the metrics
service: conversion, time in stage and by owner, outcomes, forecast), default period of the
last 90 days. Baseline, measured in the same run: one full pass over the organisation's
transitions (SELECT COUNT(*), MIN(at), MAX(at)), so the figure reads as "so many scans".
It prints the SQL statement count of the page's numbers, and each query's time (median of 3)
with its plan lines (scans and the indexes they use). On PostgreSQL it runs VACUUM ANALYZE
first, the state autovacuum keeps a live database in (full plans: bench/reports.py's
queries.explain; the note of issue 11 has them).

    .venv/bin/python -m bench.reports                     # SQLite file bench/out/bench.db
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/stagegate_bench .venv/bin/python -m bench.reports

It seeds its own organisation with bulk inserts and deletes it afterwards.
BENCH_REPORT_DEALS changes the count (about 6 transitions a deal). BENCH_KEEP=1 keeps the seeded
organisation, and a later run with BENCH_KEEP=1 measures it again without seeding.
"""

import os
import random
import statistics
import sys
import time
from datetime import timedelta

from sqlalchemy import insert, text

DEALS = int(os.environ.get("BENCH_REPORT_DEALS", "100000"))
PER_DEAL = 6
TARGETS = {"postgresql": 0.5, "sqlite": 2.0}
RUNS = 5


def _paths(rng, opens, won, lost, now):
    """Yield one deal's transitions [(from, to, kind, at)], ending state and its times."""
    steps, index, closed = [], 0, None
    for _ in range(rng.randint(4, 2 * PER_DEAL + 1)):  # about PER_DEAL transitions a deal, create included
        roll = rng.random()
        if closed is not None:
            break
        if index == len(opens) - 1 and roll < 0.45:
            steps.append(("close", opens[index], won))
            closed = won
        elif roll < 0.07:
            steps.append(("close", opens[index], lost))
            closed = lost
        elif roll < 0.2 and index > 0:
            steps.append(("backward", opens[index], opens[index - 1]))
            index -= 1
        elif index < len(opens) - 1:
            steps.append(("forward", opens[index], opens[index + 1]))
            index += 1
        else:
            steps.append(("backward", opens[index], opens[index - 1]))
            index -= 1
    gaps = [timedelta(days=rng.uniform(0.2, 21)) for _ in steps]
    created = now - sum(gaps, timedelta()) - timedelta(days=rng.uniform(0.1, 640))
    at, rows = created, []
    for (kind, from_stage, to_stage), gap in zip(steps, gaps, strict=True):
        at = at + gap
        rows.append((from_stage.id, to_stage.id, kind, at))
    return created, rows, closed or opens[index]


def seed(org, owners, pipeline, now, rng):
    from app.extensions import db
    from app.models import Deal

    opens, won, lost = pipeline.open_stages, pipeline.stage_by_kind("won"), pipeline.stage_by_kind("lost")
    for chunk in range(0, DEALS, 5000):
        deals, histories = [], []
        for i in range(chunk, min(DEALS, chunk + 5000)):
            created, rows, final = _paths(rng, opens, won, lost, now)
            last = rows[-1][3] if rows else created
            deals.append({
                "org_id": org.id, "pipeline_id": pipeline.id, "stage_id": final.id,
                "owner_id": owners[i % len(owners)].id, "title": f"Bench deal {i}",
                "amount": rng.choice([500, 4800, 12000, 25000, 90000]), "currency": "USD", "facts": {},
                "status": final.kind, "next_step": "", "stage_entered_at": last, "created_at": created,
                "closed_at": last if final.kind != "open" else None, "updated_at": last, "version": 1,
            })
            histories.append((created, rows))
        ids = db.session.execute(insert(Deal).returning(Deal.id, sort_by_parameter_order=True), deals).scalars().all()
        transitions = []
        for deal_id, (created, rows) in zip(ids, histories, strict=True):
            # from_entered_at as the gate writes it: the previous transition's time, None on a creation.
            steps = [(None, opens[0].id, "create", created), *rows]
            entered = [None] + [at for _, _, _, at in steps[:-1]]
            transitions += [{"org_id": org.id, "deal_id": deal_id, "from_stage_id": f, "to_stage_id": t, "kind": k,
                             "at": at, "from_entered_at": since, "facts": {}, "criteria": [], "reason": "",
                             "override": False}
                            for (f, t, k, at), since in zip(steps, entered, strict=True)]
        _insert_transitions(transitions)
        db.session.commit()


def _insert_transitions(rows):
    """COPY on PostgreSQL (600,000 rows in seconds, not minutes); executemany on SQLite."""
    from app.extensions import db
    from app.models import StageTransition

    if db.engine.dialect.name != "postgresql":
        db.session.execute(insert(StageTransition), rows)
        return
    columns = ["org_id", "deal_id", "from_stage_id", "to_stage_id", "kind", "at", "from_entered_at", "facts",
               "criteria", "reason", "override"]
    cursor = db.session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY stage_transition ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] if c not in ("facts", "criteria") else ("{}" if c == "facts" else "[]")
                            for c in columns])


def _plan(captured):
    from app.reports.queries import explain

    keys = ("Scan", "SCAN", "SEARCH", "Index", "INDEX", "Execution Time", "USING")
    return [line.strip() for line in explain(*captured) if any(k in line for k in keys)]


def _statements(call) -> int:
    """How many SQL statements `call` sends to the database."""
    from sqlalchemy import event

    from app.extensions import db

    sent = []

    def count(*_args):
        sent.append(1)

    db.session.expire_all()
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(sent)


def _cleanup(org_id):
    from app.extensions import db

    db.session.rollback()
    for table in ("notification", "task", "stage_transition", "deal", "api_key"):
        db.session.execute(text(f'DELETE FROM "{table}" WHERE org_id = :org'), {"org": org_id})
    db.session.commit()


def main() -> dict:
    from app import create_app
    from app.auth.service import create_organization, create_user
    from app.extensions import db
    from app.models import Pipeline, utcnow
    from bench.seed import bench_config, database_url

    url = database_url()
    app = create_app(bench_config(url))
    dialect = "postgresql" if url.startswith("postgresql") else "sqlite"
    with app.app_context():
        _schema(url)
        reuse = _kept_org() if os.environ.get("BENCH_KEEP") else None
        if reuse is not None:
            return _measure(reuse, dialect, url, 0.0)
        tag = f"{int(time.time())}-{os.getpid()}"
        org = create_organization(f"Reports bench {tag}", f"admin-{tag}@bench.example.com", "bench-password-1",
                                  templates=["article"])
        owners = [create_user(org, f"rep{n}-{tag}@bench.example.com", f"Rep {n}", "rep", "bench-password-1")
                  for n in range(12)]
        manager = owners[0]
        manager.role = "manager"
        db.session.commit()
        pipeline = Pipeline.query.filter_by(org_id=org.id).first()
        try:
            started = time.perf_counter()
            seed(org, owners, pipeline, utcnow(), random.Random(7))
            seeded = time.perf_counter() - started
            return _measure(org, dialect, url, seeded)
        finally:
            if not os.environ.get("BENCH_KEEP"):
                _cleanup(org.id)


def _schema(url):
    """Create the tables; a bench database from an older schema (a table lacking a column the models have)
    is reset first: create_all adds no column to an existing table, and the bench seeds with bulk inserts."""
    from sqlalchemy import inspect

    from app.extensions import db
    from bench.seed import check_resettable

    found = inspect(db.engine)
    stale = [table.name for table in db.metadata.sorted_tables if found.has_table(table.name)
             and {c.name for c in table.columns} - {c["name"] for c in found.get_columns(table.name)}]
    if stale:
        check_resettable(url)
        print(f"  the bench database predates columns of {', '.join(stale[:3])}: dropping its tables")
        db.drop_all()
    db.create_all()


def _kept_org():
    """With BENCH_KEEP=1, measure again over the organisation a previous run kept (no re-seeding)."""
    from app.models import Deal, Organization

    # The latest one that still has its deals (a run stopped while deleting leaves an empty one behind).
    return (Organization.query.filter(Organization.name.like("Reports bench %"),
                                      Organization.query.session.query(Deal.id).filter(Deal.org_id == Organization.id)
                                      .exists())
            .order_by(Organization.id.desc()).first())


def _measure(org, dialect, url, seeded) -> dict:
    from app.extensions import db
    from app.models import Pipeline, User
    from app.reports import queries
    from app.reports.service import metrics, parse_period
    from bench.seed import describe

    pipeline = Pipeline.query.filter_by(org_id=org.id).order_by(Pipeline.id).first()
    manager = User.query.filter_by(org_id=org.id, role="manager").first()
    if dialect == "postgresql":
        # The state autovacuum keeps a live database in: statistics, and the visibility map that lets
        # the reports' index-only scans skip the heap (transitions are insert-only, so it stays set).
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    count = db.session.execute(text("SELECT COUNT(*) FROM stage_transition WHERE org_id = :o"),
                               {"o": org.id}).scalar()
    period = parse_period({}, org)
    baseline, figures = [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        db.session.execute(text("SELECT COUNT(*), MIN(at), MAX(at) FROM stage_transition WHERE org_id = :o"),
                           {"o": org.id}).all()
        baseline.append(time.perf_counter() - started)
        db.session.expire_all()
        started = time.perf_counter()
        numbers = metrics(pipeline, period, manager)
        figures.append(time.perf_counter() - started)
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        cProfile.runctx("metrics(pipeline, period, manager)", globals(), locals(), sort="cumtime")
    queries.capture = []
    metrics(pipeline, period, manager)
    captured, queries.capture = queries.capture, None
    median, base = statistics.median(figures), statistics.median(baseline)
    target = TARGETS[dialect]
    verdict = "OK" if median < target else "SLOW"
    deals = db.session.execute(text("SELECT COUNT(*) FROM deal WHERE org_id = :o"), {"o": org.id}).scalar()
    print(f"reports on {describe(url)}: {deals:,} deals, {count:,} transitions (seeded in {seeded:.0f} s)")
    print(f"  whole page's numbers, median of {RUNS}: {median * 1000:.0f} ms "
          f"[target < {target * 1000:.0f} ms: {verdict}]; baseline (one pass over the transitions) "
          f"{base * 1000:.0f} ms; ratio {median / base:.1f}x")
    print(f"  entered Qualified in the last 90 days: {numbers['stage_conversion'][0]['entered']:,}; "
          f"win rate {numbers['win_rate']}; open deals {numbers['forecast']['open_count']:,}")
    names = ["conversion", "time in stage", "closed deals", "open by stage", "outreach"]
    print(f"  SQL statements for the page's numbers: {_statements(lambda: metrics(pipeline, period, manager))}")
    for name, statement in zip(names, captured, strict=False):
        times = []
        for _ in range(3):
            started = time.perf_counter()
            queries._run(*statement)
            times.append(time.perf_counter() - started)
        print(f"  plan: {name} (median of 3: {statistics.median(times) * 1000:.0f} ms)")
        for line in _plan(statement):
            print(f"    {line}")
    pages = _pages(pipeline, manager)
    return {"ms": median * 1000, "baseline_ms": base * 1000, "ok": median < target, **pages}


def _pages(pipeline, manager) -> dict:
    """The pages a manager opens on Monday, through the real routes (signed in, the templates rendered,
    every number linked to its deals): the reports page, the weekly review, and the deals behind the
    largest number (entered Qualified) and behind this quarter's commit. Median of 3 each; the bare
    figures print beside the numbers' own time above."""
    from flask import current_app

    client = current_app.test_client()
    client.post("/auth/login", data={"email": manager.email, "password": "bench-password-1"})
    qualified = min(pipeline.stages, key=lambda s: s.position)
    paths = {
        "reports page": f"/reports/{pipeline.id}",
        "weekly review": f"/reports/{pipeline.id}/review",
        "deals behind 'entered Qualified'": f"/reports/{pipeline.id}/deals?metric=stage_conversion&stage_id={qualified.id}",
        "deals behind this quarter's commit": f"/reports/{pipeline.id}/deals?metric=forecast&close=this_quarter&category=commit",
        "every table as a zip": f"/reports/{pipeline.id}/export.zip",
    }
    figures = {}
    for name, path in paths.items():
        times = []
        for _ in range(3):
            started = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, (path, response.status_code)
        figures[name] = statistics.median(times) * 1000
        print(f"  page: {name}: {figures[name]:.0f} ms ({len(response.data) / 1024:.0f} KB)")
    return {"pages_ms": figures}


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
