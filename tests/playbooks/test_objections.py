"""The objection guide on a deal, beside the gate dialog, and in the reports."""

from markupsafe import escape

from app.deals.service import create_deal
from app.extensions import db
from app.models import Deal, DealObjection, LossReason, Objection
from app.playbooks.service import record_objections
from app.reports.objections import objection_figures
from app.reports.service import parse_period
from tests import factories
from tests.playbooks.helpers import fresh

B2B = "B2B sales"


def _guide(org):
    p = factories.pipeline(org, B2B)
    return p, Objection.query.filter_by(pipeline_id=p.id, archived=False).order_by(Objection.position).all()


def test_picking_objections_writes_the_answered_ones_as_the_objections_fact(client, login_as):
    org = factories.make_org(templates=["b2b"])
    rep = login_as(who=factories.user(org, "rep"))
    deal = factories.make_deal(org, "Objection handling", owner=rep, pipeline_name=B2B)
    _, guide = _guide(org)
    page = client.get(f"/playbooks/deals/{deal.id}/objections").get_data(as_text=True)
    assert guide[0].text.replace("'", "&#39;") in page and guide[0].responses[2].replace("'", "&#39;") in page
    response = client.post(f"/playbooks/deals/{deal.id}/objections", data={
        "version": deal.version, "objection": [guide[0].id, guide[3].id], f"response-{guide[0].id}": "1"})
    assert response.status_code == 200
    assert "2 objections recorded. Saved as the fact Objections raised and answered." in response.get_data(as_text=True)
    deal = fresh(Deal, deal.id)
    assert deal.facts["objections"] == f"{guide[0].text}: answered with “{guide[0].responses[1]}”"
    assert deal.facts_meta["objections"]["source"] == "rep" and deal.facts_meta["objections"]["by"] == rep.email
    rows = {r.objection_id: r.response for r in DealObjection.query.filter_by(deal_id=deal.id)}
    assert rows == {guide[0].id: 1, guide[3].id: None}
    # Unticking one takes it off the deal; a response out of range is refused and changes nothing.
    bad = client.post(f"/playbooks/deals/{deal.id}/objections", data={
        "version": deal.version, "objection": [guide[0].id], f"response-{guide[0].id}": "7"})
    assert bad.status_code == 422
    assert DealObjection.query.filter_by(deal_id=deal.id).count() == 2
    foreign = factories.make_org(templates=["b2b"])
    _, theirs = _guide(foreign)
    assert client.post(f"/playbooks/deals/{deal.id}/objections", data={
        "version": deal.version, "objection": [theirs[0].id]}).status_code == 422
    other = factories.create_user(org, "second.rep@example.com", "Second Rep", "rep", factories.PASSWORD)
    login_as(who=other)
    assert client.post(f"/playbooks/deals/{deal.id}/objections", data={
        "version": deal.version, "objection": [guide[1].id]}).status_code == 403
    assert DealObjection.query.filter_by(deal_id=deal.id).count() == 2


def test_the_guide_opens_beside_the_gate_dialog_when_a_move_asks_for_objections(client, login_as):
    org = factories.make_org(templates=["b2b"])
    rep = login_as(who=factories.user(org, "rep"))
    deal = factories.make_deal(org, "Objection handling", owner=rep, pipeline_name=B2B)
    _, guide = _guide(org)
    closing = factories.stage(deal.pipeline, "Closing")
    response = client.post(f"/deals/{deal.id}/move", data={"stage_id": closing.id, "version": deal.version,
                                                           "source": "page"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Objection guide" in body and str(escape(guide[1].text)) in body
    assert f"/playbooks/deals/{deal.id}/objections" in body
    # A move that does not ask for objections shows no guide.
    back = factories.stage(deal.pipeline, "Qualification")
    deal2 = factories.make_deal(org, "Qualification", owner=rep, pipeline_name=B2B, title="Other")
    body = client.post(f"/deals/{deal2.id}/move", data={"stage_id": factories.stage(deal.pipeline, "Discovery").id,
                                                        "version": deal2.version, "source": "page"}).get_data(as_text=True)
    assert back and "Objection guide" not in body


def _closed(org, pipeline, stage_name, title, actor):
    stage = factories.stage(pipeline, stage_name)
    extra = {}
    if stage.kind == "lost":
        extra["loss_reason_id"] = LossReason.query.filter_by(org_id=org.id).first().id
    return create_deal(pipeline, actor, title=title, stage=stage, facts=factories.facts_from_start(pipeline, stage),
                       **extra)


def test_the_report_counts_the_most_frequent_objections_and_the_win_rate_after_each(client, login_as):
    org = factories.make_org(templates=["b2b"])
    admin = factories.user(org, "admin")
    pipeline, guide = _guide(org)
    won = _closed(org, pipeline, "Won", "Won deal", admin)
    lost = _closed(org, pipeline, "Lost", "Lost deal", admin)
    still_open = factories.make_deal(org, owner=admin, pipeline_name=B2B, title="Open deal")
    price, timing = guide[0], guide[1]
    for deal in (won, lost, still_open):
        record_objections(deal, admin, {price.id: 0}, deal.version)
    record_objections(fresh(Deal, won.id), admin, {price.id: 0, timing.id: 2}, fresh(Deal, won.id).version)
    figures = objection_figures(pipeline, parse_period({}, org))
    assert figures[0] == {"objection_id": price.id, "text": price.text, "deals": 3, "closed": 2, "won": 1,
                          "win_rate": 0.5}
    assert figures[1] == {"objection_id": timing.id, "text": timing.text, "deals": 1, "closed": 1, "won": 1,
                          "win_rate": 1.0}
    assert len(figures) == 2
    # An objection taken off the guide stays on the deals that met it, and in the report.
    timing.archived = True
    db.session.commit()
    record_objections(fresh(Deal, won.id), admin, {price.id: 1}, fresh(Deal, won.id).version)
    assert [f["deals"] for f in objection_figures(pipeline, parse_period({}, org))] == [3, 1]
    login_as(who=factories.user(org, "manager"))
    page = client.get(f"/reports/{pipeline.id}").get_data(as_text=True)
    assert "Most frequent objections" in page and price.text.replace("'", "&#39;") in page
    assert "50.0 %" in page
    csv = client.get(f"/reports/{pipeline.id}/export?table=objections").get_data(as_text=True)
    assert "Deals that raised it" in csv and ",3,2,1,0.5" in csv
    # Another pipeline's report, and another period, count none of them.
    other = factories.make_org(templates=["b2b"])
    assert objection_figures(factories.pipeline(other, B2B), parse_period({}, other)) == []
    assert objection_figures(pipeline, parse_period({"from": "2020-01-01", "to": "2020-01-31"}, org)) == []
