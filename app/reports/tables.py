"""The report's tables, built once from the metrics: the page renders them, the CSV writes them."""

from dataclasses import dataclass, field
from decimal import Decimal

from app.csv_files import csv_lines
from app.formatting import money
from app.reports.forecast import CUMULATIVE
from app.reports.service import forecast_category


@dataclass
class Table:
    key: str
    title: str
    headers: list
    rows: list = field(default_factory=list)  # lists of display values (str/int/float/None)
    chart: list = field(default_factory=list)  # (label, value, text) for the SVG bars
    # (row, column) -> the drill-down's question ({"metric", "part", "stage_id"?}): the page links that
    # cell to the deals behind it (reports.deals); the CSV writes the value only.
    links: dict = field(default_factory=dict)

    def link(self, column: int, metric: str, part: str, stage_id: int | None = None, **extra) -> None:
        """Link a cell of the last row added to the deals behind its number."""
        self.links[(len(self.rows) - 1, column)] = {"metric": metric, "part": part,
                                                    **({"stage_id": stage_id} if stage_id else {}), **extra}


@dataclass(frozen=True)
class Cell:
    """A figure as the page shows it (`text`, the exact figure in `exact` on hover) and as a spreadsheet
    reads it (`value`: a number, or None for no figure; `currency` names an amount's)."""

    text: str
    value: object = None
    exact: str = ""
    currency: str | None = None

    def __str__(self) -> str:
        return self.text


NONE = Cell("—")


def pct(value) -> Cell:
    """A rate: "91.7 %" on the page, 0.9167 in the CSV."""
    return NONE if value is None else Cell(f"{value * 100:.1f} %", round(float(value), 4))


def percent(value: int) -> Cell:
    """A stage's probability (a whole percent): "45 %" on the page, 0.45 in the CSV."""
    return Cell(f"{value} %", round(value / 100, 4))


def days(value) -> Cell:
    """Days as people say them ("3 d", "3.5 d"), the exact figure on hover and in the CSV."""
    if value is None:
        return NONE
    short = f"{value:.1f}".removesuffix(".0")
    return Cell(f"{short} d", round(float(value), 2), f"{value:.2f} days")


def minutes(value) -> Cell:
    return NONE if value is None else Cell(f"{value:.0f} min", round(float(value), 1), f"{value:.1f} minutes")


def amount(value, currency: str) -> Cell:
    """Money: "$50,500" on the page; 50500.00 with a currency column in the CSV."""
    if value is None:
        return NONE
    return Cell(money(value, currency), Decimal(value).quantize(Decimal("0.01")), currency=currency)


def deals(n: int, kind: str) -> str:
    return f"{n} {kind} deal{'' if n == 1 else 's'}"


def build_tables(numbers: dict, stages: dict, people: dict, currency: str = "USD", owner_filtered: bool = False) -> dict:
    """Return the report's tables by key, named for people (stage names, owner names).

    `people`: {email: (name, user id)}. `owner_filtered`: the numbers are one chosen owner's (time in stage too).
    """
    tables = {}
    conversion = Table("conversion", "Stage conversion",
                       ["Stage", "Entered", "Advanced", "Conversion"])
    for row in numbers["stage_conversion"]:
        name = stages[row["stage_id"]].name
        conversion.rows.append([name, row["entered"], row["advanced"], pct(row["rate"])])
        conversion.link(1, "stage_conversion", "entered", row["stage_id"])
        conversion.link(2, "stage_conversion", "advanced", row["stage_id"])
        conversion.chart.append((name, row["entered"], f"{row['advanced']} of {row['entered']}",
                                 row["advanced"]))
    tables["conversion"] = conversion

    time_in_stage = Table("time_in_stage", "Time in stage (completed stays, days)",
                          ["Stage", "Median", "Mean", "Stays", "75th percentile", "Maximum days set"])
    for row in numbers["time_in_stage"]:
        stage = stages[row["stage_id"]]
        time_in_stage.rows.append([stage.name, days(row["median_days"]), days(row["mean_days"]), row["n"],
                                   days(row["p75_days"]), stage.max_days])
        if numbers["scope"] == "all" or owner_filtered:  # a rep's own view shows the team's: theirs are below
            time_in_stage.link(3, "time_in_stage", "stays", row["stage_id"])
        time_in_stage.chart.append((stage.name, row["median_days"] or 0, str(days(row["median_days"])),
                                    stage.max_days))
    tables["time_in_stage"] = time_in_stage

    team = {r["stage_id"]: r["median_days"] for r in numbers["time_in_stage"]}
    by_owner = Table("time_by_owner", "Time in stage by owner against the team median (days)",
                     ["Owner", "Stage", "Median", "Team median", "Stays"])
    for row in numbers["time_in_stage_by_owner"]:
        who, owner_id = people.get(row["owner_email"], (row["owner_email"] or "—", None))
        stage = stages[row["stage_id"]].name
        by_owner.rows.append([who, stage, days(row["median_days"]), days(team.get(row["stage_id"])), row["n"]])
        if owner_id:
            by_owner.link(4, "time_in_stage", "stays", row["stage_id"], owner=owner_id)
        by_owner.chart.append((f"{who} · {stage}", row["median_days"] or 0,
                               f"{days(row['median_days'])} / {days(team.get(row['stage_id']))}",
                               team.get(row["stage_id"])))
    tables["time_by_owner"] = by_owner

    forecast = Table("forecast", "Open pipeline and weighted forecast",
                     ["Stage", "Category", "Open deals", "Amount", "Probability", "Weighted"])
    for row in numbers["forecast"]["by_stage"]:
        name = stages[row["stage_id"]].name
        forecast.rows.append([name, row["category"].replace("_", " "), row["open_count"],
                              amount(row["amount"], currency), percent(row["probability"]),
                              amount(row["weighted"], currency)])
        forecast.link(2, "forecast", "open", row["stage_id"])
        forecast.chart.append((name, float(row["weighted"]), money(row["weighted"], currency, compact=True), None))
    tables["forecast"] = forecast

    calibration = Table("calibration", "Measured stage-to-win rate against the configured probability",
                        ["Stage", "Entered and since closed", "Won", "Measured win rate", "Probability set"])
    for row in numbers["stage_conversion"]:
        calibration.rows.append([stages[row["stage_id"]].name, row["closed"], row["won"], pct(row["win_rate"]),
                                 percent(row["probability"])])
    tables["calibration"] = calibration

    speed = numbers["speed_to_lead"]
    speed_table = Table("speed_to_lead", f"Speed to lead (first touch within {speed['window_minutes']} minutes)",
                        ["Owner", "Leads", "Touched", "Median time to first touch", "Within the window"])
    for row in speed["by_rep"]:
        speed_table.rows.append([people.get(row["owner_email"], (row["owner_email"] or "Unassigned",))[0], row["n"],
                                 row["touched"], minutes(row["median_minutes"]), pct(row["within_window_share"])])
    if speed["n"]:
        speed_table.rows.append(["Everyone", speed["n"], speed["touched"], minutes(speed["median_minutes"]),
                                 pct(speed["within_window_share"])])
    tables["speed_to_lead"] = speed_table

    outcomes = Table("outcomes", "Outcomes", ["Metric", "Value", "Based on", "Reference"])
    cycle = numbers["cycle_days"]
    outcomes.rows.append(["Win rate", pct(numbers["win_rate"]), f"{numbers['won'] + numbers['lost']} closed", ""])
    outcomes.link(2, "win_rate", "closed")
    outcomes.rows.append(["Meeting-to-close", pct(numbers["meeting_to_close"]),
                          f"{numbers['meeting_closed']} closed after a meeting", "20–30 %"])
    outcomes.link(2, "meeting_to_close", "closed")
    for label, value in (("median", cycle["median"]), ("mean", cycle["mean"])):
        outcomes.rows.append([f"Deal cycle ({label})", days(value), f"{cycle['n']} won", ""])
        outcomes.link(2, "cycle_days", "won")
    outcomes.rows += [
        ["Reply rate (all pipelines)", pct(numbers["reply_rate"]),
         "no data yet" if numbers["reply_rate"] is None else "", "5–6 %, 10 % top"],
        ["Visitor-to-customer (company-wide)", pct(numbers["visitor_to_customer"]),
         "no data yet" if numbers["visitor_to_customer"] is None else "", "2–5 % B2B"],
        ["Weighted forecast", amount(numbers["forecast"]["weighted"], currency),
         deals(numbers["forecast"]["open_count"], "open"), ""],
    ]
    outcomes.link(2, "forecast", "open")
    tables["outcomes"] = outcomes
    return tables


def csv_rows(table: Table) -> tuple[list, list]:
    """(headers, rows) for a spreadsheet: each figure a number (a rate as a fraction, an amount as a
    decimal, days as days) and, when the table holds money, its currency in a last column."""
    money_table = any(isinstance(c, Cell) and c.currency for r in table.rows for c in r)
    rows = []
    for row in table.rows:
        values = [cell.value if isinstance(cell, Cell) else cell for cell in row]
        if money_table:
            values.append(next((c.currency for c in row if isinstance(c, Cell) and c.currency), ""))
        rows.append(values)
    return table.headers + (["Currency"] if money_table else []), rows


def to_csv(table: Table) -> str:
    """Write a table as CSV (formula-safe text, a BOM for Excel), as the deal export does."""
    return "".join(csv_lines(*csv_rows(table)))


def _quarter(day) -> str:
    return f"Q{(day.month - 1) // 3 + 1} {day.year}"


def _window(row) -> str:
    """The days a row of the forecast by expected close covers, named as people say them."""
    start, before = row["from"], row["before"]
    if start is None:
        return f"before {_quarter(before)}" if before else "—"
    if before is None:
        return f"from {_quarter(start)}"
    return start.strftime("%B %Y") if row["key"].endswith("month") else _quarter(start)


def close_table(rows: list, currency: str = "USD") -> Table:
    """The weighted forecast of open deals by when they are expected to close, each window named."""
    table = Table("forecast_by_close", "Weighted forecast by expected close date",
                  ["Expected to close", "Period", "Weighted", "Open deals", "Amount"])
    for row in rows:  # the weighted amount first: on a phone it is the column in view
        table.rows.append([row["label"], _window(row), amount(row["weighted"], currency), row["open_count"],
                           amount(row["amount"], currency)])
        table.link(3, "forecast", "open", close=row["key"])
        if row["key"] != "all":
            table.chart.append((row["label"], float(row["weighted"]), money(row["weighted"], currency, compact=True),
                                None))
    return table


CATEGORY_NAMES = {"commit": "Commit", "best_case": "Best case (with commit)",
                  "pipeline": "Pipeline (every open deal: best case and commit included)"}


def category_table(rows: list, stages, currency: str = "USD") -> Table:
    """Forecast categories, each including the ones above it, for open deals expected to close this
    quarter and for every open deal; each row names the stages it counts."""
    by_key = {row["key"]: row for row in rows}
    quarter, every = by_key["this_quarter"], by_key["all"]
    table = Table("forecast_categories", "Forecast categories",
                  ["Category", "Stages", "Deals this quarter", "Weighted this quarter", "Amount this quarter",
                   "All open deals", "Weighted, all open", "Amount, all open"])
    for key, name in CATEGORY_NAMES.items():
        names = [s.name for s in stages
                 if s.kind == "open" and not s.archived and forecast_category(s) in CUMULATIVE[key]]
        q, a = quarter["categories"][key], every["categories"][key]
        table.rows.append([name, ", ".join(names) or "no stage", q[0], amount(q[2], currency),
                           amount(q[1], currency), a[0], amount(a[2], currency), amount(a[1], currency)])
        table.link(2, "forecast", "open", close="this_quarter", category=key)
        table.link(5, "forecast", "open", close="all", category=key)
    return table


def accuracy_table(rows: list, currency: str = "USD") -> Table:
    """Forecast accuracy per closed month and quarter, against the snapshot frozen at its start."""
    table = Table("accuracy", "Forecast accuracy", ["Period", "Forecast at start", "Won", "Accuracy", "Bias"])
    for row in rows:
        label = (row["from"].strftime("%B %Y") if row["kind"] == "month"
                 else f"Q{(row['from'].month - 1) // 3 + 1} {row['from'].year}")
        forecast = amount(row["forecast"], currency) if row["forecast"] is not None else Cell("no snapshot")
        if row.get("reconstructed") and row["forecast"] is not None:  # the CSV keeps the figure, a number
            forecast = Cell(f"{forecast.text} (rebuilt)", forecast.value, "rebuilt from the stage history",
                            currency)
        bias = NONE if row["bias"] is None else Cell(f"{row['bias'] * 100:+.1f} %", round(float(row["bias"]), 4))
        table.rows.append([label, forecast, amount(row["won"], currency), pct(row["accuracy"]), bias])
        if row["accuracy"] is not None:
            table.chart.append((label, max(row["accuracy"], 0), str(pct(row["accuracy"])), None))
    return table


def room_tables(figures: dict, currency: str = "USD") -> tuple[Table, Table]:
    """The deal room's two tables: how much of the open forecast rests on buyer-confirmed plans that are on
    time, and the win rate of deals closed in the period with a deal room and without one."""
    plans = Table("buyer_plans", "Open deals resting on a buyer-confirmed plan",
                  ["Open deals", "Deals", "Amount", "Weighted"])
    for key, label in (("on_time", "Buyer-confirmed plan, on time"), ("other", "Every other open deal")):
        row = figures["plans"][key]
        plans.rows.append([label, row["count"], amount(row["amount"], currency), amount(row["weighted"], currency)])
        plans.link(1, "buyer_plans", key)
    closed = Table("room_win_rate", "Win rate with and without a deal room", ["Closed in the period", "Closed",
                                                                             "Won", "Win rate"])
    for key, label in (("with_room", "With a deal room"), ("without_room", "Without one")):
        row = figures["closed"][key]
        closed.rows.append([label, row["closed"], row["won"], pct(row["win_rate"])])
        closed.link(1, "room_win_rate", key)
        closed.link(2, "room_win_rate", f"{key}_won")
    return plans, closed
