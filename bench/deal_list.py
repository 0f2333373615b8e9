"""Deals list bench: the table of deals at N deals, as a share of the floor, with its query plans.

Figures: the list's in-process render time and SQL statements (default view and heavier ones: a
sort by a computed column, a search, the stale and missing-facts filters, a deep page), its req/s
under gunicorn as a share of the floor (bench/floor_app.py, loaded in turns as bench/board.py does;
target >= 25 % at 10,000 deals, like the board) and the plan of each of its statements (EXPLAIN
QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL), to show which use an index.

    .venv/bin/python -m bench.deal_list          # seeds 10,000 deals in bench/out/bench.db
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/stagegate_bench .venv/bin/python -m bench.deal_list

`python -m bench` runs it at each size after the board (BENCH_SKIP_DEALS_LIST=1 skips it).
A third of the seeded deals get no expected close date, the rest one in the next 120 days.
"""

import os
import statistics
import sys
import time

from sqlalchemy import event, text

from app.extensions import db
from bench.board import (
    FLOOR_APP,
    _children,
    _login,
    _request,
    _rss_mb,
    gunicorn,
    http_login,
    load,
    refresh_statistics,
)
from bench.seed import SECRET_KEY

DEFAULT = "/deals/list"
VIEWS = {  # name -> query string (the default view first)
    "default (open, by expected close, 50 a page)": "",
    "sort by title, 100 a page": "?sort=title&per=100",
    "sort by last activity (computed)": "?sort=activity&dir=desc",
    "sort by missing facts (computed)": "?sort=missing&dir=desc",
    "search 'acme'": "?q=acme",
    "stale only": "?stale=1",
    "missing facts only": "?missing=1",
    "one stage, one owner": "?stage={stage}&owner={rep}",
    "page 60 (deep offset, 3,000 rows)": "?page=60",
}
TARGET_PCT = 25


def add_close_dates(app) -> None:
    """Give two deals in three an expected close date in the next 120 days (the column is new)."""
    with app.app_context():
        column = "date('now', '+' || (id % 120) || ' days')" if db.engine.dialect.name == "sqlite" \
            else "CURRENT_DATE + (id % 120)"
        db.session.execute(text(f"UPDATE deal SET expected_close_date = {column} WHERE id % 3 <> 0"))
        db.session.commit()


def _ids(app, pipeline_id) -> dict:
    with app.app_context():
        stage = db.session.execute(text("SELECT id FROM stage WHERE pipeline_id = :p ORDER BY position LIMIT 1"),
                                   {"p": pipeline_id}).scalar()
        rep = db.session.execute(text("SELECT id FROM \"user\" WHERE role = 'rep' ORDER BY id LIMIT 1")).scalar()
        db.session.remove()
    return {"stage": stage, "rep": rep}


def render_figures(app, ids, renders=30) -> dict:
    """{view: (median ms, SQL statements)} of in-process renders (Flask test client, signed-in admin)."""
    client = app.test_client()
    _login(client)
    with app.app_context():
        engine = db.engine
    figures = {}
    for name, query in VIEWS.items():
        url = DEFAULT + query.format(**ids)
        for _ in range(3):
            response = client.get(url)
            if response.status_code != 200:
                figures[name] = (f"answered {response.status_code}", None)
                break
        else:
            statements = []

            def count(*_args, statements=statements):
                statements.append(1)

            event.listen(engine, "before_cursor_execute", count)
            try:
                client.get(url)
            finally:
                event.remove(engine, "before_cursor_execute", count)
            times = []
            for _ in range(renders):
                start = time.perf_counter()
                client.get(url)
                times.append((time.perf_counter() - start) * 1000)
            rows = response.get_data().count(b'<tr id="row-')
            figures[name] = (statistics.median(times), len(statements), rows)
    return figures


def plans(app, ids) -> dict:
    """{view: [(statement's first words, plan lines)]} for the statements that read deals."""
    client = app.test_client()
    _login(client)
    with app.app_context():
        engine = db.engine
    dialect = engine.dialect.name
    found = {}
    for name, query in VIEWS.items():
        captured = []

        def capture(_conn, _cursor, statement, parameters, _context, _many, captured=captured):
            if "FROM deal" in statement or "FROM stage_tally" in statement:
                captured.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", capture)
        try:
            client.get(DEFAULT + query.format(**ids))
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        lines = []
        with engine.connect() as conn:
            for statement, parameters in captured:
                if dialect == "sqlite":
                    rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
                    plan = [row[-1] for row in rows]
                else:
                    rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + statement,
                                                parameters).all()
                    plan = [row[0] for row in rows]
                kind = "count (stage_tally)" if "stage_tally" in statement else \
                    "count" if statement.lstrip().upper().startswith("SELECT COUNT") else "page"
                lines.append((kind, plan))
        found[name] = lines
    return found


def load_figures(db_url, ids, *, threads=4, rounds=3, seconds=5) -> dict:
    """The default list page and the floor under gunicorn (2 workers each), loaded in turns; their ratio."""
    env = {"DATABASE_URL": db_url, "SECRET_KEY": SECRET_KEY, "REDIS_URL": "",
           "LOGIN_RATE_LIMIT": "1000 per minute", "STAGEGATE_EMBEDDED_WORKER": "0"}
    try:
        with gunicorn("wsgi:app", env, "/auth/login", "gunicorn-list.log") as (port, server), \
                gunicorn(FLOOR_APP, {}, "/", "gunicorn-list-floor.log") as (floor_port, _):
            cookie = http_login(port)
            status, _, body = _request(port, "GET", DEFAULT, headers={"Cookie": cookie})
            if status != 200:
                return {"error": f"the list answered {status} under gunicorn"}
            for _ in range(4):
                _request(port, "GET", DEFAULT, headers={"Cookie": cookie})
                _request(floor_port, "GET", "/")
            floors, lists = [], []
            for _ in range(rounds):
                floors.append(load(floor_port, "/", {}, threads=threads, max_requests=4000, max_seconds=seconds))
                lists.append(load(port, DEFAULT, {"Cookie": cookie}, threads=threads, max_requests=4000,
                                  max_seconds=seconds))
            rss = max((_rss_mb(pid) for pid in _children(server.pid)), default=0.0)
    except RuntimeError as exc:
        return {"error": str(exc)}
    failed = next((f for f in floors + lists if "error" in f), None)
    if failed:
        return failed
    median = statistics.median
    return {"list_rps": median(r["rps"] for r in lists), "list_p50_ms": median(r["p50_ms"] for r in lists),
            "list_p95_ms": median(r["p95_ms"] for r in lists), "list_floor_rps": median(f["rps"] for f in floors),
            "list_floor_pct": median(100 * r["rps"] / f["rps"] for f, r in zip(floors, lists, strict=True)),
            "list_errors": sum(r["errors"] for r in lists), "list_tool": lists[0]["tool"],
            "list_rounds": [f"{r['rps']:.0f}/{f['rps']:.0f}" for f, r in zip(floors, lists, strict=True)],
            "list_rss_mb": rss, "list_page_kb": len(body) / 1024, "list_rows": body.count(b'<tr id="row-')}


def run(app, db_url, info, n) -> dict:
    """Measure the list over the seeded deals; print the figures and plans; return the load figures."""
    add_close_dates(app)
    refresh_statistics(app)
    ids = _ids(app, info["pipeline_id"])
    print(f"\n  Deals list at N={n:,} (in-process, signed-in admin, median of 30):", flush=True)
    for name, figure in render_figures(app, ids).items():
        if figure[1] is None:
            print(f"    {name}: {figure[0]}")
        else:
            print(f"    {name}: {figure[0]:.1f} ms, {figure[1]} SQL statements, {figure[2]} rows")
    if os.environ.get("BENCH_LIST_PLANS", "1") == "1":
        print(f"  Deals list query plans at N={n:,}:")
        for name, lines in plans(app, ids).items():
            print(f"    {name}:")
            for kind, plan in lines:
                print(f"      {kind}:")
                for line in plan:
                    print(f"        {line}")
    if os.environ.get("BENCH_SKIP_LOAD") == "1":
        return {}
    figures = load_figures(db_url, ids)
    if "error" in figures:
        print(f"  N={n:,} deals list under gunicorn: {figures['error']}")
        return {"list_error": figures["error"]}
    verdict = "OK" if figures["list_floor_pct"] >= TARGET_PCT else "BELOW TARGET"
    print(f"  N={n:,} deals list under gunicorn -w 2 against the floor, in turns ({figures['list_tool']}): "
          f"{figures['list_rps']:.0f} req/s = {figures['list_floor_pct']:.1f} % of the floor's "
          f"{figures['list_floor_rps']:.0f} [target >= {TARGET_PCT} %: {verdict}]; p50 {figures['list_p50_ms']:.1f} ms, "
          f"p95 {figures['list_p95_ms']:.1f} ms; {figures['list_rows']} rows, {figures['list_page_kb']:.1f} KB; "
          f"worker RSS {figures['list_rss_mb']:.0f} MB; rounds list/floor {figures['list_rounds']}", flush=True)
    return figures


def main() -> int:
    from app import create_app
    from bench.seed import bench_config, check_resettable, database_url, describe, seed

    url = database_url()
    check_resettable(url)
    n = int(os.environ.get("BENCH_LIST_DEALS", "10000"))
    print(f"Deals list bench on {describe(url)}; {os.cpu_count()} CPU(s), shared and noisy.", flush=True)
    app = create_app(bench_config(url))
    info = seed(app, n)
    figures = run(app, url, info, n)
    return 0 if figures.get("list_floor_pct", TARGET_PCT) >= TARGET_PCT else 1


if __name__ == "__main__":
    sys.exit(main())
