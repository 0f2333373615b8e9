"""Open slots: inside the weekly windows of the rep's zone, across DST changes, after notice, within horizon, around busy time."""

from datetime import datetime

from app.booking import service
from app.extensions import db
from app.models import Activity, Meeting
from tests.booking.conftest import set_hours

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def starts(rep, length=30, now=None):
    return [s for s, _ in service.open_slots(rep, length, now=now)]


def test_slots_fill_the_windows_every_quarter_hour_in_the_reps_zone(rep):
    set_hours(rep, {(TUE, 0): ("09:00", "10:00"), (TUE, 1): ("14:00", "14:45")}, notice="0", horizon="7")
    now = datetime(2026, 12, 7, 0, 0)  # Monday; Berlin is UTC+1 in December
    slots = service.open_slots(rep, 30, now=now)
    assert slots == [
        (datetime(2026, 12, 8, 8, 0), datetime(2026, 12, 8, 8, 30)),
        (datetime(2026, 12, 8, 8, 15), datetime(2026, 12, 8, 8, 45)),
        (datetime(2026, 12, 8, 8, 30), datetime(2026, 12, 8, 9, 0)),
        (datetime(2026, 12, 8, 13, 0), datetime(2026, 12, 8, 13, 30)),
        (datetime(2026, 12, 8, 13, 15), datetime(2026, 12, 8, 13, 45)),
    ]
    assert starts(rep, 60, now) == [datetime(2026, 12, 8, 8, 0)]  # an hour fits only the morning window


def test_another_zone_moves_the_same_wall_clock_hours(rep):
    set_hours(rep, {(TUE, 0): ("09:00", "09:30")}, zone="America/New_York", notice="0", horizon="7")
    assert starts(rep, now=datetime(2026, 12, 7)) == [datetime(2026, 12, 8, 14, 0)]  # 09:00 EST


def test_windows_keep_their_wall_clock_hours_across_the_spring_change(rep):
    # Europe/Berlin moves from UTC+1 to UTC+2 on Sunday 29 March 2026.
    set_hours(rep, {(SAT, 0): ("09:00", "09:30"), (MON, 0): ("09:00", "09:30")}, notice="0", horizon="7")
    assert starts(rep, now=datetime(2026, 3, 26)) == [datetime(2026, 3, 28, 8, 0), datetime(2026, 3, 30, 7, 0)]


def test_the_hour_skipped_in_spring_offers_no_slot(rep):
    set_hours(rep, {(SUN, 0): ("01:30", "03:30")}, notice="0", horizon="7")
    # 02:00-02:59 does not exist that night: 01:30 and 01:45 CET, then 03:00 CEST; 03:15 would pass 03:30.
    assert starts(rep, now=datetime(2026, 3, 26)) == [
        datetime(2026, 3, 29, 0, 30), datetime(2026, 3, 29, 0, 45), datetime(2026, 3, 29, 1, 0)]


def test_windows_keep_their_wall_clock_hours_across_the_autumn_change(rep):
    # Back to UTC+1 on Sunday 25 October 2026.
    set_hours(rep, {(SAT, 0): ("09:00", "09:30"), (MON, 0): ("09:00", "09:30")}, notice="0", horizon="7")
    assert starts(rep, now=datetime(2026, 10, 22)) == [datetime(2026, 10, 24, 7, 0), datetime(2026, 10, 26, 8, 0)]


def test_notice_and_horizon_bound_the_slots(rep):
    set_hours(rep, {(d, 0): ("09:00", "10:00") for d in range(7)}, notice="24", horizon="3")
    now = datetime(2026, 12, 7, 8, 30)  # Monday 09:30 in Berlin
    got = starts(rep, 60, now)
    # Tuesday 09:00 Berlin (08:00 UTC) is 23.5 h away: too soon. Wednesday and Thursday fit; Friday is past 3 days.
    assert got == [datetime(2026, 12, 9, 8, 0), datetime(2026, 12, 10, 8, 0)]


def test_booked_meetings_and_logged_meeting_activities_are_busy(rep, deal):
    set_hours(rep, {(TUE, 0): ("09:00", "13:00")}, notice="0", horizon="7")  # 08:00-12:00 UTC
    now = datetime(2026, 12, 7)
    db.session.add(Meeting(org_id=rep.org_id, deal_id=deal.id, user_id=rep.id, starts_at=datetime(2026, 12, 8, 8, 0),
                           ends_at=datetime(2026, 12, 8, 8, 30), uid="a@stagegate", booked_by="rep"))
    db.session.add(Meeting(org_id=rep.org_id, deal_id=deal.id, user_id=rep.id, starts_at=datetime(2026, 12, 8, 9, 0),
                           ends_at=datetime(2026, 12, 8, 9, 30), uid="b@stagegate", booked_by="rep",
                           status="cancelled"))  # cancelled: free again
    # A meeting logged on the timeline at 10:00 UTC holds 10:00-11:00.
    db.session.add(Activity(org_id=rep.org_id, user_id=rep.id, kind="meeting", body="Demo", at=datetime(2026, 12, 8, 10, 0)))
    db.session.commit()
    got = starts(rep, 30, now)
    assert datetime(2026, 12, 8, 8, 0) not in got and datetime(2026, 12, 8, 7, 45) not in got
    assert datetime(2026, 12, 8, 8, 15) not in got and datetime(2026, 12, 8, 8, 30) in got
    assert datetime(2026, 12, 8, 9, 0) in got  # the cancelled one
    assert datetime(2026, 12, 8, 9, 45) not in got and datetime(2026, 12, 8, 10, 45) not in got
    assert datetime(2026, 12, 8, 9, 30) in got and datetime(2026, 12, 8, 10, 30) not in got
    assert datetime(2026, 12, 8, 11, 0) in got  # after the activity's hour


def test_another_reps_meetings_do_not_block(rep, org, deal):
    from tests import factories

    other = factories.user(org, "manager")
    set_hours(rep, {(TUE, 0): ("09:00", "09:30")}, notice="0", horizon="7")
    db.session.add(Meeting(org_id=rep.org_id, deal_id=deal.id, user_id=other.id, starts_at=datetime(2026, 12, 8, 8, 0),
                           ends_at=datetime(2026, 12, 8, 8, 30), uid="c@stagegate", booked_by="rep"))
    db.session.commit()
    assert starts(rep, now=datetime(2026, 12, 7)) == [datetime(2026, 12, 8, 8, 0)]


def test_no_hours_no_slots(rep):
    assert service.open_slots(rep, 30) == []
