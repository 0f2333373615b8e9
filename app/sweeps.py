"""Periodic sweeps over due rows. Each is set-based and idempotent."""

import os


def stale_reminders() -> dict:
    """Remind owners of deals past their stage's maximum days (once per stay)."""
    from app.tasks.service import sweep_stale

    # Test-only: hold the sweep's transaction open so a test can kill the worker inside it.
    pause = float(os.environ.get("STAGEGATE_SWEEP_PAUSE", "0") or 0)
    return sweep_stale(pause=pause)


def resume_imports() -> dict:
    """Queue again the imports that lost their wake-up or their worker (no progress for 2 minutes)."""
    from app.imports.service import sweep_imports

    return sweep_imports()


def lead_sweeps(now=None) -> dict:
    """Drop lapsed lead points, escalate unanswered hot leads once, resume stalled rescoring."""
    from app.leads.sweeps import run_lead_sweeps

    return run_lead_sweeps(now)


SWEEPS = [("stale_reminders", stale_reminders)]  # (name, function); sequences add theirs here
SWEEPS.append(("resume_imports", resume_imports))
SWEEPS.append(("leads", lead_sweeps))


def run_all() -> dict:
    """Run each sweep once and return how much each did."""
    return {name: sweep() for name, sweep in SWEEPS}
