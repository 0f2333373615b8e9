"""Floor bench: req/s of a bare Flask page of 50 rows under gunicorn -w 2 (bench/floor_app.py)."""

from bench.board import gunicorn, hammer, load


def floor_figures(*, max_seconds=15) -> dict:
    """Serve bench.floor_app with the board's gunicorn setup and load it as the board is loaded."""
    try:
        with gunicorn("bench.floor_app:app", {}, "/", "gunicorn-floor.log") as (port, _):
            hammer(port, "/", {}, threads=1, max_requests=4)  # warm both workers
            figures = load(port, "/", {}, max_requests=4000, max_seconds=max_seconds)
    except RuntimeError as exc:
        return {"error": str(exc)}
    if "error" in figures:
        return figures
    return {"floor_rps": figures["rps"], "floor_p50_ms": figures["p50_ms"], "tool": figures["tool"]}
