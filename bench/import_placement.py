"""Benchmark: the cost of placing imported deals short of their stage, as a ratio in the same run.

Baseline: rows that name Qualified and meet it (each is created at once). Measured: the same rows
naming Proposal: the gate refuses Proposal, the import finds the furthest stage the row's facts
meet (Qualified) and creates it there with a note in the report.

Run: python -m bench.import_placement [rows]   (SQLite in a temp dir unless DATABASE_URL is set)
"""

import sys

from bench import import_csv

ROWS = 3_000


def main(rows: int = ROWS) -> dict:
    baseline = import_csv.main(rows, stage="Qualified")
    placed = import_csv.main(rows, stage="Proposal")
    ratio = placed["rows_per_s"] / baseline["rows_per_s"]
    print(f"import_placement: rows placed short of Proposal import at {ratio:.2f}x the speed of rows that meet "
          f"their stage ({placed['rows_per_s']:.0f} vs {baseline['rows_per_s']:.0f} rows/s, {rows} rows each, "
          f"{placed['created']} placed in Qualified)")
    return {"baseline": baseline, "placed": placed, "ratio": round(ratio, 2)}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else ROWS)
