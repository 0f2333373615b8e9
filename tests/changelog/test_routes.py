"""The criteria editor: the next-step setting, the change log page with its figures, the quarterly review."""

from datetime import date, timedelta

from app.extensions import db
from app.models import CriteriaChange, Deal, Pipeline, Task, utcnow
from app.pipelines.service import save_requirements
from tests import factories


def _ids(pipeline, *keys):
    by_key = {f.key: f.id for f in pipeline.fields}
    return [str(by_key[k]) for k in keys]


def test_saving_the_card_logs_the_change_with_its_author_and_the_next_step_box(client, org, login_as):
    admin = login_as("admin")
    pipeline = factories.pipeline(org)
    proposal = factories.stage(pipeline, "Proposal")
    response = client.post(f"/admin/stages/{proposal.id}/criteria", headers={"HX-Request": "true"}, data={
        "exit": _ids(pipeline, "proposal_acknowledged"), "next_step_mark": "1", "next_step": "1"})
    assert response.status_code == 200 and "✓ Saved" in response.get_data(as_text=True)
    change = CriteriaChange.query.filter_by(stage_id=proposal.id).one()
    assert change.user_id == admin.id and change.after["next_step"] is True
    assert db.session.get(Pipeline, pipeline.id) and factories.stage(pipeline, "Proposal").needs_next_step
    page = client.get(f"/admin/pipelines/{pipeline.id}/criteria").get_data(as_text=True)
    assert f"/admin/stages/{proposal.id}/criteria/changes" in page
    assert 'name="next_step" value="1" checked' in page


def test_the_change_log_shows_before_and_after_figures_with_their_counts(client, seeded, login_as):
    admin = login_as("admin")
    stage = seeded["stage"]
    save_requirements(stage, [], [], actor=admin, at=seeded["at"])
    page = client.get(f"/admin/stages/{stage.id}/criteria/changes").get_data(as_text=True)
    assert "33.3 %" in page and "1 of 3 deals advanced" in page
    assert "3.0 days median" in page and "2 stays" in page
    assert "100.0 %" in page and "1 of 1 deal advanced" in page and "1 stay;" in page
    assert "To leave: removed" in page and admin.email in page


def test_a_change_with_no_deals_after_it_says_so(client, org, login_as):
    admin = login_as("admin")
    stage = factories.stage(factories.pipeline(org), "Negotiation")
    save_requirements(stage, [], [], actor=admin, at=utcnow() - timedelta(days=3))
    page = client.get(f"/admin/stages/{stage.id}/criteria/changes").get_data(as_text=True)
    assert "No deals entered Negotiation in the 30 days after this change" in page
    assert "0.0 %" not in page and "0 %" not in page


def test_a_change_younger_than_a_day_says_it_is_too_recent(client, org, login_as):
    admin = login_as("admin")
    stage = factories.stage(factories.pipeline(org), "Negotiation")
    save_requirements(stage, [], [], actor=admin)
    page = client.get(f"/admin/stages/{stage.id}/criteria/changes").get_data(as_text=True)
    assert "Too recent" in page


def test_the_change_log_is_admins_only_and_tenant_scoped(client, org, login_as):
    stage = factories.stage(factories.pipeline(org), "Negotiation")
    theirs = factories.stage(factories.pipeline(factories.make_org()), "Negotiation")
    login_as("manager")
    assert client.get(f"/admin/stages/{stage.id}/criteria/changes").status_code == 403
    login_as("admin")
    assert client.get(f"/admin/stages/{theirs.id}/criteria/changes").status_code == 404


def test_board_flags_deals_in_a_next_step_stage_whose_date_has_passed(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    late = factories.make_deal(org, "Discovery", title="Late one")
    fine = factories.make_deal(org, "Discovery", title="Fine one")
    none = factories.make_deal(org, "Discovery", title="No date one")
    elsewhere = factories.make_deal(org, "Qualified", title="Elsewhere")
    today = date.today()
    for deal, due in ((late, today - timedelta(days=2)), (fine, today + timedelta(days=3)),
                      (elsewhere, today - timedelta(days=5))):
        db.session.get(Deal, deal.id).next_step, db.session.get(Deal, deal.id).next_step_due = "Call", due
    db.session.commit()
    board = client.get(f"/deals/board/{pipeline.id}").get_data(as_text=True)
    assert "Next step overdue" not in board  # no stage asks for it yet
    discovery = factories.stage(pipeline, "Discovery")
    save_requirements(discovery, [str(f.id) for f in discovery.required_fields("entry")],
                      [str(f.id) for f in discovery.required_fields("exit")], next_step=True)
    board = client.get(f"/deals/board/{pipeline.id}").get_data(as_text=True)

    def card(deal):
        return board[board.index(f'id="card-{deal.id}"'):].split("</article>")[0]

    assert "Next step overdue" in card(late)
    assert "Next step overdue" not in card(fine) and "No dated next step" not in card(fine)
    assert "No dated next step" in card(none)
    assert "Next step" not in card(elsewhere).replace("Next: ", "")


def test_the_quarterly_review_task_is_made_once_per_quarter_and_names_the_stages_that_moved(client, org, login_as):
    from app.reports.criteria import review_key, sweep_criteria_review
    from app.reports.service import add_months, quarter_start
    from app.sweeps import SWEEPS, run_all
    from tests.reports.history import make_history

    rep = factories.user(org, "rep")
    this_quarter = quarter_start(utcnow().date())
    last = add_months(this_quarter, -3)
    earlier = add_months(this_quarter, -6)
    from datetime import datetime

    def at(day, hours=12):
        return datetime(day.year, day.month, day.day) + timedelta(hours=hours)

    # Discovery: both deals advanced the quarter before last, neither last quarter.
    for i in range(2):
        make_history(org, rep, [("Discovery", at(earlier + timedelta(days=10 + i))),
                                ("Proposal", at(earlier + timedelta(days=12 + i)))], title=f"E{i}")
        make_history(org, rep, [("Discovery", at(last + timedelta(days=10 + i))),
                                ("Closed Lost", at(last + timedelta(days=12 + i)))], title=f"L{i}")
    assert "criteria_review" in dict(SWEEPS)
    sweep_criteria_review()
    assert Task.query.filter_by(org_id=org.id, kind="criteria_review").count() == 0  # created this quarter
    org.created_at = datetime(earlier.year, earlier.month, earlier.day)
    db.session.commit()
    assert sweep_criteria_review()["created"] >= 1
    run_all()
    tasks = Task.query.filter_by(org_id=org.id, kind="criteria_review").all()
    assert len(tasks) == 1
    task = tasks[0]
    assert task.unique_key == review_key(org.id, this_quarter)
    assert task.owner_id == factories.user(org, "admin").id
    assert "Discovery" in task.notes and "100 % → 0 %" in task.notes and "(2 → 2 deals)" in task.notes
    login_as("admin")
    tasks_page = client.get("/tasks/").get_data(as_text=True)
    assert "The stages that moved most" in tasks_page
    review = client.get(task.unique_key.rsplit(":", 1)[-1].join(["/admin/criteria-review?quarter=", ""]))
    text = review.get_data(as_text=True)
    assert review.status_code == 200 and "Discovery" in text
    discovery = factories.stage(factories.pipeline(org), "Discovery")
    assert f"/admin/stages/{discovery.id}/criteria/changes" in text
    # The next quarter gets its own task.
    next_quarter = datetime(add_months(this_quarter, 3).year, add_months(this_quarter, 3).month, 2)
    sweep_criteria_review(now=next_quarter)
    sweep_criteria_review(now=next_quarter)
    assert Task.query.filter_by(org_id=org.id, kind="criteria_review").count() == 2


def test_the_deal_page_says_its_stage_asks_for_a_dated_next_step_and_the_stage_page_links_the_log(client, org,
                                                                                                  login_as):
    login_as("admin")
    deal = factories.make_deal(org, "Discovery")
    page = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert "keeps a deal only with a next step dated today or later" not in page
    discovery = factories.stage(factories.pipeline(org), "Discovery")
    save_requirements(discovery, [str(f.id) for f in discovery.required_fields("entry")],
                      [str(f.id) for f in discovery.required_fields("exit")], next_step=True)
    page = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert "Discovery keeps a deal only with a next step dated today or later" in page
    stage_page = client.get(f"/admin/stages/{discovery.id}").get_data(as_text=True)
    assert f"/admin/stages/{discovery.id}/criteria/changes" in stage_page
