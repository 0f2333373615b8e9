"""flask run-due: run every periodic sweep once in the foreground."""

import click
from flask import Flask


def _describe(result) -> str:
    if isinstance(result, dict):
        return ", ".join(f"{value} {key}" for key, value in result.items()) or "nothing to do"
    return str(result)


def register(app: Flask) -> None:
    @app.cli.command("run-due")
    @click.option("--now", "now_text", default=None, metavar="ISO-8601",
                  help="Run as if it were this time (work due by then is done), e.g. 2026-12-01T09:00:00+00:00.")
    def run_due_cmd(now_text):
        """Run each sweep once (what the worker's tick does) and print what each did."""
        from app.sweeps import SWEEPS, run_sweep

        now = _parse_now(now_text) if now_text else None
        for name, sweep in SWEEPS:
            click.echo(f"{name}: {_describe(run_sweep(sweep, now))}")


def _parse_now(text: str):
    """Read --now as ISO 8601 (a time without an offset is UTC) into naive UTC."""
    from datetime import UTC, datetime

    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter("must be ISO 8601, e.g. 2026-12-01T09:00:00+00:00", param_hint="--now") from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value
