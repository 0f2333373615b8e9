"""WSGI entry point: gunicorn 'wsgi:app', flask --app wsgi."""

import gc
import os

from app import create_app

app = create_app()

# Everything imported so far lives as long as the process: keep it out of the collector's
# full passes (each scanned ~160,000 objects about once a hundred requests).
gc.freeze()

if os.environ.get("STAGEGATE_EMBEDDED_WORKER") == "1" and not app.config["REDIS_URL"]:
    from app.queue import start_embedded_worker

    start_embedded_worker(app)
