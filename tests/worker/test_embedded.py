"""The embedded default: the same job code on a worker thread against fakeredis, in one process only."""

import subprocess
import sys

from app.queue import start_embedded_worker
from tests.tasks.helpers import stale_deal
from tests.worker.conftest import ROOT, wait_for
from tests.worker.test_worker import counts

TRY_LOCK = """
import sys, types
from app.queue import _take_file_lock
print("locked" if _take_file_lock(types.SimpleNamespace(instance_path=sys.argv[1])) else "refused")
"""


def test_embedded_worker_ticks_and_runs_the_sweep_on_a_thread(app, org, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "REDIS_URL", "")  # the embedded default: fakeredis
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    stale_deal(org, 8, max_days=7)
    thread = start_embedded_worker(app, tick_seconds=3600)
    try:
        assert start_embedded_worker(app) is thread  # wsgi imported twice: still one worker
        wait_for(lambda: len(counts()[0]) == 1, 15, what="the embedded worker's first tick")
        assert counts()[1] == 1
    finally:
        thread.stop()
    assert not thread.is_alive()


def test_only_one_process_may_run_the_embedded_worker(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    thread = start_embedded_worker(app, tick_seconds=3600)

    def other_process():
        return subprocess.run([sys.executable, "-c", TRY_LOCK, str(tmp_path)], cwd=ROOT,
                              capture_output=True, text=True, timeout=30).stdout.strip()

    try:
        assert thread is not None and other_process() == "refused"
    finally:
        thread.stop()
    assert other_process() == "locked"  # the lock goes with the worker
