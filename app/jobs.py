"""RQ job functions: thin, idempotent, take ids, call services."""

from flask import current_app, has_app_context


def _app():
    if has_app_context():
        return current_app._get_current_object()
    from app import create_app

    return create_app()


def run_due() -> dict:
    """Run every periodic sweep once (the worker's tick and `flask run-due`)."""
    app = _app()
    with app.app_context():
        from rq import get_current_job

        from app.health.service import record_tick
        from app.sweeps import run_all

        if get_current_job() is not None:  # a worker ran this tick (not `flask run-due`): /healthz
            record_tick()
        return run_all()


def run_import(import_id: int) -> dict:
    """Run (or resume) a CSV import; rows already committed are never imported twice."""
    app = _app()
    with app.app_context():
        from app.imports.service import run_import as run

        return run(import_id)


def run_sequences() -> dict:
    """Wake-up: run the due sequence steps now instead of at the next tick."""
    app = _app()
    with app.app_context():
        from app.sequences.sending import sweep_due

        return sweep_due()


def send_one_off_emails() -> dict:
    """Wake-up: send the due one-off emails (meeting invitations) now instead of at the next tick."""
    app = _app()
    with app.app_context():
        from app.sequences.one_off import send_due

        return send_due()


def poll_mailbox(mailbox_id: int) -> dict:
    """Read one IMAP inbox's new messages (the sweep claimed it; a slow inbox delays only itself)."""
    app = _app()
    with app.app_context():
        from app.sequences.imap import poll

        return poll(mailbox_id)


def run_bulk_enroll(job_id: int) -> dict:
    """Enroll a bulk job's contacts (resumes where a killed run stopped)."""
    app = _app()
    with app.app_context():
        from app.sequences.service import run_bulk_enroll as run

        return run(job_id)


def rescore_leads(org_id: int, run: int) -> dict:
    """Rescore every contact of an organisation after its scoring rules changed (resumable)."""
    app = _app()
    with app.app_context():
        from app.leads.settings import rescore_all

        return rescore_all(org_id, run)


def process_lead_submissions() -> int:
    """Turn every stored lead-form submission into its lead (idempotent: each is processed once)."""
    app = _app()
    with app.app_context():
        from app.leads.intake import process_all_pending

        return process_all_pending()


def send_room_invite(invite_id: int) -> str:
    """Email a deal-room invitation once (its link is kept, encrypted, only until it is handed over)."""
    app = _app()
    with app.app_context():
        from app.rooms.service import send_invite

        return send_invite(invite_id)


def deliver_webhooks() -> dict:
    """Wake-up: deliver the due webhook events now instead of at the next tick."""
    app = _app()
    with app.app_context():
        from app.webhooks.delivery import send_due

        return send_due()
