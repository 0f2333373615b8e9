"""What the odd-input guards cost per request, as ratios to the same work without them.

(1) The API's body reader (json.loads, then a scan for lone surrogates, skipped unless the raw
    body holds a \\uD escape) against the same reader without the guard, for a typical deal body, a 2 MB
    body of facts, and the same with one escaped surrogate pair (which forces the full scan).
(2) Matching /api/v1/deals/<id>/move with the app's bounded <int:> converter against
    werkzeug's stock IntegerConverter on the same URL map.
Run alone with `python -m bench.odd_input`; `make bench` runs it with the others.
"""

import contextlib
import json
import statistics
import time

from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, Map, Rule

from app.api.parse import _reject_constant, parse_json_object
from app.ids import BoundedIntConverter


def _median_us(func, repeat: int) -> float:
    samples = []
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(repeat):
            func()
        samples.append((time.perf_counter() - started) / repeat * 1e6)
    return statistics.median(samples)


def _bodies() -> dict:
    typical = {"pipeline_id": 12, "title": "Acme renewal – Q3 (ünïcødé)", "amount": "12500.00",
               "owner_email": "rae@acme.example", "facts": {"icp_confirmed": True, "pain": "Churn " * 40,
                                                            "budget_range": "25000.00"}}
    big = {"pipeline_id": 12, "title": "Big", "facts": {f"field_{i}": "déjà vu " * 12 for i in range(10_000)}}
    pair = {**big, "title": "Big \U0001F600"}  # json.dumps writes the emoji as an escaped surrogate pair
    return {"typical deal body": json.dumps(typical).encode(), "2 MB of facts": json.dumps(big).encode(),
            "2 MB of facts, one escaped pair": json.dumps(pair).encode()}


def _map(converter) -> Map:
    rules = [Rule(f"/api/v1/deals/<int:deal_id>{suffix}", endpoint=f"e{suffix}", methods=["GET", "POST"])
             for suffix in ("", "/move", "/transitions")]
    rules += [Rule(f"/deals/<int:deal_id>/x{i}", endpoint=f"x{i}") for i in range(50)]
    return Map(rules, converters={"int": converter})


def main() -> dict:
    figures = {}
    print("odd input guards (median of 7 runs):")
    for name, raw in _bodies().items():
        repeat = 2000 if len(raw) < 10_000 else 5
        plain = _median_us(lambda raw=raw: json.loads(raw, parse_constant=_reject_constant), repeat)
        guarded = _median_us(lambda raw=raw: parse_json_object(raw), repeat)
        figures[name] = guarded / plain
        print(f"  body reader, {name} ({len(raw):,} B): {guarded:,.1f} µs vs the unguarded reader {plain:,.1f} µs "
              f"= {guarded / plain:.2f}x")
    stock = _map(IntegerConverter).bind("localhost")
    bounded = _map(BoundedIntConverter).bind("localhost")
    for url in ("/api/v1/deals/123456/move", "/api/v1/deals/2147483648/move"):
        def match(adapter, url=url):
            with contextlib.suppress(NotFound):  # the bounded map answers 404 past the id range
                adapter.match(url, method="POST")
        base = _median_us(lambda: match(stock), 5000)
        ours = _median_us(lambda: match(bounded), 5000)
        figures[url] = ours / base
        print(f"  route match {url}: {ours:.2f} µs vs stock converter {base:.2f} µs = {ours / base:.2f}x")
    return figures


if __name__ == "__main__":
    main()
