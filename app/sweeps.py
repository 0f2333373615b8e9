"""Periodic sweeps over due rows. Each is set-based and idempotent."""

SWEEPS = []  # (name, function) pairs; later work adds stale-deal reminders, sequences


def run_all() -> dict:
    """Run each sweep once and return how much each did."""
    return {name: sweep() for name, sweep in SWEEPS}
