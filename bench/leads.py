"""Lead benches: form intake through gunicorn, and rescoring 100,000 contacts.

(a) Form intake: gunicorn (2 worker processes, 8 threads each) on the bench database, with Redis (REDIS_URL, for
    the rate limiter and the queue) and `python worker.py` running. Page tokens are signed
    up front with the app's key and left to age past the minimum time, as a person's page
    would; then N distinct people submit the hosted form from 16 client threads. The request
    stores the submission and wakes the worker, which makes the leads; the bench waits for it
    and counts every row (submissions, contacts, form_fill events, follow-up tasks). Baseline in
    the same run: GET /healthz through the same gunicorn; the figure is reported as a ratio.
(b) Rescoring: 100,000 contacts with 2 events each, then one rescoring run (the job the
    settings page queues), contacts/s; baseline: the same batched read of contacts and
    events without scoring or writing.

python -m bench.leads  (DATABASE_URL of a bench database; REDIS_URL; BENCH_LEAD_SUBMISSIONS,
BENCH_RESCORE_CONTACTS change the sizes). It drops and recreates every table.
"""

import os
import random
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert

from app import create_app
from app.auth.service import create_organization, create_user
from app.extensions import db
from app.models import Contact, Task, utcnow
from app.models.leads import ContactEvent, LeadSettings, LeadSubmission
from bench.board import _free_port, _request, percentile, start_process, stop_process, wait_up
from bench.seed import (
    OUT,
    PASSWORD,
    SECRET_KEY,
    bench_config,
    check_resettable,
    database_url,
    describe,
)

ROOT = Path(__file__).resolve().parent.parent
TARGET_RPS = 300
THREADS = int(os.environ.get("BENCH_CLIENT_THREADS", "16"))


def _fresh(app):
    with app.app_context():
        db.drop_all()
        db.create_all()
        org = create_organization("Leads Bench", "admin@leads-bench.example.com", PASSWORD)
        for i in range(4):
            create_user(org, f"rep{i}@leads-bench.example.com", f"Rep {i}", "rep", PASSWORD)
        from app.leads.lead_forms import save_form

        admin = org and __import__("app.models", fromlist=["User"]).User.query.filter_by(role="admin").first()
        form = save_form(admin, {"name": "Contact us", "follow_up_minutes": "30"},
                         [{"maps_to": "email", "label": "Email", "required": True},
                          {"maps_to": "name", "label": "Name", "required": True},
                          {"maps_to": "company", "label": "Company", "required": False},
                          {"maps_to": "message", "label": "Message", "required": False}])
        return org.id, form.id, form.key


def _load(port, requests, threads=THREADS):
    """Fire (method, path, body, headers) requests from `threads` threads; return (elapsed, latencies, codes)."""
    def one(req):
        start = time.perf_counter()
        try:
            code, _, _ = _request(port, *req)
        except OSError:
            code = 0
        return code, (time.perf_counter() - start) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(one, requests))
    return time.perf_counter() - started, [ms for _, ms in results], [code for code, _ in results]


def _floor_rps(env: dict, threads: str, n: int) -> float:
    """GET / of bench/floor_app.py (a bare Flask page) through the same gunicorn settings: the floor."""
    port = _free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    server = start_process([gunicorn, "-w", "2", "--threads", threads, "-b", f"127.0.0.1:{port}", "bench.floor_app:app"],
                    env, "leads-floor.log")
    try:
        if not wait_up(port, "/", server):
            return 0.0
        elapsed, _, codes = _load(port, [("GET", "/", None, None)] * n)
        return sum(1 for c in codes if c == 200) / elapsed
    finally:
        stop_process(server)


def drain_figures(url: str, n: int) -> dict:
    """The worker's code on a backlog: N stored submissions processed in-process, submissions/s.

    Baseline in the same run: the floor of that work, N bare contact rows written with one
    executemany in one transaction.
    """
    app = create_app(bench_config(url))
    org_id, form_id, _key = _fresh(app)
    with app.app_context():
        from app.leads import intake
        from app.models.leads import LeadForm

        form = db.session.get(LeadForm, form_id)
        rows = [{"org_id": org_id, "form_id": form_id, "nonce": f"n{i}", "created_new": False, "utm": {},
                 "referrer": "", "created_at": utcnow(),
                 "payload": {"lead": {"email": f"lead{i}@bench{i % 97}.example", "name": f"Lead {i}",
                                      "company": f"Bench Co {i % 97}", "source": f"Form: {form.name}",
                                      "utm": {"source": "bench"}},
                             "facts": {}, "message": "Please call me", "answers": "Name: Lead"}} for i in range(n)]
        db.session.execute(insert(LeadSubmission), rows)
        db.session.commit()
        started = time.perf_counter()
        done = intake.process_all_pending()
        elapsed = time.perf_counter() - started
        counts = {"contacts": Contact.query.filter_by(org_id=org_id).count(),
                  "follow_up_tasks": Task.query.filter_by(org_id=org_id, kind="lead_follow_up").count()}
        floor_rows = [{"org_id": org_id, "email": f"floor{i}@floor.example", "name": f"F {i}", "lead_facts": {},
                       "utm": {}, "source": "bench", "referrer": ""} for i in range(n)]
        started = time.perf_counter()
        db.session.execute(insert(Contact), floor_rows)
        db.session.commit()
        floor = time.perf_counter() - started
    return {"n": n, "processed": done, "per_s": done / elapsed, "floor_per_s": n / floor,
            "ratio": (done / elapsed) / (n / floor), **counts}


def intake_figures(url: str, n: int) -> dict:
    """Form submissions per second through gunicorn -w 2 with Redis and the worker running."""
    redis_url = os.environ.get("REDIS_URL", "")
    if not url.startswith("postgresql") or not redis_url:
        return {"error": "needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)"}
    app = create_app(bench_config(url))
    org_id, form_id, form_key = _fresh(app)
    OUT.mkdir(exist_ok=True)
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "REDIS_URL": redis_url,
           "LEAD_FORM_RATE_LIMIT": "1000000 per minute", "LEAD_FORM_VIEW_LIMIT": "1000000 per minute",
           "STAGEGATE_QUEUE": "leads-bench", "PYTHONUNBUFFERED": "1"}
    import redis
    from rq import Queue

    from app.leads.intake import WAKE_KEY

    connection = redis.Redis.from_url(redis_url)
    Queue(env["STAGEGATE_QUEUE"], connection=connection).empty()  # nothing left from an earlier run
    connection.delete(WAKE_KEY)
    port = _free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    workers = [start_process([sys.executable, "worker.py"], env, "leads-worker.log")]
    # 2 worker processes, each with threads (as `make run` serves): a request waiting on the
    # database or Redis does not hold a whole process.
    threads = os.environ.get("BENCH_GUNICORN_THREADS", "8")
    server = start_process([gunicorn, "-w", "2", "--threads", threads, "-b", f"127.0.0.1:{port}", "--timeout", "60",
                     "wsgi:app"], env, "leads-gunicorn.log")
    try:
        if not wait_up(port, "/healthz", server):
            return {"error": f"gunicorn did not start (see {OUT / 'leads-gunicorn.log'})"}
        if _request(port, "GET", f"/f/{form_key}")[0] != 200:
            return {"error": "the hosted form did not answer 200"}
        with app.app_context():
            from app.leads.lead_forms import issue_token
            from app.models.leads import LeadForm

            form = db.session.get(LeadForm, form_id)
            tokens = [issue_token(SECRET_KEY, form) for _ in range(n)]
        health = [("GET", "/healthz", None, None)] * max(200, n // 2)
        base_elapsed, _, base_codes = _load(port, health)
        baseline_rps = sum(1 for c in base_codes if c == 200) / base_elapsed
        floor_rps = _floor_rps(env, threads, max(200, n // 2))
        time.sleep(max(0.0, app.config["LEAD_FORM_MIN_SECONDS"] + 0.2))  # the pages age like a person's
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        bodies = [urllib.parse.urlencode({"_t": tokens[i], "f_email": f"lead{i}@bench{i % 97}.example",
                                          "f_name": f"Lead {i}", "f_company": f"Bench Co {i % 97}",
                                          "f_message": "Please call me", "utm_source": "bench"})
                  for i in range(n)]
        if workers[-1].poll() is not None:  # an idle worker may have quit (see the README note); start one
            workers.append(start_process([sys.executable, "worker.py"], env, "leads-worker-2.log"))
        elapsed, latencies, codes = _load(port, [("POST", f"/f/{form_key}", b, headers) for b in bodies])
        ok = sum(1 for c in codes if c == 200)
        drain_started = time.perf_counter()
        with app.app_context():
            while True:  # the worker turns every stored submission into its lead
                pending = LeadSubmission.query.filter(LeadSubmission.processed_at.is_(None)).count()
                db.session.rollback()
                if pending == 0 or time.perf_counter() - drain_started > float(os.environ.get(
                        "BENCH_DRAIN_SECONDS", "300")):
                    break
                if workers[-1].poll() is not None:
                    workers.append(start_process([sys.executable, "worker.py"], env, f"leads-worker-{len(workers) + 1}.log"))
                time.sleep(1)
        drained = time.perf_counter() - drain_started + elapsed
        with app.app_context():
            counts = {
                "submissions": LeadSubmission.query.filter_by(form_id=form_id).count(),
                "contacts": Contact.query.filter_by(org_id=org_id).count(),
                "form_fill_events": ContactEvent.query.filter_by(org_id=org_id, type="form_fill").count(),
                "follow_up_tasks": Task.query.filter_by(org_id=org_id, kind="lead_follow_up").count(),
            }
        rps = ok / elapsed
        return {"floor_per_s": floor_rps, "floor_ratio": rps / floor_rps if floor_rps else 0.0,
                "submissions_per_s": rps, "processed_per_s": counts["contacts"] / drained, "pending": pending, "baseline_healthz_per_s": baseline_rps, "ratio": rps / baseline_rps,
                "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95), "sent": n, "ok": ok,
                "errors": n - ok, **counts, "all_stored": all(v == n for v in counts.values())}
    finally:
        stop_process(server)
        for worker in workers:
            stop_process(worker)


def rescore_figures(url: str, n: int) -> dict:
    """Contacts rescored per second by the rescoring job, against a read-only pass over the same rows."""
    app = create_app(bench_config(url))
    org_id, _form_id, _key = _fresh(app)
    rng = random.Random(9)
    now = utcnow()
    with app.app_context():
        contacts = [{"org_id": org_id, "email": f"c{i}@r{i % 500}.example", "name": f"C {i}",
                     "lead_facts": {"industry": rng.choice(["Insurance", "Banking", "Retail"]),
                                    "company_size": str(rng.randint(1, 500))},
                     "utm": {}, "source": "bench", "referrer": ""} for i in range(n)]
        for start in range(0, n, 5000):
            db.session.execute(insert(Contact), contacts[start:start + 5000])
        db.session.commit()
        first = db.session.query(func.min(Contact.id)).filter_by(org_id=org_id).scalar()
        kinds = ["form_fill", "page_view", "email_click", "email_open", "email_reply"]
        events = [{"org_id": org_id, "contact_id": first + i, "type": rng.choice(kinds),
                   "at": now - timedelta(days=rng.randint(0, 120)), "points": 0, "created_at": now}
                  for i in range(n) for _ in range(2)]
        for start in range(0, len(events), 10000):
            db.session.execute(insert(ContactEvent), events[start:start + 10000])
        db.session.commit()
        if url.startswith("postgresql"):
            db.session.remove()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        started = time.perf_counter()
        last = 0
        read = 0
        while True:  # baseline: the same batches, read only
            batch = (Contact.query.filter(Contact.org_id == org_id, Contact.id > last).order_by(Contact.id)
                     .limit(1000).all())
            if not batch:
                break
            ids = [c.id for c in batch]
            db.session.query(ContactEvent.contact_id, ContactEvent.type, ContactEvent.at).filter(
                ContactEvent.contact_id.in_(ids)).all()
            last = ids[-1]
            read += len(batch)
            db.session.expunge_all()
        baseline = time.perf_counter() - started
        from app.extensions import db as _db
        from app.leads.scoring import ensure_defaults
        from app.leads.settings import FitRule, rescore_all

        _db.session.add(FitRule(org_id=org_id, field="industry", operator="in", value="Insurance", points=25))
        settings = ensure_defaults(org_id)
        settings.rescore_run += 1
        settings.rescore_status, settings.rescore_total = "queued", n
        _db.session.commit()
        started = time.perf_counter()
        result = rescore_all(org_id, settings.rescore_run)
        elapsed = time.perf_counter() - started
        status = LeadSettings.query.filter_by(org_id=org_id).one().rescore_status
        crossed = Task.query.filter_by(org_id=org_id).count()
    return {"contacts": n, "contacts_per_s": result["scored"] / elapsed, "seconds": elapsed,
            "baseline_read_per_s": read / baseline, "ratio": (result["scored"] / elapsed) / (read / baseline),
            "status": status, "tasks_from_crossings": crossed}


def main() -> dict:
    url = database_url()
    check_resettable(url)
    print(f"Leads bench on {describe(url)}; {os.cpu_count()} CPU(s), shared and noisy.", flush=True)
    n = int(os.environ.get("BENCH_LEAD_SUBMISSIONS", "3000"))
    intake = intake_figures(url, n)
    if "error" in intake:
        print(f"  form intake: {intake['error']}")
    else:
        verdict = "meets" if intake["submissions_per_s"] >= TARGET_RPS else "MISSES"
        print(f"  form intake, gunicorn -w 2 --threads {os.environ.get('BENCH_GUNICORN_THREADS', '8')} + Redis + worker, "
              f"{THREADS} client threads: {intake['submissions_per_s']:,.0f} submissions/s "
              f"({verdict} the >= {TARGET_RPS}/s target); baseline GET /healthz {intake['baseline_healthz_per_s']:,.0f}/s "
              f"-> ratio {intake['ratio']:.2f}; p50 {intake['p50_ms']:.1f} ms, p95 {intake['p95_ms']:.1f} ms; "
              f"{intake['ok']}/{intake['sent']} answered 200", flush=True)
        print(f"  floor (bench/floor_app.py GET /, same gunicorn settings): {intake['floor_per_s']:,.0f}/s -> intake "
              f"ratio {intake['floor_ratio']:.2f}", flush=True)
        print(f"  the worker made the leads at {intake['processed_per_s']:,.1f}/s (from the first submission to the "
              f"last processed; {intake['pending']} left unprocessed)", flush=True)
        print(f"  rows after: {intake['submissions']} submissions, {intake['contacts']} contacts, "
              f"{intake['form_fill_events']} form_fill events, {intake['follow_up_tasks']} follow-up tasks "
              f"({'every one stored' if intake['all_stored'] else 'MISSING ROWS'})", flush=True)
    backlog = int(os.environ.get("BENCH_DRAIN_SUBMISSIONS", "3000"))
    if backlog > 0:
        drain = drain_figures(url, backlog)
        print(f"  worker drain of a {drain['n']:,}-submission backlog (in-process, batches of "
              f"{__import__('app.leads.intake', fromlist=['BATCH']).BATCH}): {drain['per_s']:,.0f} submissions/s "
              f"made into leads; floor (bare contact INSERT) {drain['floor_per_s']:,.0f} rows/s -> ratio "
              f"{drain['ratio']:.3f}; {drain['contacts']} contacts, {drain['follow_up_tasks']} follow-up tasks",
              flush=True)
    size = int(os.environ.get("BENCH_RESCORE_CONTACTS", "100000"))
    if size <= 0:
        return {"intake": intake, "rescore": None}
    rescore = rescore_figures(url, size)
    print(f"  rescoring {rescore['contacts']:,} contacts: {rescore['contacts_per_s']:,.0f} contacts/s "
          f"({rescore['seconds']:.1f} s, {rescore['status']}); baseline read-only pass "
          f"{rescore['baseline_read_per_s']:,.0f} contacts/s -> ratio {rescore['ratio']:.2f}; "
          f"{rescore['tasks_from_crossings']:,} crossing tasks", flush=True)
    return {"intake": intake, "rescore": rescore}


if __name__ == "__main__":
    figures = main()
    sys.exit(0 if figures["intake"].get("all_stored") else 1)
