"""The metrics' SQL: aggregates in the database, portable between SQLite and PostgreSQL.

Every query is a fixed statement (the report page's statement count never grows with the
data). Medians and percentiles use ROW_NUMBER/COUNT windows because SQLite has no
percentile functions; durations are days as decimals. A transition's order within its deal
is (at, id): two moves in the same instant still have an order.
"""

from sqlalchemy import bindparam, text

from app.extensions import db

# The median of n sorted values: the average of rows (n+1)/2 and (n+2)/2 (integer division).
MEDIAN = "AVG(CASE WHEN {rn} IN (({n} + 1) / 2, ({n} + 2) / 2) THEN {value} END)"
# The 75th percentile by nearest rank: row ceil(3n/4) = (3n + 3) / 4 (integer division).
P75 = "MIN(CASE WHEN {rn} = (3 * {n} + 3) / 4 THEN {value} END)"


def days_between(start: str, end: str) -> str:
    """SQL for the days (decimal) from `start` to `end`, in this engine's dialect."""
    if db.engine.dialect.name == "postgresql":
        # date_part is double precision (EXTRACT is numeric since PostgreSQL 14): a float like
        # SQLite's julianday, and sorting tens of thousands of floats for a median is several
        # times faster than sorting numerics. The service rounds both engines' values alike.
        return f"(date_part('epoch', {end} - {start}) / 86400.0)"
    return f"(julianday({end}) - julianday({start}))"


def owner_filter(alias: str, owner_id) -> str:
    """The owner condition of a statement (" AND d.owner_id = :owner_id"), or none for the whole team."""
    return f" AND {alias}.owner_id = :owner_id" if owner_id is not None else ""


# The bench sets this to a list to collect each statement it then EXPLAINs; None in the app.
capture: list | None = None


def _run(sql: str, params: dict, expanding=(), prefix: str = "", binds=()):
    binds = [*binds, *(bindparam(name, expanding=True) for name in expanding)]
    binds += [bindparam(name, type_=db.DateTime) for name in ("start", "end") if f":{name}" in sql]
    used = {k: v for k, v in params.items() if f":{k}" in sql}
    if capture is not None and not prefix:
        capture.append((sql, params, expanding))  # (plain binds only: the bench explains these)
    return db.session.execute(text(prefix + sql).bindparams(*binds), used).all()


def explain(sql: str, params: dict, expanding=()) -> list[str]:
    """Return the engine's plan of a captured statement, one line a row (for the bench)."""
    prefix = "EXPLAIN ANALYZE " if db.engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    return [str(row[-1]) for row in _run(sql, params, expanding, prefix)]


_RANK = "CASE WHEN rs.kind = 'won' THEN 1000000 WHEN rs.kind = 'open' THEN rs.position ELSE -1 END"
# Each deal's first entry into each open stage in the period, and whether it advanced after it
# (conversion_rows counts these; the drill-down lists them).
CONVERSION_ENTRIES = f"""
    WITH hist AS (
      SELECT t.deal_id, t.to_stage_id AS stage_id, t.at,
             CASE WHEN rs.kind = 'open' THEN rs.position END AS open_rank,
             MAX({_RANK}) OVER (PARTITION BY t.deal_id ORDER BY t.at DESC, t.id DESC
                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach_after
      FROM stage_transition t JOIN stage rs ON rs.id = t.to_stage_id
      WHERE t.org_id = :org_id AND t.to_stage_id IN :stage_ids AND t.at >= :start
    ), entries AS (
      SELECT h.deal_id, h.stage_id, MAX(CASE WHEN h.reach_after > h.open_rank THEN 1 ELSE 0 END) AS advanced
      FROM hist h WHERE h.at < :end AND h.open_rank IS NOT NULL
      GROUP BY h.deal_id, h.stage_id
    )"""
# A closed deal `d` ever entered the pipeline's meeting stage (closed_row counts these; the drill-down lists them).
MET_MEETING_STAGE = """EXISTS (SELECT 1 FROM stage_transition m
                          WHERE m.deal_id = d.id AND m.to_stage_id IN :meeting_ids AND m.at <= d.closed_at)"""


def conversion_rows(org_id, stage_ids, start, end, owner_id=None):
    """Per open stage: deals entering it in the period, how many advanced, how many closed and won.

    `stage_ids` are all the pipeline's stages (won and lost too: reaching Won is advancing).
    Returns (stage_id, entered, advanced, closed, won) rows; `closed`/`won` count the entering
    deals that are closed now (the measured stage-to-win rate). One pass over the pipeline's
    transitions from the period's start on (ix_transition_org_to_at): a window gives each
    transition the furthest rank its deal reached after it (won above every open stage, lost
    below all), so "advanced" is a compare, not a subquery per entry. That furthest rank only
    shrinks along a history, so a deal's first entry into a stage in the period has the largest
    of its entries' values: a GROUP BY takes it (no second window to find the first entry).
    Every later transition of an entry is at or after it, so none before the period is needed.
    """
    sql = f"""{CONVERSION_ENTRIES}
    SELECT e.stage_id, COUNT(*) AS entered, SUM(e.advanced) AS advanced,
      SUM(CASE WHEN cd.status IN ('won', 'lost') THEN 1 ELSE 0 END) AS closed,
      SUM(CASE WHEN cd.status = 'won' THEN 1 ELSE 0 END) AS won
    FROM entries e JOIN deal cd ON cd.id = e.deal_id{owner_filter("cd", owner_id)}
    GROUP BY e.stage_id
    """
    params = {"org_id": org_id, "stage_ids": list(stage_ids), "start": start, "end": end, "owner_id": owner_id}
    return _run(sql, params, expanding=("stage_ids",))


def stay_rows(org_id, stage_ids, start, end):
    """Completed stays ending in the period, per stage (owner None) and per stage and current owner.

    Returns (stage_id, owner_id, n, mean_days, median_days, p75_days) rows; p75 only on the
    per-stage rows. The whole team's stays, always: a rep's view filters owners afterwards.
    A completed stay is one row, the transition that ended it: in from_stage from
    from_entered_at (written by the gate with the move) to `at`. So the stays ending in the
    period are the pipeline's transitions in the period, the same range on
    ix_transition_org_to_at as conversion reads, with no window over whole histories.
    """
    days = days_between("t.from_entered_at", "t.at")
    median = MEDIAN.format(rn="rn", n="cnt", value="days")
    owner_median = MEDIAN.format(rn="orn", n="ocnt", value="days")
    p75 = P75.format(rn="rn", n="cnt", value="days")
    sql = f"""
    WITH stays AS (
      SELECT t.from_stage_id AS stage_id, d.owner_id, {days} AS days
      FROM stage_transition t JOIN deal d ON d.id = t.deal_id JOIN stage s ON s.id = t.from_stage_id
      WHERE t.org_id = :org_id AND t.to_stage_id IN :stage_ids AND t.at >= :start AND t.at < :end
        AND s.kind = 'open'
    ), ranked AS (
      SELECT stage_id, owner_id, days,
             ROW_NUMBER() OVER (PARTITION BY stage_id ORDER BY days) AS rn,
             COUNT(*) OVER (PARTITION BY stage_id) AS cnt,
             ROW_NUMBER() OVER (PARTITION BY stage_id, owner_id ORDER BY days) AS orn,
             COUNT(*) OVER (PARTITION BY stage_id, owner_id) AS ocnt
      FROM stays
    )
    SELECT stage_id, NULL AS owner_id, COUNT(*) AS n, AVG(days) AS mean_days, {median} AS median_days,
           {p75} AS p75_days
    FROM ranked GROUP BY stage_id
    UNION ALL
    SELECT stage_id, owner_id, COUNT(*), AVG(days), {owner_median}, NULL
    FROM ranked GROUP BY stage_id, owner_id
    """
    params = {"org_id": org_id, "stage_ids": list(stage_ids), "start": start, "end": end}
    return _run(sql, params, expanding=("stage_ids",))


def closed_row(org_id, pipeline_id, meeting_stage_ids, start, end, owner_id=None):
    """Deals closed in the period: (won, lost, met_closed, met_won, cycle_n, cycle_mean, cycle_median).

    "Ever entered the meeting stage" is a probe per closed deal on ix_transition_deal_stage.
    A closed deal's transitions are all at or before its closed_at (closing is its latest
    move), so `m.at <= d.closed_at` changes no answer; being correlated on a range, it keeps
    PostgreSQL from hashing every meeting-stage transition of all time instead of probing.
    """
    days = days_between("d.created_at", "d.closed_at")
    median = MEDIAN.format(rn="rn", n="cnt", value="cycle")
    sql = f"""
    WITH closed AS (
      SELECT d.status, {days} AS cycle,
        CASE WHEN {MET_MEETING_STAGE} THEN 1 ELSE 0 END AS met
      FROM deal d
      WHERE d.org_id = :org_id AND d.pipeline_id = :pipeline_id AND d.status IN ('won', 'lost')
        AND d.closed_at >= :start AND d.closed_at < :end{owner_filter("d", owner_id)}
    ), outcome AS (
      SELECT COUNT(CASE WHEN status = 'won' THEN 1 END) AS won, COUNT(CASE WHEN status = 'lost' THEN 1 END) AS lost,
             COUNT(CASE WHEN met = 1 THEN 1 END) AS met_closed,
             COUNT(CASE WHEN met = 1 AND status = 'won' THEN 1 END) AS met_won
      FROM closed
    ), won AS (
      SELECT cycle, ROW_NUMBER() OVER (ORDER BY cycle) AS rn, COUNT(*) OVER () AS cnt
      FROM closed WHERE status = 'won'
    ), cycle AS (
      SELECT COUNT(*) AS n, AVG(cycle) AS mean, {median} AS median FROM won
    )
    SELECT o.won, o.lost, o.met_closed, o.met_won, c.n, c.mean, c.median FROM outcome o CROSS JOIN cycle c
    """
    params = {"org_id": org_id, "pipeline_id": pipeline_id, "meeting_ids": list(meeting_stage_ids) or [0],
              "start": start, "end": end, "owner_id": owner_id}
    return _run(sql, params, expanding=("meeting_ids",))[0]


def open_by_stage_rows(org_id, pipeline_id, owner_id=None):
    """Open deals now, per stage: (stage_id, count, amount_cents, weighted_cents_percent).

    Money is summed as whole cents (exact integers on both engines, no float drift).
    """
    cents = "CAST(ROUND(COALESCE(d.amount, 0) * 100) AS BIGINT)"
    sql = f"""
    SELECT d.stage_id, COUNT(*), SUM({cents}), SUM({cents} * s.probability)
    FROM deal d JOIN stage s ON s.id = d.stage_id
    WHERE d.org_id = :org_id AND d.pipeline_id = :pipeline_id AND d.status = 'open'{owner_filter("d", owner_id)}
    GROUP BY d.stage_id
    """
    params = {"org_id": org_id, "pipeline_id": pipeline_id, "owner_id": owner_id}
    return _run(sql, params)


def outreach_row(org_id, start, end, start_day, end_day, owner_id=None):
    """(enrollments first emailed in the period, of them replied, form contacts created in the period,
    of them with a won deal, lead-form views on the period's days) in one statement.

    Reply rate is scoped to a rep's own enrollments; visitor-to-customer is the organisation's
    (form views belong to no rep).
    """
    sql = f"""
    SELECT
      (SELECT COUNT(*) FROM enrollment e WHERE e.org_id = :org_id AND e.first_sent_at >= :start
         AND e.first_sent_at < :end{owner_filter("e", owner_id)}),
      (SELECT COUNT(*) FROM enrollment e WHERE e.org_id = :org_id AND e.first_sent_at >= :start
         AND e.first_sent_at < :end AND e.replied_at IS NOT NULL{owner_filter("e", owner_id)}),
      (SELECT COUNT(*) FROM contact c WHERE c.org_id = :org_id AND c.source_form_id IS NOT NULL
         AND c.created_at >= :start AND c.created_at < :end),
      (SELECT COUNT(*) FROM contact c WHERE c.org_id = :org_id AND c.source_form_id IS NOT NULL
         AND c.created_at >= :start AND c.created_at < :end
         AND (EXISTS (SELECT 1 FROM deal d WHERE d.contact_id = c.id AND d.status = 'won')
              OR EXISTS (SELECT 1 FROM deal_contact dc JOIN deal d ON d.id = dc.deal_id
                         WHERE dc.contact_id = c.id AND d.status = 'won'))),
      (SELECT COUNT(*) FROM lead_form_view v WHERE v.org_id = :org_id AND v.day >= :start_day AND v.day < :end_day)
    """
    binds = [bindparam("start_day", type_=db.Date), bindparam("end_day", type_=db.Date)]
    params = {"org_id": org_id, "start": start, "end": end, "start_day": start_day, "end_day": end_day,
              "owner_id": owner_id}
    return _run(sql, params, binds=binds)[0]
