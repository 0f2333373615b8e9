"""The report's tables, built once from the metrics: the page renders them, the CSV writes them."""

from dataclasses import dataclass, field

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


def pct(value) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def days(value) -> str:
    return "—" if value is None else f"{value:.2f}"


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
        time_in_stage.chart.append((stage.name, row["median_days"] or 0, f"{days(row['median_days'])} d",
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
                              money(row["amount"], currency), f"{row['probability']} %",
                              money(row["weighted"], currency)])
        forecast.chart.append((name, float(row["weighted"]), money(row["weighted"], currency, compact=True), None))
    tables["forecast"] = forecast

    calibration = Table("calibration", "Measured stage-to-win rate against the configured probability",
                        ["Stage", "Entered and since closed", "Won", "Measured win rate", "Probability set"])
    for row in numbers["stage_conversion"]:
        calibration.rows.append([stages[row["stage_id"]].name, row["closed"], row["won"], pct(row["win_rate"]),
                                 f"{row['probability']} %"])
    tables["calibration"] = calibration

    speed = numbers["speed_to_lead"]
    speed_table = Table("speed_to_lead", f"Speed to lead (first touch within {speed['window_minutes']} minutes)",
                        ["Owner", "Leads", "Touched", "Median minutes", "Within the window"])
    for row in speed["by_rep"]:
        speed_table.rows.append([people.get(row["owner_email"], (row["owner_email"] or "Unassigned",))[0], row["n"],
                                 row["touched"], days(row["median_minutes"]), pct(row["within_window_share"])])
    if speed["n"]:
        speed_table.rows.append(["Everyone", speed["n"], speed["touched"], days(speed["median_minutes"]),
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
        outcomes.rows.append([f"Deal cycle ({label} days)", days(value), f"{cycle['n']} won", ""])
        outcomes.link(2, "cycle_days", "won")
    outcomes.rows += [
        ["Reply rate", pct(numbers["reply_rate"]), "no data yet" if numbers["reply_rate"] is None else "",
         "5–6 %, 10 % top"],
        ["Visitor-to-customer", pct(numbers["visitor_to_customer"]),
         "no data yet" if numbers["visitor_to_customer"] is None else "", "2–5 % B2B"],
        ["Weighted forecast", money(numbers["forecast"]["weighted"], currency), deals(numbers["forecast"]["open_count"], "open"), ""],
    ]
    outcomes.link(2, "forecast", "open")
    tables["outcomes"] = outcomes
    return tables


def to_csv(table: Table) -> str:
    """Write a table as CSV (formula-safe cells, a BOM for Excel), as the deal export does."""
    return "".join(csv_lines(table.headers, table.rows))


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
        table.rows.append([row["label"], _window(row), money(row["weighted"], currency), row["open_count"],
                           money(row["amount"], currency)])
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
                  ["Category", "Stages", "This quarter: weighted", "This quarter: amount", "All open: weighted",
                   "All open: amount"])
    for key, name in CATEGORY_NAMES.items():
        names = [s.name for s in stages
                 if s.kind == "open" and not s.archived and forecast_category(s) in CUMULATIVE[key]]
        q, a = quarter["categories"][key], every["categories"][key]
        table.rows.append([name, ", ".join(names) or "no stage", money(q[2], currency), money(q[1], currency),
                           money(a[2], currency), money(a[1], currency)])
    return table


def accuracy_table(rows: list, currency: str = "USD") -> Table:
    """Forecast accuracy per closed month and quarter, against the snapshot frozen at its start."""
    table = Table("accuracy", "Forecast accuracy", ["Period", "Forecast at start", "Won", "Accuracy", "Bias"])
    for row in rows:
        label = (row["from"].strftime("%B %Y") if row["kind"] == "month"
                 else f"Q{(row['from'].month - 1) // 3 + 1} {row['from'].year}")
        forecast = money(row["forecast"], currency) if row["forecast"] is not None else "no snapshot"
        if row.get("reconstructed") and row["forecast"] is not None:
            forecast += " (rebuilt)"
        bias = "—" if row["bias"] is None else f"{row['bias'] * 100:+.1f} %"
        table.rows.append([label, forecast, money(row["won"], currency), pct(row["accuracy"]), bias])
        if row["accuracy"] is not None:
            table.chart.append((label, max(row["accuracy"], 0), pct(row["accuracy"]), None))
    return table
