"""Benchmark: import a 10,000-row Pipedrive-style deals CSV through the gate; print rows/s.

Run: python -m bench.import_csv [rows]   (SQLite in a temp dir unless DATABASE_URL is set)
"""

import csv
import io
import os
import random
import sys
import tempfile
import time

ROWS = 10_000


def make_csv(rows: int, owner_name: str, stage: str = "Qualified") -> bytes:
    """A Pipedrive deals export into `stage`: nine rows in ten have Qualified's entry facts, one has none."""
    rng = random.Random(7)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Deal - ID", "Deal - Title", "Deal - Value", "Deal - Currency", "Deal - Stage", "Deal - Owner",
                     "Deal - Organization", "Person - Name", "Person - Email", "Deal - Deal created",
                     "Deal - ICP confirmed", "Deal - Pain identified"])
    for i in range(1, rows + 1):
        complete = i % 10
        writer.writerow([i, f"Deal {i}", f"{rng.randint(1, 500) * 100}", "USD", stage, owner_name,
                         f"Company {i % 700}", f"Person {i}", f"person{i % 3000}@buyer{i % 700}.example.com",
                         f"2024-0{1 + i % 9}-1{i % 10} 10:00:00", "Yes" if complete else "",
                         "Slow manual process" if complete else ""])
    return out.getvalue().encode()


def main(rows: int = ROWS, stage: str = "Qualified") -> dict:
    tmp = tempfile.mkdtemp(prefix="stagegate-bench-")
    os.environ.setdefault("REDIS_URL", "")
    from config import Config

    class BenchConfig(Config):
        SQLALCHEMY_DATABASE_URI = Config.SQLALCHEMY_DATABASE_URI if os.environ.get("DATABASE_URL") \
            else f"sqlite:///{tmp}/bench.db"

    from app import create_app
    from app.auth.service import create_organization
    from app.extensions import db
    from app.imports import service as imports
    from app.models import Deal, ImportJob, Pipeline, User

    app = create_app(BenchConfig)
    with app.app_context():
        db.create_all()
        if db.engine.dialect.name == "sqlite":
            # As the other benches: WAL makes a commit one append instead of journal fsyncs (the
            # import commits once per batch of rows, a savepoint per row).
            with db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        org = create_organization(f"Bench import {time.time_ns()}", f"bench{time.time_ns()}@example.com",
                                  "bench-password", admin_name="Bench Admin", templates=["article"])
        admin = User.query.filter_by(org_id=org.id).one()
        pipeline = Pipeline.query.filter_by(org_id=org.id).first()
        text, note = imports.read_upload(io.BytesIO(make_csv(rows, admin.name, stage)), "bench.csv")
        job = imports.start_import(admin, "deals", "bench.csv", text, note, pipeline)
        job.status = "queued"  # the mapping screen's guesses, as a user would accept them
        db.session.commit()
        job_id, org_id = job.id, org.id
        db.session.remove()
        started = time.perf_counter()
        result = imports.run_import(job_id)
        elapsed = time.perf_counter() - started
        job = db.session.get(ImportJob, job_id)
        deals = Deal.query.filter_by(org_id=org_id).count()
    figures = {"rows": rows, "seconds": round(elapsed, 2), "rows_per_s": round(rows / elapsed, 1),
               "created": result["created"], "reported": result["errors"], "deals": deals, "stage": stage,
               "status": job.status, "database": app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0]}
    print(f"import_csv: {rows} deal rows into {stage} in {elapsed:.2f}s = {rows / elapsed:.0f} rows/s "
          f"({result['created']} created, {result['errors']} refused by the gate, {figures['database']})")
    return figures


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else ROWS)
