"""Periodic sweeps over due rows. Each is set-based and idempotent."""

import os


def stale_reminders() -> dict:
    """Remind owners of deals past their stage's maximum days (once per stay)."""
    from app.tasks.service import sweep_stale

    # Test-only: hold the sweep's transaction open so a test can kill the worker inside it.
    pause = float(os.environ.get("STAGEGATE_SWEEP_PAUSE", "0") or 0)
    return sweep_stale(pause=pause)


def forecast_snapshots() -> dict:
    """Freeze each pipeline's forecast once a week (forecast accuracy is measured against it)."""
    from app.reports.forecast import snapshot_forecasts

    return snapshot_forecasts()


SWEEPS = [("stale_reminders", stale_reminders)]  # (name, function); sequences add theirs here
SWEEPS.append(("forecast_snapshots", forecast_snapshots))


def run_all() -> dict:
    """Run each sweep once and return how much each did."""
    return {name: sweep() for name, sweep in SWEEPS}
