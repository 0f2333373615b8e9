"""Bench: the deal room's page (a buyer's link) under load, as a share of the bare Flask floor.

Target: >= 25 % of the floor's req/s, both under gunicorn -w 2, loaded in turns (bench/board.py's
method). The room is a busy one: a plan of 12 steps (half confirmed), a thread of 20 messages, 4 documents with 2
versions each and their views, and the seller's booking hours (a week of open times to list, minus 20 booked meetings).
It prints the in-process render time and SQL statement count, and the page's weight.

    .venv/bin/python -m bench.room                 # SQLite file bench/out/bench.db
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/stagegate_bench .venv/bin/python -m bench.room

It adds its own organisation (the rest of the bench database is left alone).
"""

import io
import os
import statistics
import sys
import time
from datetime import timedelta

from sqlalchemy import event

from bench.board import FLOOR_APP, SECRET_KEY, _request, gunicorn, load

TARGET_PCT = 25
RENDERS = 30


def seed_room(app) -> tuple[str, int]:
    """A deal with a busy room; return (a buyer's token, the deal id)."""
    from werkzeug.datastructures import FileStorage

    from app.auth.service import create_organization, create_user
    from app.booking.hours import save_hours, window_field
    from app.deals.service import create_deal
    from app.documents.service import Evidence, new_version, record_view, share
    from app.extensions import db
    from app.models import Meeting, Pipeline, utcnow
    from app.rooms.service import add_step, invite, open_room
    from bench.seed import _value

    with app.app_context():
        tag = f"{int(time.time())}-{os.getpid()}"
        org = create_organization(f"Room bench {tag}", f"admin-{tag}@bench.example.com", "bench-password-1",
                                  templates=["article"])
        rep = create_user(org, f"rep-{tag}@bench.example.com", "Rita Rep", "rep", "bench-password-1")
        pipeline = Pipeline.query.filter_by(org_id=org.id).first()
        first = pipeline.open_stages[0]
        deal = create_deal(pipeline, rep, title="Umbrella Corp rollout", amount="48000",
                           facts={f.key: _value(f, 1) for f in first.required_fields("entry")})
        room, _ = open_room(deal, rep)
        for i in range(12):
            step = add_step(room, rep, title=f"Step {i + 1}: security review round", side="buyer" if i % 2 else "seller",
                            due_on=(utcnow().date() + timedelta(days=i)).isoformat())
            if i < 6:
                step.status = "done"
        link = invite(room, rep, "dana@umbrella.example", base_url="https://stagegate.test")
        from app.rooms.service import invite_by_token
        from app.rooms.thread import buyer_comment, seller_comment

        buyer_row = invite_by_token(link.url.rsplit("/", 1)[1])
        for i in range(10):  # a thread of 20 messages, both sides
            buyer_comment(buyer_row, f"Question {i + 1}: how does the rollout handle our SSO and audit needs?")
            seller_comment(deal, rep, f"Answer {i + 1}: SSO is SAML 2.0; the audit log exports daily.")
        pdf = b"%PDF-1.4\n" + b"0" * 200_000 + b"\n%%EOF\n"
        for i in range(4):
            first = share(deal, rep, FileStorage(io.BytesIO(pdf), filename=f"doc{i}.pdf"), title=f"Document {i}")
            version = new_version(first.document, rep, FileStorage(io.BytesIO(pdf + b"v2"), filename=f"doc{i}.pdf"))
            for _ in range(5):
                record_view(version, link.invite.contact, Evidence("203.0.113.1", "bench"))
        values = {"timezone": "Europe/Berlin", "lengths": ["30", "60"], "notice_hours": "4", "horizon_days": "21"}
        for day in range(5):
            values[window_field(day, 0, "start")], values[window_field(day, 0, "end")] = "09:00", "17:00"
        save_hours(rep, values)
        start = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        for i in range(20):
            at = start + timedelta(hours=7 * i)
            db.session.add(Meeting(org_id=org.id, deal_id=deal.id, user_id=rep.id, starts_at=at,
                                   ends_at=at + timedelta(minutes=30), uid=f"bench-{tag}-{i}@stagegate",
                                   booked_by="rep"))
        db.session.commit()
        return link.url.rsplit("/r/", 1)[1], deal.id


def render_figures(app, token) -> tuple[float, int, int]:
    """(median ms, SQL statements, bytes) of the room page in-process."""
    from app.extensions import db

    client = app.test_client()
    times, statements = [], []
    with app.app_context():
        engine = db.engine

    def count(*_args):
        statements[-1] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(RENDERS):
            statements.append(0)
            started = time.perf_counter()
            response = client.get(f"/r/{token}")
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return statistics.median(times) * 1000, statements[-1], len(response.data)


def load_figures(db_url, token, *, threads=4, rounds=3, seconds=5) -> dict:
    """The room page and the floor under gunicorn (2 workers each), loaded in turns; their ratio."""
    env = {"DATABASE_URL": db_url, "SECRET_KEY": SECRET_KEY, "REDIS_URL": "", "STAGEGATE_EMBEDDED_WORKER": "0",
           "ROOM_VIEW_LIMIT": "1000000 per minute"}  # one bench client is one address: the limit is not measured
    url = f"/r/{token}"
    try:
        with gunicorn("wsgi:app", env, "/auth/login", "gunicorn-room.log") as (port, _), \
                gunicorn(FLOOR_APP, {}, "/", "gunicorn-room-floor.log") as (floor_port, _):
            for _ in range(4):
                status, _, _ = _request(port, "GET", url)
                _request(floor_port, "GET", "/")
            if status != 200:
                return {"error": f"the room answered {status} under gunicorn"}
            floors, rooms = [], []
            for _ in range(rounds):
                floors.append(load(floor_port, "/", {}, threads=threads, max_requests=4000, max_seconds=seconds))
                rooms.append(load(port, url, {}, threads=threads, max_requests=4000, max_seconds=seconds))
    except RuntimeError as exc:
        return {"error": str(exc)}
    failed = next((f for f in floors + rooms if "error" in f), None)
    if failed:
        return failed
    median = statistics.median
    return {"rps": median(r["rps"] for r in rooms), "floor_rps": median(f["rps"] for f in floors),
            "pct": median(100 * r["rps"] / f["rps"] for f, r in zip(floors, rooms, strict=True)),
            "p50_ms": median(r["p50_ms"] for r in rooms), "p95_ms": median(r["p95_ms"] for r in rooms),
            "rounds": [f"{r['rps']:.0f}/{f['rps']:.0f}" for f, r in zip(floors, rooms, strict=True)],
            "tool": rooms[0]["tool"], "errors": sum(r["errors"] for r in rooms)}


def main() -> dict:
    from app import create_app
    from bench.reports import _schema
    from bench.seed import bench_config, database_url, describe

    url = database_url()
    app = create_app(bench_config(url))
    with app.app_context():
        _schema(url)
    token, _ = seed_room(app)
    ms, statements, size = render_figures(app, token)
    print(f"deal room on {describe(url)}: in-process render {ms:.1f} ms (median of {RENDERS}), "
          f"{statements} SQL statements, {size / 1024:.1f} KB", flush=True)
    if os.environ.get("BENCH_SKIP_LOAD") == "1":
        return {"ok": True}
    figures = load_figures(url, token)
    if "error" in figures:
        print(f"  room under gunicorn: {figures['error']}")
        return {"ok": False}
    verdict = "OK" if figures["pct"] >= TARGET_PCT else "BELOW TARGET"
    print(f"  room under gunicorn -w 2 against the floor, in turns ({figures['tool']}): {figures['rps']:.0f} req/s "
          f"= {figures['pct']:.1f} % of the floor's {figures['floor_rps']:.0f} [target >= {TARGET_PCT} %: {verdict}]; "
          f"p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms; rounds room/floor {figures['rounds']}; "
          f"errors {figures['errors']}", flush=True)
    return {"ok": figures["pct"] >= TARGET_PCT, **figures}


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
