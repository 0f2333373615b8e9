from datetime import timedelta

from sqlalchemy import update

from app.extensions import db
from app.models import Deal, Task, utcnow
from tests import factories


def _age(deal, days):
    then = utcnow() - timedelta(days=days)
    db.session.execute(update(Deal).where(Deal.id == deal.id).values(stage_entered_at=then, updated_at=then))
    db.session.commit()


def test_board_flags_a_deal_nobody_touched_or_planned_for_its_stage_max_days(client, org, login_as):
    rep = login_as("rep")
    ignored = factories.make_deal(org, title="Ignored deal", owner=rep)
    planned = factories.make_deal(org, title="Planned deal", owner=rep)
    _age(ignored, 9)
    _age(planned, 9)
    db.session.add(Task(org_id=org.id, owner_id=rep.id, deal_id=planned.id, title="Call the CFO",
                        due_at=utcnow() + timedelta(days=1)))
    db.session.commit()
    page = client.get(f"/deals/board/{ignored.pipeline_id}").get_data(as_text=True)
    ignored_card = page.split(f'id="card-{ignored.id}"')[1].split("</article>")[0]
    planned_card = page.split(f'id="card-{planned.id}"')[1].split("</article>")[0]
    assert "No follow-up planned" in ignored_card
    assert "No follow-up planned" not in planned_card


def test_a_fresh_deal_is_not_flagged(client, org, login_as):
    rep = login_as("rep")
    deal = factories.make_deal(org, title="Fresh deal", owner=rep)
    page = client.get(f"/deals/board/{deal.pipeline_id}").get_data(as_text=True)
    assert "Fresh deal" in page and "No follow-up planned" not in page
