"""Streamed CSV files that are safe to open in a spreadsheet (formula injection is defused).

Every CSV the app serves (exports, import errors, report tables) is written by `csv_lines`.
"""

import csv
import io
from datetime import date, datetime
from decimal import Decimal

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """Render a value for a CSV cell; text that a spreadsheet would run gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(header: list, rows):
    """Yield a CSV file line by line: the header, then each row of values, every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush():
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    yield "\ufeff"  # a BOM so Excel reads the file as UTF-8
    writer.writerow([safe_cell(h) for h in header])
    yield flush()
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        yield flush()
