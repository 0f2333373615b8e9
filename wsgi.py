"""WSGI entry point: gunicorn 'wsgi:app', flask --app wsgi."""

import os

from app import create_app

app = create_app()

if os.environ.get("STAGEGATE_EMBEDDED_WORKER") == "1" and not app.config["REDIS_URL"]:
    from app.queue import start_embedded_worker

    start_embedded_worker(app)
