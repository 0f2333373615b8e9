"""Security figures: field patterns on RE2 against Python's re, and sign-in time for known
against unknown emails (production's scrypt). Run alone: python -m bench.security"""

import os
import re
import statistics
import tempfile
import time

from app.pipelines.patterns import compile_pattern


def _median_ms(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def pattern_figures() -> dict:
    """Median time of one full match: an everyday pattern, then "(a+)+" on a non-matching value."""
    everyday, value = r"PO-\d{4}-[A-Z]{2}", "PO-2026-QX"
    python_re = re.compile(everyday)
    figures = {
        "everyday_re_us": _median_ms(lambda: [python_re.fullmatch(value) for _ in range(1000)], 21),
        "everyday_re2_us": _median_ms(lambda: [compile_pattern(everyday).fullmatch(value) for _ in range(1000)], 21),
    }  # 1,000 matches per sample: ms per 1,000 = microseconds per match
    evil = compile_pattern("(a+)+")
    figures["evil_re_20_ms"] = _median_ms(lambda: re.fullmatch("(a+)+", "a" * 19 + "b"), 3)
    figures["evil_re2_20_ms"] = _median_ms(lambda: evil.fullmatch("a" * 19 + "b"), 21)
    figures["evil_re2_10000_ms"] = _median_ms(lambda: evil.fullmatch("a" * 9_999 + "b"), 21)
    return figures


def sign_in_figures(tries: int = 7) -> dict:
    """Median wrong-password sign-in time (ms) for a known, an unknown and a deactivated email."""
    from app import create_app
    from app.auth.service import create_organization
    from app.extensions import db
    from app.models import User
    from config import TestConfig

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tempfile.mkdtemp(prefix='bench-signin-')}/signin.db"
        PASSWORD_HASH_METHOD = "scrypt"  # production's hash
        LOGIN_RATE_LIMIT = "100000 per minute"

    app = create_app(Config)
    with app.app_context():
        db.create_all()
        create_organization("Bench", "known@bench.example", "bench-password")
        gone = User(org_id=User.query.one().org_id, email="gone@bench.example", name="Gone", role="rep",
                    active=False)
        gone.set_password("bench-password")
        db.session.add(gone)
        db.session.commit()
    client = app.test_client()

    def attempt(email):
        return lambda: client.post("/auth/login", data={"email": email, "password": "wrong-password"})

    for email in ("known@bench.example", "nobody@bench.example"):
        attempt(email)()  # warm up
    return {who: _median_ms(attempt(email), tries) for who, email in
            (("known", "known@bench.example"), ("unknown", "nobody@bench.example"),
             ("deactivated", "gone@bench.example"))}


def main() -> dict:
    patterns = pattern_figures()
    print("field patterns (median):")
    print(f"  everyday pattern, one match: Python re {patterns['everyday_re_us']:.2f} us (baseline), RE2 "
          f"{patterns['everyday_re2_us']:.2f} us = {patterns['everyday_re2_us'] / patterns['everyday_re_us']:.1f}x")
    print(f"  (a+)+ on 20 characters: Python re {patterns['evil_re_20_ms']:.1f} ms (baseline, doubling per "
          f"character), RE2 {patterns['evil_re2_20_ms']:.4f} ms = "
          f"{patterns['evil_re_20_ms'] / patterns['evil_re2_20_ms']:,.0f}x faster")
    print(f"  (a+)+ on 10,000 characters: RE2 {patterns['evil_re2_10000_ms']:.2f} ms "
          f"(Python re: about 2**10000 steps, never finishes)")
    if os.environ.get("BENCH_SKIP_SIGNIN") != "1":
        signin = sign_in_figures()
        print("wrong-password sign-in, scrypt (median of 7):")
        print(f"  known email {signin['known']:.1f} ms (baseline); unknown {signin['unknown']:.1f} ms = "
              f"{signin['unknown'] / signin['known']:.2f}x; deactivated {signin['deactivated']:.1f} ms = "
              f"{signin['deactivated'] / signin['known']:.2f}x (1.00x: the time does not tell them apart)")
        patterns.update({f"signin_{k}_ms": v for k, v in signin.items()})
    return patterns


if __name__ == "__main__":
    main()
