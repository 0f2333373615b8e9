"""The gate: what each kind of stage move needs, what it records, and that a refusal writes nothing."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func

from app.deals.service import (
    can_edit,
    create_deal,
    exit_missing,
    move_deal,
    plan_move,
    update_deal,
)
from app.errors import Conflict, Forbidden, GateRefused, Invalid
from app.extensions import db
from app.models import (
    Contact,
    Deal,
    DealContact,
    LossReason,
    Notification,
    StageRequirement,
    StageTransition,
    Task,
    utcnow,
)
from app.pipelines.service import create_from_template
from tests import factories
from tests.factories import facts_from_start
from tests.values import sample_value

B2B = "B2B sales"


@pytest.fixture
def org(app):
    return factories.make_org(templates=["article", "b2b"])


@pytest.fixture
def article(org):
    return factories.pipeline(org)


@pytest.fixture
def b2b(org):
    return factories.pipeline(org, B2B)


def people(org):
    return factories.user(org, "admin"), factories.user(org, "manager"), factories.user(org, "rep")


def stage(pipeline, name):
    return factories.stage(pipeline, name)


def needs(deal, target):
    """Valid values for every requirement the move to `target` checks."""
    return {r.field.key: sample_value(r.field) for r in plan_move(deal, target).requirements}


def rows():
    return {m.__name__: db.session.query(func.count(m.id)).scalar()
            for m in (Deal, StageTransition, Task, Notification, Contact, DealContact)}


def state(deal_id):
    db.session.expire_all()
    deal = db.session.get(Deal, deal_id)
    return (deal.stage_id, deal.version, dict(deal.facts), deal.status, deal.loss_reason_id)


class Unchanged:
    """Assert that the block leaves the deal and every gate-written table as they were."""

    def __init__(self, deal):
        self.deal_id = deal.id

    def __enter__(self):
        self.before = (state(self.deal_id), rows())
        return self

    def __exit__(self, *exc):
        assert (state(self.deal_id), rows()) == self.before
        return False


def transitions(deal):
    return StageTransition.query.filter_by(deal_id=deal.id).order_by(StageTransition.id).all()


def missing_keys(info):
    return {(m["field"], m["when"]) for m in info.value.as_api()["missing"]}


# --- forward, skip, backward -------------------------------------------------------------

def test_forward_move_needs_exit_facts_of_current_and_entry_facts_of_target(org, article):
    admin, _, _ = people(org)
    deal = factories.make_deal(org)
    with Unchanged(deal), pytest.raises(GateRefused) as info:
        move_deal(deal, stage(article, "Discovery"), admin)
    assert missing_keys(info) == {("budget_range", "exit"), ("decision_maker", "exit"),
                                  ("dm_meeting_date", "entry")}
    assert "Budget range captured (Qualified exit)" in info.value.message

    t = move_deal(deal, stage(article, "Discovery"), admin, facts=needs(deal, stage(article, "Discovery")))
    assert t.kind == "forward" and not t.override
    assert deal.stage.name == "Discovery" and deal.version == 2
    assert {c["field"] for c in t.criteria} == {"budget_range", "decision_maker", "dm_meeting_date"}
    assert all(c["met"] for c in t.criteria)


def test_move_saves_the_sent_facts_in_the_same_step(org, article):
    admin, _, _ = people(org)
    deal = factories.make_deal(org)
    facts = {**needs(deal, stage(article, "Discovery")), "next_steps": "Call Tuesday"}
    t = move_deal(deal, stage(article, "Discovery"), admin, facts=facts)
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).facts["next_steps"] == "Call Tuesday"
    assert t.facts["budget_range"] == "25000.00"


def test_contact_fact_becomes_a_contact_with_its_role_on_the_deal(org, article):
    admin, _, _ = people(org)
    deal = factories.make_deal(org)
    move_deal(deal, stage(article, "Discovery"), admin,
              facts={**needs(deal, stage(article, "Discovery")), "decision_maker": "Dana@Buyer.com"})
    link = DealContact.query.filter_by(deal_id=deal.id).one()
    assert link.role == "decision_maker" and link.contact.email == "dana@buyer.com"


def test_invalid_fact_refuses_the_move_and_names_the_field(org, article):
    admin, _, _ = people(org)
    deal = factories.make_deal(org)
    facts = {**needs(deal, stage(article, "Discovery")), "budget_range": "-5", "dm_meeting_date": "soon"}
    with Unchanged(deal), pytest.raises(Invalid) as info:
        move_deal(deal, stage(article, "Discovery"), admin, facts=facts)
    assert info.value.fields == {"budget_range": "must be zero or more",
                                 "dm_meeting_date": "must be a date (YYYY-MM-DD)"}


def test_clearing_a_needed_fact_in_the_move_refuses_it(org, article):
    admin, _, _ = people(org)
    deal = factories.make_deal(org, "Discovery")
    facts = {**needs(deal, stage(article, "Proposal")), "needs": ""}
    with Unchanged(deal), pytest.raises(GateRefused) as info:
        move_deal(deal, stage(article, "Proposal"), admin, facts=facts)
    assert missing_keys(info) == {("needs", "exit")}


def test_skip_forward_needs_requirements_of_skipped_stages(org, b2b):
    admin, _, rep = people(org)
    deal = factories.make_deal(org, "Discovery", pipeline_name=B2B, owner=rep)
    closing = stage(b2b, "Closing")
    with Unchanged(deal), pytest.raises(GateRefused) as info:
        move_deal(deal, closing, rep, facts={"pain_points": "Slow quotes", "next_action": "Review",
                                             "next_action_date": sample_value(closing.required_fields("entry")[1])})
    # Discovery exit was sent; Presentation/Demo entry and Objection handling exit were skipped, not met.
    assert missing_keys(info) == {("demo_date", "entry"), ("objections", "exit")}
    assert info.value.kind == "skip"

    t = move_deal(deal, closing, rep, facts=needs(deal, closing))
    assert t.kind == "skip" and deal.stage.name == "Closing"
    assert {c["stage"] for c in t.criteria} == {"Discovery", "Presentation/Demo", "Objection handling", "Closing"}


def test_skip_refused_when_pipeline_forbids_skips_even_with_facts(org, article):
    _, manager, _ = people(org)
    deal = factories.make_deal(org)
    proposal = stage(article, "Proposal")
    with Unchanged(deal), pytest.raises(GateRefused) as info:
        move_deal(deal, proposal, manager, facts=needs(deal, proposal))
    assert info.value.missing == []
    assert "does not allow skipping stages (Discovery)" in info.value.message


def test_skip_to_won_is_refused_too_where_skips_are_forbidden(org, article):
    admin, _, _ = people(org)
    deal = factories.make_deal(org, "Discovery")
    won = stage(article, "Closed Won")
    with Unchanged(deal), pytest.raises(GateRefused) as info:
        move_deal(deal, won, admin, facts=needs(deal, won))
    assert "Proposal, Negotiation" in info.value.message


def test_backward_move_needs_no_facts_and_is_recorded_as_backward(org, article):
    _, _, rep = people(org)
    deal = factories.make_deal(org, "Proposal")
    t = move_deal(deal, stage(article, "Qualified"), rep)
    assert t.kind == "backward" and t.criteria == [] and deal.stage.name == "Qualified"
    assert deal.status == "open"


def test_moving_to_the_current_stage_or_another_pipeline_is_invalid(org, article, b2b):
    admin, _, _ = people(org)
    deal = factories.make_deal(org)
    with Unchanged(deal):
        with pytest.raises(Invalid) as same:
            move_deal(deal, stage(article, "Qualified"), admin)
        with pytest.raises(Invalid) as other:
            move_deal(deal, stage(b2b, "Outreach"), admin)
    assert same.value.fields == {"stage_id": "is the deal's current stage"}
    assert other.value.fields == {"stage_id": "is not a stage of this deal's pipeline"}


def test_another_organisations_stage_is_invalid(org, article):
    admin, _, _ = people(org)
    deal = factories.make_deal(org)
    other = factories.make_org()
    with Unchanged(deal), pytest.raises(Invalid):
        move_deal(deal, stage(factories.pipeline(other), "Discovery"), admin)


# --- lost, won, reopen --------------------------------------------------------------------

def test_lost_needs_reason_but_no_facts(org, article):
    _, _, rep = people(org)
    deal = factories.make_deal(org, "Discovery")
    lost = stage(article, "Closed Lost")
    with Unchanged(deal), pytest.raises(GateRefused) as info:
        move_deal(deal, lost, rep)
    assert info.value.fields == {"reason": "is required"} and info.value.missing == []

    price = LossReason.query.filter_by(org_id=org.id, label="Price").one()
    t = move_deal(deal, lost, rep, loss_reason_id=price.id, reason="Their budget was cut")
    assert t.kind == "close" and t.criteria == [] and t.reason == "Their budget was cut"
    assert deal.status == "lost" and deal.loss_reason.label == "Price" and deal.closed_at is not None


def test_lost_reason_can_be_given_by_its_label(org, article):
    _, _, rep = people(org)
    deal = factories.make_deal(org)
    t = move_deal(deal, stage(article, "Closed Lost"), rep, reason="  timing ")
    assert deal.loss_reason.label == "Timing" and t.reason == "timing"


def test_a_lost_reason_not_on_the_list_is_stored_as_other_with_its_text(org, article):
    _, _, rep = people(org)
    deal = factories.make_deal(org)
    lost = stage(article, "Closed Lost")
    t = move_deal(deal, lost, rep, reason="  Merged with a customer of our rival ")
    assert deal.status == "lost" and deal.loss_reason is None
    assert deal.loss_reason_other == "Merged with a customer of our rival"
    assert t.reason == "Merged with a customer of our rival"


def test_a_lost_reason_matching_a_listed_one_in_any_case_is_that_reason(org, article):
    _, _, rep = people(org)
    deal = factories.make_deal(org)
    move_deal(deal, stage(article, "Closed Lost"), rep, reason="CHOSE A COMPETITOR")
    assert deal.loss_reason.label == "Chose a competitor" and deal.loss_reason_other is None


def test_an_archived_reason_is_no_longer_listed_and_counts_as_other(org, article):
    _, _, rep = people(org)
    deal = factories.make_deal(org)
    timing = LossReason.query.filter_by(org_id=org.id, label="Timing").one()
    timing.archived = True
    db.session.commit()
    move_deal(deal, stage(article, "Closed Lost"), rep, reason="Timing")
    assert deal.loss_reason is None and deal.loss_reason_other == "Timing"


def test_a_loss_still_needs_some_reason_and_a_listed_id_from_this_organisation(org, article):
    _, _, rep = people(org)
    deal = factories.make_deal(org)
    lost = stage(article, "Closed Lost")
    foreign = LossReason.query.filter(LossReason.org_id == factories.make_org().id).first()
    with Unchanged(deal):
        with pytest.raises(GateRefused) as blank:
            move_deal(deal, lost, rep, reason="   ")
        with pytest.raises(Invalid) as other_org:
            move_deal(deal, lost, rep, loss_reason_id=foreign.id)
        with pytest.raises(Invalid):
            move_deal(deal, lost, rep, loss_reason_id="abc")
    assert blank.value.fields == {"reason": "is required"}
    assert other_org.value.fields == {"loss_reason": "is not one of this organisation's loss reasons"}


def test_reopening_a_deal_lost_for_another_reason_clears_that_reason(org, article):
    admin, _, _ = people(org)
    deal = factories.make_deal(org)
    move_deal(deal, stage(article, "Closed Lost"), admin, reason="Acquired by a rival")
    move_deal(deal, stage(article, "Qualified"), admin)
    assert deal.status == "open" and deal.loss_reason_other is None


def test_the_loss_breakdown_groups_by_listed_reason_then_other(org, article):
    from app.deals.losses import loss_breakdown

    admin, _, _ = people(org)
    lost = stage(article, "Closed Lost")
    for title, reason in [("A", "price"), ("B", "Price"), ("C", "Budget frozen by the board"),
                          ("D", "Went dark"), ("E", "Office burned down")]:
        move_deal(factories.make_deal(org, title=title), lost, admin, reason=reason)
    factories.make_deal(org, title="Still open")
    groups = {g.label: g for g in loss_breakdown(org.id)}
    assert groups["Price"].count == 2 and groups["Went dark"].count == 1 and groups["Timing"].count == 0
    assert groups["Other"].count == 2 and groups["Other"].loss_reason_id is None
    assert set(groups["Other"].texts) == {"Budget frozen by the board", "Office burned down"}
    assert list(groups)[-1] == "Other"
    assert loss_breakdown(factories.make_org().id)[-1].count == 0  # another organisation's losses stay apart


@pytest.mark.parametrize("from_stage", ["Qualified", "Discovery", "Proposal", "Negotiation"])
def test_lost_can_be_reached_from_any_open_stage(org, article, from_stage):
    _, _, rep = people(org)
    deal = factories.make_deal(org, from_stage)
    move_deal(deal, stage(article, "Closed Lost"), rep, reason="Price")
    assert deal.status == "lost"


def test_won_needs_its_entry_facts_including_the_handoff_context(org, article):
    admin, _, _ = people(org)
    deal = factories.make_deal(org, "Negotiation")
    with Unchanged(deal), pytest.raises(GateRefused) as info:
        move_deal(deal, stage(article, "Closed Won"), admin, facts={"terms_status": "Accepted"})
    assert missing_keys(info) == {("contract_signed", "entry"), ("onboarding_handoff", "entry")}


def test_won_creates_one_handoff_task_for_onboarding_owner(org, article):
    admin, manager, rep = people(org)
    article.handoff_user_id = manager.id
    db.session.commit()
    deal = factories.make_deal(org, "Negotiation", owner=rep)
    won = stage(article, "Closed Won")
    facts = {**needs(deal, won), "onboarding_handoff": "Call Pat; we promised SSO by May."}
    t = move_deal(deal, won, rep, facts=facts)
    assert t.kind == "close" and deal.status == "won" and deal.closed_at is not None
    task = Task.query.filter_by(deal_id=deal.id, kind="handoff").one()
    assert task.owner_id == manager.id and "SSO by May" in task.notes
    note = Notification.query.filter_by(kind="handoff").one()
    assert note.user_id == manager.id and note.url == f"/deals/{deal.id}"


def test_won_handoff_goes_to_the_deal_owner_without_an_onboarding_owner(org, article):
    _, _, rep = people(org)
    deal = factories.make_deal(org, "Closed Won", owner=rep)
    assert deal.status == "won"
    assert [t.owner_id for t in Task.query.filter_by(deal_id=deal.id, kind="handoff")] == [rep.id]
    assert Notification.query.filter_by(user_id=rep.id, kind="handoff").count() == 1


def test_closed_deal_must_be_reopened_before_closing_again(org, article):
    admin, _, _ = people(org)
    deal = factories.make_deal(org, "Closed Won")
    with Unchanged(deal), pytest.raises(Invalid):
        move_deal(deal, stage(article, "Closed Lost"), admin, reason="Price")


def test_reopen_needs_the_target_stages_entry_facts(org, article):
    _, _, rep = people(org)
    deal = factories.make_deal(org)
    move_deal(deal, stage(article, "Closed Lost"), rep, reason="Price")
    discovery = stage(article, "Discovery")
    with Unchanged(deal), pytest.raises(GateRefused) as info:
        move_deal(deal, discovery, rep)
    assert ("dm_meeting_date", "entry") in missing_keys(info)
    t = move_deal(deal, discovery, rep, facts=needs(deal, discovery))
    assert t.kind == "reopen"
    assert deal.status == "open" and deal.closed_at is None and deal.loss_reason is None


def test_reopen_into_a_later_stage_needs_the_requirements_of_the_stages_before_it(org, article):
    _, _, rep = people(org)
    deal = factories.make_deal(org)  # in Qualified with its entry facts only
    twin = factories.make_deal(org, title="Open twin")
    move_deal(deal, stage(article, "Closed Lost"), rep, reason="Price")
    proposal = stage(article, "Proposal")
    with Unchanged(deal), pytest.raises(GateRefused) as info:
        move_deal(deal, proposal, rep)  # no skipping the gate by losing and reopening
    assert missing_keys(info) == {("budget_range", "exit"), ("decision_maker", "exit"),
                                  ("dm_meeting_date", "entry"), ("needs", "exit"),
                                  ("next_steps", "exit"), ("proposal_drafted", "entry")}
    # The same as a forward skip from the first open stage, plus that stage's entry.
    checked = {(r.stage.name, r.field.key, r.when) for r in plan_move(deal, proposal).requirements}
    skip = {(r.stage.name, r.field.key, r.when) for r in plan_move(twin, proposal).requirements}
    first_entry = {("Qualified", f.key, "entry") for f in stage(article, "Qualified").required_fields("entry")}
    assert checked == skip | first_entry
    t = move_deal(deal, proposal, rep, facts=needs(deal, proposal))
    assert t.kind == "reopen" and deal.stage.name == "Proposal" and deal.status == "open"
    assert {(c["stage"], c["field"], c["when"]) for c in t.criteria} == checked
    assert all(c["met"] for c in t.criteria)


# --- overrides and who may move -----------------------------------------------------------

def test_manager_override_is_recorded_with_its_reason(org, article):
    _, manager, rep = people(org)
    deal = factories.make_deal(org, owner=rep)
    t = move_deal(deal, stage(article, "Proposal"), manager, override_reason="Signed LOI on paper")
    assert deal.stage.name == "Proposal"
    api = t.as_api()
    assert api["kind"] == "override" and api["override"] is True
    assert api["reason"] == "Signed LOI on paper" and api["user_email"] == manager.email
    assert [c["met"] for c in api["criteria"]] == [False] * len(api["criteria"])


def test_override_needs_a_written_reason(org, article):
    admin, _, _ = people(org)
    deal = factories.make_deal(org)
    with Unchanged(deal), pytest.raises(GateRefused):
        move_deal(deal, stage(article, "Discovery"), admin, override_reason="   ")


def test_override_by_rep_is_forbidden(org, article):
    _, _, rep = people(org)
    deal = factories.make_deal(org, owner=rep)
    with Unchanged(deal), pytest.raises(Forbidden):
        move_deal(deal, stage(article, "Discovery"), rep, override_reason="Trust me")


def test_override_reason_is_ignored_when_the_gate_passes(org, article):
    admin, _, _ = people(org)
    deal = factories.make_deal(org)
    discovery = stage(article, "Discovery")
    t = move_deal(deal, discovery, admin, facts=needs(deal, discovery), override_reason="not needed")
    assert t.kind == "forward" and t.override is False


def test_rep_may_only_move_their_own_deals(org, article):
    admin, manager, rep = people(org)
    deal = factories.make_deal(org, owner=manager)
    discovery = stage(article, "Discovery")
    assert not can_edit(deal, rep) and can_edit(deal, admin)
    with Unchanged(deal), pytest.raises(Forbidden):
        move_deal(deal, discovery, rep, facts=needs(deal, discovery))
    other_admin = factories.user(factories.make_org(), "admin")
    with Unchanged(deal), pytest.raises(Forbidden):
        move_deal(deal, discovery, other_admin, facts=needs(deal, discovery))


# --- history ------------------------------------------------------------------------------

def test_history_keeps_criteria_after_requirement_removed(org, article):
    admin, _, _ = people(org)
    deal = factories.make_deal(org)
    discovery = stage(article, "Discovery")
    move_deal(deal, discovery, admin, facts=needs(deal, discovery))
    before = [t.as_api() for t in transitions(deal)]
    StageRequirement.query.filter_by(stage_id=discovery.id, when="entry").delete()
    next(f for f in article.fields if f.key == "dm_meeting_date").label = "Renamed"
    db.session.commit()
    db.session.expire_all()
    after = [t.as_api() for t in transitions(deal)]
    assert after == before
    assert any(c["field"] == "dm_meeting_date" and c["label"] == "DM meeting scheduled"
               for c in after[-1]["criteria"])


def test_history_keeps_the_facts_as_they_stood(org, article):
    admin, _, _ = people(org)
    deal = factories.make_deal(org, "Discovery")
    update_deal(deal, admin, version=deal.version, facts={"budget_range": "99"})
    assert transitions(deal)[-1].facts["budget_range"] == "25000.00"
    assert deal.facts["budget_range"] == "99.00"


def test_backdated_at_must_not_precede_latest_transition(org, article):
    admin, _, _ = people(org)
    deal = factories.make_deal(org)
    discovery = stage(article, "Discovery")
    created = transitions(deal)[-1].at
    with Unchanged(deal):
        with pytest.raises(Invalid) as early:
            move_deal(deal, discovery, admin, facts=needs(deal, discovery), at=created - timedelta(hours=1))
        with pytest.raises(Invalid) as future:
            move_deal(deal, discovery, admin, facts=needs(deal, discovery), at=utcnow() + timedelta(days=1))
    assert early.value.fields == {"at": "must not be before the deal's latest stage change"}
    assert future.value.fields == {"at": "must be in the past"}


def test_backdated_move_records_its_time_and_accepts_an_aware_datetime(org, article):
    admin, _, _ = people(org)
    created = utcnow() - timedelta(days=10)
    p = article
    deal = create_deal(p, admin, title="Old deal", facts=factories.full_facts(p, p.open_stages[0]),
                       created_at=created)
    discovery = stage(article, "Discovery")
    when = datetime.now(UTC) - timedelta(days=3)
    t = move_deal(deal, discovery, admin, facts=needs(deal, discovery), at=when)
    assert t.at == when.replace(tzinfo=None) and deal.stage_entered_at == t.at


# --- versions and concurrency -------------------------------------------------------------

def test_stale_version_conflicts_and_writes_nothing(org, article):
    admin, _, _ = people(org)
    deal = factories.make_deal(org)
    discovery = stage(article, "Discovery")
    with Unchanged(deal), pytest.raises(Conflict):
        move_deal(deal, discovery, admin, facts=needs(deal, discovery), version=deal.version - 1)
    with Unchanged(deal), pytest.raises(Invalid):
        move_deal(deal, discovery, admin, facts=needs(deal, discovery), version="v2")
    move_deal(deal, discovery, admin, facts=needs(deal, discovery), version=str(deal.version))


def test_two_sessions_same_deal_second_commit_conflicts(app, org, article):
    admin, manager, _ = people(org)
    deal = factories.make_deal(org)
    deal_id, read_version = deal.id, deal.version
    discovery, lost = stage(article, "Discovery"), stage(article, "Closed Lost")
    facts = needs(deal, discovery)
    assert deal.facts  # session A has read the deal (version 1)

    # Session B (its own app context, so its own session and connection) moves it first.
    with app.app_context():
        other = db.session.get(Deal, deal_id)
        assert other is not deal
        move_deal(other, db.session.get(type(lost), lost.id), manager, reason="Price", version=read_version)
    before = rows()

    # Session A still holds version 1 in memory: the UPDATE's version check must fire.
    assert deal.version == read_version
    with pytest.raises(Conflict):
        move_deal(deal, discovery, admin, facts=facts, version=read_version)
    assert rows() == before
    db.session.expire_all()
    fresh = db.session.get(Deal, deal_id)
    assert fresh.status == "lost" and fresh.version == read_version + 1


def test_two_sessions_same_deal_update_conflicts(app, org, article):
    admin, manager, _ = people(org)
    deal = factories.make_deal(org)
    assert deal.title
    with app.app_context():
        update_deal(db.session.get(Deal, deal.id), manager, version=1, title="Renamed by B")
    with pytest.raises(Conflict):
        update_deal(deal, admin, version=1, title="Renamed by A")
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).title == "Renamed by B"


# --- create ---------------------------------------------------------------------------------

def test_create_into_a_later_stage_needs_every_earlier_stages_entry_and_exit(org, article):
    admin, _, rep = people(org)
    discovery = stage(article, "Discovery")
    before = rows()
    with pytest.raises(GateRefused) as info:
        create_deal(article, rep, title="Imported", stage=discovery, facts={"dm_meeting_date": "2031-01-01"})
    assert missing_keys(info) == {("icp_confirmed", "entry"), ("pain", "entry"),
                                  ("budget_range", "exit"), ("decision_maker", "exit")}
    assert rows() == before

    deal = create_deal(article, rep, title="Imported", stage=discovery,
                       facts={**facts_from_start(article, discovery)})
    t = transitions(deal)[0]
    assert t.kind == "create" and t.from_stage_id is None and t.to_stage_id == discovery.id
    assert [(c["field"], c["when"], c["met"]) for c in t.criteria] == [
        ("icp_confirmed", "entry", True), ("pain", "entry", True), ("budget_range", "exit", True),
        ("decision_maker", "exit", True), ("dm_meeting_date", "entry", True)]


def test_create_into_the_first_stage_needs_only_its_entry(org, article):
    _, _, rep = people(org)
    with pytest.raises(GateRefused) as info:
        create_deal(article, rep, title="New", facts={"icp_confirmed": True})
    assert missing_keys(info) == {("pain", "entry")}


def test_a_manager_may_create_past_the_gate_with_a_reason_and_a_rep_may_not(org, article):
    _, manager, rep = people(org)
    proposal = stage(article, "Proposal")
    with pytest.raises(Forbidden):
        create_deal(article, rep, title="Rushed", stage=proposal, override_reason="Trust me")
    deal = create_deal(article, manager, title="Migrated", stage=proposal, override_reason="From the old CRM")
    [t] = transitions(deal)
    assert t.kind == "override" and t.override and t.reason == "From the old CRM"
    assert not all(c["met"] for c in t.criteria)


def test_create_with_bad_input_names_each_field_and_writes_nothing(org, article):
    _, _, rep = people(org)
    before = rows()
    with pytest.raises(Invalid) as info:
        create_deal(article, rep, title=" ", amount="-3", currency="dollars",
                    facts={"pain": 5 * "x" * 3000, "nope": 1})
    assert set(info.value.fields) == {"title", "amount", "currency", "pain", "nope"}
    with pytest.raises(Invalid) as big:
        create_deal(article, rep, title="Huge", amount="1000000000000",
                    facts=factories.full_facts(article, article.open_stages[0]))
    assert big.value.fields == {"amount": "must be below 1,000,000,000,000"}
    assert rows() == before


def test_rep_cannot_create_deals_for_others_or_in_another_organisation(org, article):
    _, manager, rep = people(org)
    facts = factories.full_facts(article, article.open_stages[0])
    with pytest.raises(Invalid) as info:
        create_deal(article, rep, title="For Max", owner=manager, facts=facts)
    assert info.value.fields == {"owner_email": "only a manager can create deals for someone else"}
    outsider = factories.user(factories.make_org(), "admin")
    with pytest.raises(Forbidden):
        create_deal(article, outsider, title="Sneaky", facts=facts)


def test_create_override_is_for_managers_with_a_reason(org, article):
    _, manager, rep = people(org)
    with pytest.raises(Forbidden):
        create_deal(article, rep, title="Rushed", override_reason="Because")
    deal = create_deal(article, manager, title="Rushed", override_reason="Imported from old CRM")
    t = transitions(deal)[0]
    assert t.kind == "override" and t.override and t.reason == "Imported from old CRM"


def test_create_straight_into_won_hands_off_to_onboarding(org, article):
    _, manager, _ = people(org)
    won = stage(article, "Closed Won")
    with pytest.raises(GateRefused):  # Won's own facts are not enough: the whole pipeline is walked
        create_deal(article, manager, title="Signed elsewhere", stage=won,
                    facts={"contract_signed": True, "onboarding_handoff": "Kickoff with Lee"})
    deal = create_deal(article, manager, title="Signed elsewhere", stage=won,
                       facts={**facts_from_start(article, won), "onboarding_handoff": "Kickoff with Lee"})
    assert deal.status == "won" and deal.closed_at is not None
    assert Task.query.filter_by(deal_id=deal.id, kind="handoff").count() == 1


def test_create_lost_deal_needs_and_records_a_loss_reason(org, article):
    _, manager, _ = people(org)
    lost = stage(article, "Closed Lost")
    with pytest.raises(GateRefused):
        create_deal(article, manager, title="Gone", stage=lost)
    deal = create_deal(article, manager, title="Gone", stage=lost, reason="No decision")
    assert deal.status == "lost" and deal.loss_reason.label == "No decision"


def test_create_with_only_a_backdated_stage_entry_is_not_created_after_it(org, article):
    _, manager, _ = people(org)
    entered = utcnow() - timedelta(days=20)
    deal = create_deal(article, manager, title="Old", stage_entered_at=entered,
                       facts=factories.full_facts(article, article.open_stages[0]))
    assert deal.created_at == entered == deal.stage_entered_at


# --- update ---------------------------------------------------------------------------------

def test_update_cannot_clear_a_fact_the_current_stage_requires(org, article):
    _, _, rep = people(org)
    deal = factories.make_deal(org, "Discovery", owner=rep)
    with Unchanged(deal), pytest.raises(Invalid) as info:
        update_deal(deal, rep, version=deal.version, facts={"dm_meeting_date": ""})
    assert info.value.fields == {"dm_meeting_date": "is required while the deal is in Discovery"}


def test_update_checks_version_and_next_step_date(org, article):
    _, _, rep = people(org)
    deal = factories.make_deal(org, owner=rep)
    with Unchanged(deal):
        with pytest.raises(Conflict):
            update_deal(deal, rep, version=deal.version + 1, title="New")
        with pytest.raises(Invalid) as info:
            update_deal(deal, rep, version=deal.version, next_step_due="next week")
    assert info.value.fields == {"next_step_due": "must be a date (YYYY-MM-DD)"}
    update_deal(deal, rep, version=deal.version, next_step="Call", next_step_due="2031-02-03")
    assert str(deal.next_step_due) == "2031-02-03" and deal.version == 2


def test_exit_missing_lists_what_the_current_stage_still_needs(org, article):
    deal = factories.make_deal(org)
    assert [f.key for f in exit_missing(deal)] == ["budget_range", "decision_maker"]


def test_template_pipeline_can_be_added_later_and_gated(org):
    admin, _, _ = people(org)
    insurance = create_from_template(org, "insurance")
    deal = create_deal(insurance, admin, title="Home cover")
    contacted = stage(insurance, "Contacted")
    with pytest.raises(GateRefused):
        move_deal(deal, contacted, admin)
    move_deal(deal, contacted, admin, facts=needs(deal, contacted))
    assert deal.stage.name == "Contacted"
