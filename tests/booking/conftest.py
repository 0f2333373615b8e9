"""Booking fixtures: a rep with booking hours in Europe/Berlin, a deal of theirs with a buyer, a real SMTP server."""

from datetime import datetime

import pytest

from app.booking import hours
from app.extensions import db
from app.models import BookingProfile
from tests import factories
from tests.sequences.conftest import _give_every_org_a_postal_address, smtp  # noqa: F401 (fixture)

BERLIN = "Europe/Berlin"


def set_hours(user, windows, zone=BERLIN, lengths=("30", "60"), notice="4", horizon="21"):
    """Save `user`'s booking hours through the service: windows as {(weekday, row): ("09:00", "12:00")}."""
    values = {"timezone": zone, "lengths": list(lengths), "notice_hours": notice, "horizon_days": horizon}
    for (day, row), (start, end) in windows.items():
        values[hours.window_field(day, row, "start")] = start
        values[hours.window_field(day, row, "end")] = end
    return hours.save_hours(user, values)


def every_day(start="00:00", end="24:00"):
    return {(day, 0): (start, end) for day in range(7)}


@pytest.fixture
def rep(org):
    return factories.user(org, "rep")


@pytest.fixture
def buyer(org):
    return factories.make_contact(org, email="dana@buyer.example", name="Dana Buyer")


@pytest.fixture
def deal(org, rep, buyer):
    deal = factories.make_deal(org, owner=rep, title="Acme renewal")
    deal.contact_id = buyer.id
    db.session.commit()
    return deal


@pytest.fixture
def open_rep(rep):
    """The rep bookable around the clock, any day, with no notice (so real-time pages have slots)."""
    set_hours(rep, every_day(), notice="0", horizon="7")
    return rep


@pytest.fixture(autouse=True)
def _outbox_in_tmp(app, tmp_path, monkeypatch):
    """With no SMTP_URL, messages go to <instance>/outbox: keep that inside the test's tmp dir."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path / "instance"))


def profile(user):
    return BookingProfile.query.filter_by(user_id=user.id).one()


def utc(*args):
    return datetime(*args)
