"""The before/after windows of a criteria change: dates in the organisation's zone, figures from the
reports' metrics service with the deals behind them."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.extensions import db
from app.models import CriteriaChange, utcnow
from app.pipelines.service import save_requirements
from app.reports.criteria import change_json, change_log, change_periods
from app.reports.service import Period, metrics
from tests import factories


def test_auckland_windows_start_on_the_local_date_not_the_utc_one():
    zone = ZoneInfo("Pacific/Auckland")
    at = datetime(2026, 3, 10, 13, 0)  # 02:00 on 11 March in Auckland (UTC+13)
    before, after = change_periods(at, zone, now=datetime(2026, 6, 1))
    assert (before.start, before.end) == (date(2026, 2, 9), date(2026, 3, 11))
    assert (after.start, after.end) == (date(2026, 3, 11), date(2026, 4, 10))


def test_los_angeles_windows_start_on_the_day_before_the_utc_date():
    zone = ZoneInfo("America/Los_Angeles")
    at = datetime(2026, 3, 10, 5, 0)  # 22:00 on 9 March in Los Angeles (PDT since 8 March)
    before, after = change_periods(at, zone, now=datetime(2026, 6, 1))
    assert (before.start, before.end) == (date(2026, 2, 7), date(2026, 3, 9))
    assert (after.start, after.end) == (date(2026, 3, 9), date(2026, 4, 8))
    assert after.utc_start == datetime(2026, 3, 9, 7, 0)  # midnight in LA (PDT, UTC-7)


def test_a_change_younger_than_a_day_has_no_after_window_and_a_younger_month_ends_tomorrow():
    zone = ZoneInfo("UTC")
    now = datetime(2026, 6, 10, 12, 0)
    assert change_periods(now - timedelta(hours=23), zone, now)[1] is None
    after = change_periods(now - timedelta(days=5), zone, now)[1]
    assert (after.start, after.end) == (date(2026, 6, 5), date(2026, 6, 11))  # to = today + 1


def test_counts_match_the_deals_seeded_and_the_reports_numbers(seeded):
    stage, pipeline, at = seeded["stage"], seeded["pipeline"], seeded["at"]
    admin = factories.user(seeded["org"], "admin")
    save_requirements(stage, [], [str(f.id) for f in stage.required_fields("exit")][:1], actor=admin, at=at)
    [item] = change_log(pipeline, stage.id)
    before, after = item["windows"]["before"], item["windows"]["after"]
    assert (before["entered"], before["advanced"], before["rate"]) == (3, 1, 0.3333)
    assert (before["n"], before["median_days"]) == (2, 3.0)
    assert (after["entered"], after["advanced"], after["rate"], after["n"], after["median_days"]) == (1, 1, 1.0, 1, 2.0)
    # The same figures as the reports page's for the same period: one implementation.
    zone = ZoneInfo("America/Los_Angeles")
    period = Period(date.fromisoformat(before["from"]), date.fromisoformat(before["to"]), zone)
    numbers = metrics(pipeline, period, admin)
    conv = next(r for r in numbers["stage_conversion"] if r["stage_id"] == stage.id)
    stay = next(r for r in numbers["time_in_stage"] if r["stage_id"] == stage.id)
    assert (conv["entered"], conv["advanced"], conv["rate"]) == (before["entered"], before["advanced"], before["rate"])
    assert (stay["n"], stay["median_days"]) == (before["n"], before["median_days"])
    assert item["by"] == admin.email


def test_a_change_with_no_deals_after_it_has_none_not_zero_percent(seeded):
    stage, pipeline = seeded["stage"], seeded["pipeline"]
    change = CriteriaChange(org_id=stage.org_id, pipeline_id=pipeline.id, stage_id=stage.id,
                            at=utcnow() - timedelta(days=3), before={}, after={})
    db.session.add(change)
    db.session.commit()
    after = change_json(change, pipeline, ZoneInfo("America/Los_Angeles"))["windows"]["after"]
    assert after["entered"] == 0 and after["rate"] is None and after["n"] == 0


def test_every_criteria_edit_writes_one_change_and_a_save_that_changes_nothing_writes_none(org):
    from app.pipelines.service import apply_requirement_set, save_stage

    admin = factories.user(org, "admin")
    pipeline = factories.pipeline(org)
    stage = factories.stage(pipeline, "Proposal")
    ids = lambda when: [str(f.id) for f in stage.required_fields(when)]  # noqa: E731
    save_requirements(stage, ids("entry"), ids("exit"), actor=admin)
    assert CriteriaChange.query.filter_by(stage_id=stage.id).count() == 0
    save_requirements(stage, ids("entry"), [], actor=admin)
    apply_requirement_set(stage, "bant", "exit", actor=admin)
    save_stage(pipeline, {"name": "Proposal", "kind": "open", "probability": "50", "max_days": "7",
                          "guidance": "Send it within two days."}, stage, actor=admin)
    save_requirements(stage, ids("entry"), ids("exit"), actor=admin, next_step=True)
    changes = CriteriaChange.query.filter_by(stage_id=stage.id).order_by(CriteriaChange.id).all()
    assert [c.source for c in changes] == ["editor", "set", "stage", "editor"]
    assert changes[0].after["exit"] == [] and changes[0].before["exit"]
    assert "budget" in changes[1].after["exit"] and changes[2].after["guidance"] == "Send it within two days."
    assert changes[3].after["next_step"] is True and changes[3].before["next_step"] is False
    assert all(c.user_id == admin.id for c in changes)


def test_archiving_a_required_field_logs_a_change_on_each_stage_that_required_it(org):
    from app.models import FieldDef
    from app.pipelines.service import set_field_archived

    admin = factories.user(org, "admin")
    pipeline = factories.pipeline(org)
    field = FieldDef.query.filter_by(pipeline_id=pipeline.id, key="pain").one()
    requiring = {s.id for s in pipeline.stages if any(r.field_id == field.id for r in s.requirements)}
    assert requiring
    set_field_archived(field, True, admin)
    changes = CriteriaChange.query.filter_by(pipeline_id=pipeline.id, source="field").all()
    assert {c.stage_id for c in changes} == requiring
    assert all("pain" not in c.after["entry"] + c.after["exit"] for c in changes)
    assert all("pain" in c.before["entry"] + c.before["exit"] for c in changes)
    set_field_archived(field, False, admin)
    assert CriteriaChange.query.filter_by(pipeline_id=pipeline.id, source="field").count() == 2 * len(requiring)
