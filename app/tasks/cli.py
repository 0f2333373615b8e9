"""flask run-due: run every periodic sweep once in the foreground."""

import click
from flask import Flask


def _describe(result) -> str:
    if isinstance(result, dict):
        return ", ".join(f"{value} {key}" for key, value in result.items()) or "nothing to do"
    return str(result)


def register(app: Flask) -> None:
    @app.cli.command("run-due")
    def run_due_cmd():
        """Run each sweep once (what the worker's tick does) and print what each did."""
        from app.sweeps import SWEEPS

        for name, sweep in SWEEPS:
            click.echo(f"{name}: {_describe(sweep())}")
