"""Board benches: in-process render time and SQL count, and gunicorn throughput, latency and RSS."""

import contextlib
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import event, text

from app.extensions import db
from bench.seed import ADMIN_EMAIL, OUT, PASSWORD, SECRET_KEY

ROOT = Path(__file__).resolve().parent.parent
BOARD_RULE = "/deals/board/<int:pipeline_id>"
NOT_READY = "board route not ready"


def board_ready(app) -> bool:
    return any(rule.rule == BOARD_RULE for rule in app.url_map.iter_rules())


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _login(client):
    response = client.post("/auth/login", data={"email": ADMIN_EMAIL, "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"bench login failed: {response.status_code}")


def refresh_statistics(app) -> None:
    """On PostgreSQL, VACUUM ANALYZE after the bulk seed, as autovacuum does within a minute.

    Straight after 10,000 bulk INSERTs the planner has no statistics (it guesses one row per
    stage, sorts every deal of a column instead of reading the board index in order) and the
    visibility map is empty (no index-only scans): the render would measure a state a live
    database is never in for long. Set BENCH_NO_ANALYZE=1 to measure that state anyway.
    """
    if os.environ.get("BENCH_NO_ANALYZE") == "1":
        return
    with app.app_context():
        engine = db.engine
        if engine.dialect.name != "postgresql":
            return
        db.session.remove()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def render_figures(app, pipeline_id, renders=50) -> dict:
    """Median server time of a board render (Flask test client) and SQL statements per render."""
    if not board_ready(app):
        return {"error": NOT_READY}
    refresh_statistics(app)
    client = app.test_client()
    _login(client)
    url = f"/deals/board/{pipeline_id}"
    for _ in range(3):  # warm up: templates compiled, caches filled
        response = client.get(url)
        if response.status_code != 200:
            return {"error": f"board answered {response.status_code}"}
    statements = []

    def count(*_args):
        statements.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    times = []
    for _ in range(renders):
        start = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - start) * 1000)
    return {"render_ms": statistics.median(times), "queries": len(statements),
            "bytes": len(response.get_data())}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def _cookies(headers, jar):
    for name, value in headers:
        if name.lower() == "set-cookie":
            key, _, rest = value.partition("=")
            jar[key.strip()] = rest.split(";", 1)[0]
    return jar


def _cookie_header(jar):
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def http_login(port) -> str:
    """Sign in through the real login form (with its CSRF token); return the Cookie header."""
    status, headers, body = _request(port, "GET", "/auth/login")
    jar = _cookies(headers, {})
    match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body) or \
        re.search(rb'value="([^"]+)"[^>]*name="csrf_token"', body)
    form = {"email": ADMIN_EMAIL, "password": PASSWORD}
    if match:
        form["csrf_token"] = match.group(1).decode()
    status, headers, _ = _request(port, "POST", "/auth/login", urllib.parse.urlencode(form),
                                  {"Content-Type": "application/x-www-form-urlencoded",
                                   "Cookie": _cookie_header(jar)})
    if status != 302:
        raise RuntimeError(f"login through gunicorn answered {status}")
    return _cookie_header(_cookies(headers, jar))


def _children(pid) -> list:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _rss_mb(pid) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def hammer(port, url, headers, threads=4, max_requests=400, max_seconds=20) -> tuple:
    """GET `url` from `threads` connections until done or out of time: (latencies ms, errors, seconds)."""
    stop_at = time.monotonic() + max_seconds
    latencies, errors = [], 0

    def one(_):
        if time.monotonic() > stop_at:
            return None
        start = time.perf_counter()
        try:
            code, _, _ = _request(port, "GET", url, headers=headers)
        except OSError:
            code = 0
        return code, (time.perf_counter() - start) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for result in pool.map(one, range(max_requests)):
            if result is None:
                continue
            code, ms = result
            if code == 200:
                latencies.append(ms)
            else:
                errors += 1
    return latencies, errors, time.perf_counter() - started


def start_process(cmd: list, env: dict, log_name: str) -> subprocess.Popen:
    """Start `cmd` from the repository root with `env` over this environment, logging to bench/out/."""
    OUT.mkdir(exist_ok=True)
    log = open(OUT / log_name, "w")  # noqa: SIM115 - closed in stop_process
    process = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    process.log = log
    return process


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 15 s; close its log."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.log.close()


def wait_up(port: int, path: str, server: subprocess.Popen, seconds: float = 30) -> bool:
    """Wait until the server answers `path` (False if it died or did not answer in time)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            _request(port, "GET", path)
            return True
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.2)


@contextlib.contextmanager
def gunicorn(app_spec: str, env: dict, ready_path: str, log_name: str = "gunicorn.log"):
    """Run `gunicorn -w 2 app_spec` on a free port until the block ends; yield (port, server)."""
    port = _free_port()
    binary = str(Path(sys.executable).with_name("gunicorn"))
    server = start_process([binary, "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "60", app_spec],
                           env, log_name)
    try:
        if not wait_up(port, ready_path, server):
            raise RuntimeError(f"gunicorn did not start (see {OUT / log_name})")
        yield port, server
    finally:
        stop_process(server)


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def load(port, url, headers, *, threads=4, max_requests=400, max_seconds=20) -> dict:
    """Load `url` with wrk (4 connections, as the issue measured) when installed, else Python threads.

    Returns rps, p50_ms, p95_ms (p90 under wrk, which prints 50/75/90/99), requests, errors, tool.
    """
    wrk = shutil.which("wrk")
    if wrk:
        args = [wrk, "-t2", f"-c{threads}", f"-d{max_seconds}s", "--latency"]
        for name, value in headers.items():
            args += ["-H", f"{name}: {value}"]
        out = subprocess.run([*args, f"http://127.0.0.1:{port}{url}"], capture_output=True, text=True,
                             timeout=max_seconds + 30).stdout
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        errors = int(bad.group(1)) if bad else 0
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        return {"rps": float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1)),
                "p50_ms": _ms(re.search(r"50%\s+(\S+)", out).group(1)),
                "p95_ms": _ms(re.search(r"90%\s+(\S+)", out).group(1)),
                "requests": requests - errors, "errors": errors, "tool": "wrk -c4"}
    latencies, errors, elapsed = hammer(port, url, headers, threads, max_requests, max_seconds)
    if not latencies:
        return {"error": f"no successful requests ({errors} errors)"}
    return {"rps": len(latencies) / elapsed, "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95), "requests": len(latencies), "errors": errors,
            "tool": "python, 4 threads"}


FLOOR_APP = "bench.floor_app:app"


def load_figures(db_url, pipeline_id, *, threads=4, rounds=3, seconds=5) -> dict:
    """Load the board and the floor in turns under gunicorn (2 workers each); return both and their ratio.

    Both servers run side by side and are loaded alternately, `rounds` times for `seconds` each
    (floor, board, floor, board, ...): a neighbour's burst then lands on both, not on one of
    two consecutive 15-second runs. The ratio is the median of the rounds' ratios; req/s and
    latencies are the board's medians. Also reads the board workers' RSS and the page's weight.
    """
    env = {"DATABASE_URL": db_url, "SECRET_KEY": SECRET_KEY, "REDIS_URL": "",
           "LOGIN_RATE_LIMIT": "1000 per minute", "STAGEGATE_EMBEDDED_WORKER": "0"}
    try:
        with gunicorn("wsgi:app", env, "/auth/login") as (port, server), \
                gunicorn(FLOOR_APP, {}, "/", "gunicorn-floor.log") as (floor_port, _):
            cookie = http_login(port)
            url = f"/deals/board/{pipeline_id}"
            status, _, body = _request(port, "GET", url, headers={"Cookie": cookie})
            if status == 404:
                return {"error": NOT_READY}
            if status != 200:
                return {"error": f"board answered {status} under gunicorn"}
            for _ in range(4):  # warm both workers of each server
                _request(port, "GET", url, headers={"Cookie": cookie})
                _request(floor_port, "GET", "/")
            floors, boards = [], []
            for _ in range(rounds):
                floors.append(load(floor_port, "/", {}, threads=threads, max_requests=4000,
                                   max_seconds=seconds))
                boards.append(load(port, url, {"Cookie": cookie}, threads=threads, max_requests=4000,
                                   max_seconds=seconds))
            workers = _children(server.pid)
            rss = max((_rss_mb(pid) for pid in workers), default=0.0)
    except RuntimeError as exc:
        return {"error": str(exc)}
    failed = next((f for f in floors + boards if "error" in f), None)
    if failed:
        return failed
    median = statistics.median
    return {"rps": median(b["rps"] for b in boards), "p50_ms": median(b["p50_ms"] for b in boards),
            "p95_ms": median(b["p95_ms"] for b in boards), "requests": sum(b["requests"] for b in boards),
            "errors": sum(b["errors"] for b in boards), "tool": boards[0]["tool"],
            "floor_rps": median(f["rps"] for f in floors),
            "floor_pct": median(100 * b["rps"] / f["rps"] for f, b in zip(floors, boards, strict=True)),
            "rounds": [f"{b['rps']:.0f}/{f['rps']:.0f}" for f, b in zip(floors, boards, strict=True)],
            "rss_mb": rss, "workers": len(workers), "page_kb": len(body) / 1024,
            "cards": body.count(b'<article class="card')}
