"""The reports' deal-room figures, known answers over HTTP: the forecast resting on buyer-confirmed plans
that are on time, and the win rate with and without a room, each with the deals behind it."""

import re
from datetime import date, datetime, timedelta

from app.extensions import db
from app.rooms.service import add_step, open_room
from tests import factories
from tests.reports.history import make_history


def _deal(org, rep, title, amount, path):
    t0 = datetime.utcnow() - timedelta(days=10)
    return make_history(org, rep, [(stage, t0 + timedelta(days=i)) for i, stage in enumerate(path)],
                        amount=amount, title=title)


def _room(deal, actor, done: bool, overdue: bool):
    room, _ = open_room(deal, actor)
    step = add_step(room, actor, title="Security review", side="buyer")
    step.status = "done" if done else "open"
    if overdue:
        add_step(room, actor, title="Legal review", side="buyer", due_on=(date.today() - timedelta(days=2)).isoformat())
    db.session.commit()


def test_the_forecast_says_how_much_rests_on_plans_the_buyer_confirmed(client, org, login_as):
    rep, manager = factories.user(org, "rep"), factories.user(org, "manager")
    confirmed = _deal(org, rep, "Confirmed plan", "10000", ["Qualified", "Discovery"])  # 25 %
    late = _deal(org, rep, "Overdue plan", "20000", ["Qualified", "Discovery"])
    unconfirmed = _deal(org, rep, "Nothing confirmed yet", "4000", ["Qualified"])
    _deal(org, rep, "No room", "6000", ["Qualified"])
    won_room = _deal(org, rep, "Won with room", "1000", ["Qualified", "Discovery", "Proposal", "Negotiation",
                                                         "Closed Won"])
    lost_room = _deal(org, rep, "Lost with room", "1000", ["Qualified", "Closed Lost"])
    _deal(org, rep, "Lost without", "1000", ["Qualified", "Closed Lost"])
    _room(confirmed, manager, done=True, overdue=False)
    _room(late, manager, done=True, overdue=True)
    _room(unconfirmed, manager, done=False, overdue=False)
    for closed in (won_room, lost_room):
        open_room(closed, manager)
    db.session.commit()
    pipeline = factories.pipeline(org)
    login_as("manager")
    page = client.get(f"/reports/{pipeline.id}").get_data(as_text=True)
    section = page[page.index('id="h-buyer"'):page.index('id="h-close"')]
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", section, re.S)]
    plans = cells[cells.index("Buyer-confirmed plan, on time"):][:4]
    assert plans == ["Buyer-confirmed plan, on time", "1", "$10,000", "$2,500"]
    assert cells[cells.index("Every other open deal"):][:3] == ["Every other open deal", "3", "$30,000"]
    assert cells[cells.index("With a deal room"):][:4] == ["With a deal room", "2", "1", "50.0 %"]
    assert cells[cells.index("Without one"):][:4] == ["Without one", "1", "0", "0.0 %"]
    listed = re.search(r'href="([^"]*metric=buyer_plans[^"]*part=on_time[^"]*)"', section).group(1)
    shown = client.get(listed.replace("&amp;", "&")).get_data(as_text=True)
    assert "Confirmed plan" in shown and "Overdue plan" not in shown
    login_as("rep")  # a rep sees their own deals' figures (all of them here)
    assert "Buyer-confirmed plan, on time" in client.get(f"/reports/{pipeline.id}").get_data(as_text=True)
