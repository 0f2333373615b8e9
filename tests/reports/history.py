"""Stage histories for the report tests, made through the real gate with back-dated `at` times,
and an independent plain-Python computation of METRICS.md to check the SQL against."""

import random
import statistics
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from app.deals.service import create_deal, move_deal, plan_move
from app.extensions import db
from app.models import Deal, StageTransition, User, utcnow
from tests import factories
from tests.values import sample_value


def _needed(deal, target):
    return {r.field.key: sample_value(r.field) for r in plan_move(deal, target).requirements}


def make_history(org, owner, path, amount="1000", title="Deal", contact=None):
    """Create a deal at path[0] = (stage_name, at) and move it through each later (stage_name, at)."""
    pipeline = factories.pipeline(org)
    admin = factories.user(org, "admin")
    first_name, created = path[0]
    first = factories.stage(pipeline, first_name)
    deal = create_deal(pipeline, admin, title=title, owner=owner, amount=amount,
                       facts={f.key: sample_value(f) for f in pipeline.fields}, stage=first, created_at=created,
                       contact=contact)
    for stage_name, at in path[1:]:
        target = factories.stage(pipeline, stage_name)
        reason = "Price" if target.kind == "lost" else ""
        move_deal(deal, target, admin, facts=_needed(deal, target), at=at, reason=reason)
    return deal


def random_histories(org, owners, base: datetime, count: int, seed: int = 11):
    """Random walks through the article pipeline: forward, back, won from Negotiation, lost."""
    rng = random.Random(seed)
    pipeline = factories.pipeline(org)
    opens = [s.name for s in pipeline.open_stages]
    latest = utcnow() - timedelta(hours=1)
    deals = []
    for i in range(count):
        at = base + timedelta(days=rng.randint(-15, 25), hours=rng.randint(0, 23))
        index = rng.randint(0, 1)  # created in Qualified or (a skip from the start) Discovery
        path = [(opens[index], at)]
        for _ in range(rng.randint(0, 6)):
            at = at + timedelta(hours=rng.choice([3, 5, 24, 30, 72, 100, 200]))
            if at >= latest:
                break
            roll = rng.random()
            if roll < 0.12:
                path.append(("Closed Lost", at))
                break
            if index == len(opens) - 1 and roll < 0.6:
                path.append(("Closed Won", at))
                break
            if roll < 0.25 and index > 0:
                index -= 1
            elif index < len(opens) - 1:
                index += 1
            else:
                continue
            path.append((opens[index], at))
        amount = str(rng.choice([500, 1250, 4800.5, 12000, 33333.33]))
        deals.append(make_history(org, owners[i % len(owners)], path, amount=amount, title=f"Deal {i}"))
    return deals


def _r(value, places):
    if value is None:
        return None
    return float(Decimal(str(value)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


def expected_metrics(org, pipeline, start_day, end_day, zone_name, owner_id=None):
    """METRICS.md computed in plain Python from every row, independently of app/reports."""
    zone = ZoneInfo(zone_name)

    def utc(day):
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC).replace(tzinfo=None)

    start, end = utc(start_day), utc(end_day)
    stages = {s.id: s for s in pipeline.stages}
    deals = {d.id: d for d in Deal.query.filter_by(org_id=org.id, pipeline_id=pipeline.id)}
    history = {}
    for t in StageTransition.query.filter(StageTransition.deal_id.in_(deals)).all():
        history.setdefault(t.deal_id, []).append(t)
    for rows in history.values():
        rows.sort(key=lambda t: (t.at, t.id))
    mine = {i for i, d in deals.items() if owner_id is None or d.owner_id == owner_id}

    def inside(at):
        return start <= at < end

    conversion = {}
    for s in (s for s in pipeline.stages if s.kind == "open" and not s.archived):
        entered = advanced = 0
        for deal_id in mine:
            rows = history.get(deal_id, [])
            firsts = [k for k, t in enumerate(rows) if t.to_stage_id == s.id and inside(t.at)]
            if not firsts:
                continue
            entered += 1
            later = rows[firsts[0] + 1:]
            if any(stages[t.to_stage_id].kind == "won" or
                   (stages[t.to_stage_id].kind == "open" and stages[t.to_stage_id].position > s.position)
                   for t in later):
                advanced += 1
        conversion[s.id] = (entered, advanced, _r(advanced / entered, 4) if entered else None)

    stays, by_owner = {}, {}
    for deal_id, rows in history.items():
        for here, after in zip(rows, rows[1:], strict=False):
            if inside(after.at) and stages[here.to_stage_id].kind == "open":
                days = (after.at - here.at).total_seconds() / 86400
                stays.setdefault(here.to_stage_id, []).append(days)
                by_owner.setdefault((here.to_stage_id, deals[deal_id].owner_id), []).append(days)

    def summary(values):
        return (_r(statistics.median(values), 2), _r(statistics.mean(values), 2), len(values))

    closed = [d for i, d in deals.items() if i in mine and d.status != "open" and inside(d.closed_at)]
    won = [d for d in closed if d.status == "won"]
    meeting = {s.id for s in pipeline.stages if s.is_meeting}
    met = [d for d in closed if any(t.to_stage_id in meeting for t in history.get(d.id, []))]
    cycles = [(d.closed_at - d.created_at).total_seconds() / 86400 for d in won]
    open_deals = [d for i, d in deals.items() if i in mine and d.status == "open"]
    weighted = sum((d.amount or 0) * stages[d.stage_id].probability for d in open_deals) / 100
    users = {u.id: u.email for u in User.query.filter_by(org_id=org.id)}
    return {
        "conversion": conversion,
        "stays": {k: summary(v) for k, v in stays.items()},
        "by_owner": {(k[0], users[k[1]]): summary(v) for k, v in by_owner.items()
                     if owner_id is None or k[1] == owner_id},
        "win_rate": _r(len(won) / len(closed), 4) if closed else None,
        "meeting_to_close": _r(len([d for d in met if d.status == "won"]) / len(met), 4) if met else None,
        "cycle": (summary(cycles) if cycles else (None, None, 0)),
        "weighted": f"{Decimal(weighted).quantize(Decimal('0.01'), ROUND_HALF_UP)}",
        "open_count": len(open_deals),
    }


def second_rep(org):
    user = User.query.filter_by(org_id=org.id, email=f"rep2-{org.id}@example.com").first()
    if user is None:
        from app.auth.service import create_user

        user = create_user(org, f"rep2-{org.id}@example.com", "Ana Second", "rep", factories.PASSWORD)
    db.session.commit()
    return user
