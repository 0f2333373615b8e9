"""A real worker process (python worker.py) against the local Redis and the suite's database."""

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from rq import Queue

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
DOWN_REDIS_URL = "redis://127.0.0.1:6390/0"  # nothing listens here


class RedisServer:
    """A redis-server of a test's own on a free loopback port, in memory only; it can be restarted."""

    def __init__(self, port: int | None = None):
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("these tests need redis-server: apt-get install -y redis-server (make test does this)")
        self.binary, self.port, self.process = binary, port or free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.process = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
        connection = redis.Redis(port=self.port, socket_connect_timeout=1)
        wait_for(lambda: _pings(connection), 10, what=f"redis-server on port {self.port}")
        connection.close()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def _pings(connection) -> bool:
    try:
        return connection.ping()
    except redis.RedisError:
        return False


def _suite_redis_url() -> str:
    """STAGEGATE_TEST_REDIS_URL, else a private redis-server for this run (a fresh machine runs none)."""
    if os.environ.get("STAGEGATE_TEST_REDIS_URL"):
        return os.environ["STAGEGATE_TEST_REDIS_URL"]
    server = RedisServer().start()
    atexit.register(server.stop)
    return server.url


def wait_for(predicate, timeout=15.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class WorkerProcess:
    """`python worker.py` in its own session; stderr goes to a file the test can read."""

    def __init__(self, app, queue_name, tmp_path, **env):
        self.log = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
        environment = {
            **os.environ,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],  # the suite's database
            "REDIS_URL": REDIS_URL,
            "STAGEGATE_QUEUE": queue_name,
            "SECRET_KEY": "worker-test",
            "BASE_URL": app.config["BASE_URL"],  # https: real sending needs it (Settings → Email sending)
            "PYTHONUNBUFFERED": "1",
            **{k: str(v) for k, v in env.items()},
        }
        self.handle = open(self.log, "w")  # noqa: SIM115
        self.process = subprocess.Popen([sys.executable, str(ROOT / "worker.py")], cwd=ROOT, env=environment,
                                        stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text()

    def horse_pids(self) -> list[int]:
        """Pids of work horses that announced a paused sweep (RQ forks each job into its own group)."""
        return [int(m) for m in re.findall(r"stale sweep pid=(\d+)", self.output())]

    def kill(self, sig=signal.SIGKILL) -> None:
        for pid in self.horse_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            self.process.wait(10)
        self.handle.close()


REDIS_URL = _suite_redis_url()


@pytest.fixture
def real_redis():
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.RedisError as exc:
        pytest.fail(f"these tests need Redis at {REDIS_URL}: {exc}")
    return connection


@pytest.fixture
def queue(real_redis, monkeypatch):
    """A queue of our own on the real Redis, so parallel runs never take each other's jobs."""
    name = f"stagegate-test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("STAGEGATE_QUEUE", name)
    yield Queue(name, connection=real_redis)
    for key in real_redis.scan_iter(f"rq:*{name}*"):
        real_redis.delete(key)


@pytest.fixture
def start_worker(app, queue, tmp_path):
    """Start worker processes; every one is killed (with its work horse) after the test."""
    started = []

    def start(**env):
        worker = WorkerProcess(app, queue.name, tmp_path, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()
