"""The most frequent objections of a pipeline's deals in a period, and how the deals that met each closed.

An objection counts for a deal when a rep recorded it on the deal (the objection guide's picker) in the
period. For each objection: the deals that raised it, how many of them are closed, how many won, and
the win rate of the closed ones (won ÷ closed; no figure when none closed). One statement for every
figure; each figure carries its count of deals.
"""

from sqlalchemy import bindparam, text

from app.extensions import db
from app.reports import queries
from app.reports.service import Period, rate
from app.reports.tables import Table, pct


def objection_figures(pipeline, period: Period, owner_id=None) -> list:
    """[{"objection_id", "text", "deals", "closed", "won", "win_rate"}], most raised first."""
    owner = queries.owner_filter("d", owner_id)
    sql = f"""
    SELECT o.id, o.text, o.position, COUNT(*) AS deals,
           SUM(CASE WHEN d.status IN ('won', 'lost') THEN 1 ELSE 0 END) AS closed,
           SUM(CASE WHEN d.status = 'won' THEN 1 ELSE 0 END) AS won
    FROM deal_objection x
    JOIN objection o ON o.id = x.objection_id
    JOIN deal d ON d.id = x.deal_id
    WHERE x.org_id = :org_id AND o.pipeline_id = :pipeline_id AND d.pipeline_id = :pipeline_id
      AND x.at >= :start AND x.at < :end{owner}
    GROUP BY o.id, o.text, o.position
    ORDER BY COUNT(*) DESC, o.position, o.id"""
    params = {"org_id": pipeline.org_id, "pipeline_id": pipeline.id, "start": period.utc_start,
              "end": period.utc_end, **({"owner_id": owner_id} if owner_id else {})}
    statement = text(sql).bindparams(bindparam("start", type_=db.DateTime), bindparam("end", type_=db.DateTime))
    return [{"objection_id": oid, "text": words, "deals": int(n), "closed": int(closed or 0), "won": int(won or 0),
             "win_rate": rate(int(won or 0), int(closed or 0))}
            for oid, words, _, n, closed, won in db.session.execute(statement, params).all()]


def objection_table(figures: list) -> Table:
    """The report's table (and CSV) of the objections raised in the period."""
    table = Table("objections", "Most frequent objections, and the win rate of the deals after each",
                  ["Objection", "Deals that raised it", "Closed since", "Won", "Win rate (of closed)"])
    for row in figures:
        table.rows.append([row["text"], row["deals"], row["closed"], row["won"], pct(row["win_rate"])])
    return table
