"""`make test` on a fresh machine: the Debian packages the suite needs come first."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "system-deps"


@pytest.fixture
def fresh_machine(tmp_path):
    """A PATH whose `id` claims a uid and whose `apt-get` only records its calls; no chromium, no redis."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    calls = tmp_path / "apt-calls"

    def run(uid: int):
        (stubs / "id").write_text(f"#!/bin/sh\necho {uid}\n")
        (stubs / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
        for stub in stubs.iterdir():
            stub.chmod(0o755)
        env = {"PATH": f"{stubs}:/usr/bin:/bin", "CHROMIUM_BIN": str(tmp_path / "no-chromium"),
               "REDIS_SERVER_BIN": str(tmp_path / "no-redis-server"), "VENV": str(ROOT / ".venv")}
        done = subprocess.run([str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
        return done, calls.read_text().splitlines() if calls.exists() else []

    return run


def test_make_test_installs_system_packages_before_running_the_suite():
    plan = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout
    lines = plan.splitlines()
    deps = next(i for i, line in enumerate(lines) if ".ci/system-deps" in line)
    suite = next(i for i, line in enumerate(lines) if line.strip().endswith("pytest"))
    assert deps < suite


def test_as_a_normal_user_it_stops_at_once_with_the_one_command_to_run(fresh_machine):
    done, apt_calls = fresh_machine(uid=1000)
    assert done.returncode == 1 and apt_calls == []
    assert "sudo apt-get update && sudo apt-get install -y chromium redis-server" in done.stderr


def test_as_root_it_installs_the_missing_packages_after_apt_get_update(fresh_machine):
    done, apt_calls = fresh_machine(uid=0)
    assert done.returncode == 0, done.stderr
    assert apt_calls == ["update -qq", "install -y -qq chromium redis-server"]


def test_with_everything_installed_it_does_nothing():
    done = subprocess.run([str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""
