"""Periodic sweeps over due rows. Each is set-based and idempotent."""

import os


def stale_reminders(now=None) -> dict:
    """Remind owners of deals past their stage's maximum days (once per stay)."""
    from app.tasks.service import sweep_stale

    # Test-only: hold the sweep's transaction open so a test can kill the worker inside it.
    pause = float(os.environ.get("STAGEGATE_SWEEP_PAUSE", "0") or 0)
    return sweep_stale(now=now, pause=pause)


def sequence_steps(now=None) -> dict:
    """Send due sequence emails and create due call/LinkedIn tasks (at most once each)."""
    from app.sequences.sending import sweep_due

    return sweep_due(now)


def one_off_emails(now=None) -> dict:
    """Send due one-off emails (meeting invitations), at most once each, retrying what was deferred."""
    from app.sequences.one_off import send_due

    return send_due(now)


def webhooks(now=None) -> dict:
    """Deliver due webhook events, each subscription's in order, retrying what failed for a while."""
    from app.webhooks.delivery import send_due

    return send_due(now)


def reply_mailboxes(now=None) -> dict:
    """Claim the IMAP inboxes whose turn has come: a job each on the worker, polled in turn by `flask run-due`."""
    from rq import get_current_job

    from app.sequences.imap import sweep_mailboxes

    # `flask run-due` runs in the foreground with no worker behind it: it polls each inbox itself
    # (each within the short connect/read timeout).
    return sweep_mailboxes(now, inline=get_current_job() is None)


def resume_imports() -> dict:
    """Queue again the imports that lost their wake-up or their worker (no progress for 2 minutes)."""
    from app.imports.service import sweep_imports

    return sweep_imports()


def lead_sweeps(now=None) -> dict:
    """Drop lapsed lead points, escalate unanswered hot leads once, resume stalled rescoring."""
    from app.leads.sweeps import run_lead_sweeps

    return run_lead_sweeps(now)


def forecast_snapshots(now=None) -> dict:
    """Freeze each pipeline's forecast once a week (forecast accuracy is measured against it)."""
    from app.reports.forecast import snapshot_forecasts

    return snapshot_forecasts(now)


def criteria_review(now=None) -> dict:
    """Remind each organisation's admin once a quarter to review the stages whose numbers moved most."""
    from app.reports.criteria import sweep_criteria_review

    return sweep_criteria_review(now)


SWEEPS = [  # (name, function): each selects its due rows and is idempotent
    ("stale_reminders", stale_reminders),
    ("resume_imports", resume_imports),
    ("reply_mailboxes", reply_mailboxes),
    ("sequence_steps", sequence_steps),
    ("one_off_emails", one_off_emails),
    ("webhooks", webhooks),
    ("leads", lead_sweeps),
    ("forecast_snapshots", forecast_snapshots),
    ("criteria_review", criteria_review),
]


def run_sweep(sweep, now=None):
    """Run one sweep, as of `now` when given and when the sweep takes it (flask run-due --now)."""
    import inspect

    if now is not None and "now" in inspect.signature(sweep).parameters:
        return sweep(now=now)
    return sweep()


def run_all(now=None) -> dict:
    """Run each sweep once and return how much each did."""
    return {name: run_sweep(sweep, now) for name, sweep in SWEEPS}
