"""The Booking hours page: saved whole, or not at all with the reason beside each field."""

import pytest

from app.models import AvailabilityWindow, BookingProfile


def form(**changes):
    data = {"timezone": "Europe/Berlin", "lengths": ["30", "60"], "notice_hours": "4", "horizon_days": "21",
            "w0_0_start": "09:00", "w0_0_end": "12:00", "w0_1_start": "13:00", "w0_1_end": "17:00",
            "w4_0_start": "10:00", "w4_0_end": "24:00"}
    data.update(changes)
    return data


def test_saving_hours_says_what_happened_and_shows_them_again(client, login_as, rep):
    login_as(who=rep)
    assert client.get("/booking/hours").status_code == 200
    response = client.post("/booking/hours", data=form(), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Booking hours saved" in page and "Monday, Friday" in page
    assert 'value="13:00"' in page and 'value="24:00"' in page
    profile = BookingProfile.query.filter_by(user_id=rep.id).one()
    assert (profile.timezone, profile.lengths, profile.notice_hours, profile.horizon_days) == \
        ("Europe/Berlin", "30,60", 4, 21)
    windows = [(w.weekday, w.start_minute, w.end_minute) for w in AvailabilityWindow.query.order_by(
        AvailabilityWindow.weekday, AvailabilityWindow.start_minute)]
    assert windows == [(0, 540, 720), (0, 780, 1020), (4, 600, 1440)]
    client.post("/booking/hours", data=form(timezone="", w0_1_start="", w0_1_end=""))
    assert BookingProfile.query.one().timezone is None  # the organisation's zone
    assert AvailabilityWindow.query.count() == 2


@pytest.mark.parametrize("changes, field, words", [
    ({"w0_0_start": "12:00", "w0_0_end": "09:00"}, "w0_0_end", "must end after it starts"),
    ({"w0_1_start": "11:00"}, "w0_1_start", "overlaps another Monday window"),
    ({"w0_0_end": ""}, "w0_0_end", "both a start and an end"),
    ({"w0_0_start": "9h"}, "w0_0_start", "a time like 09:00"),
    ({"w0_0_start": "24:00"}, "w0_0_start", "a time like 09:00"),
    ({"w0_0_start": "09:00\x00"}, "w0_0_start", "not text"),
    ({"timezone": "Mars/Olympus"}, "timezone", "Pick a time zone"),
    ({"timezone": "Europe/Berlin\x00"}, "timezone", "not text"),
    ({"lengths": ["7"]}, "lengths", "Pick meeting lengths"),
    ({"lengths": []}, "lengths", "at least one"),
    ({"lengths": [str(2**31)]}, "lengths", "Pick meeting lengths"),
    ({"notice_hours": "-1"}, "notice_hours", "whole number from 0 to 720"),
    ({"horizon_days": str(2**31)}, "horizon_days", "whole number from 1 to 365"),
    ({"horizon_days": "1e3"}, "horizon_days", "whole number"),
])
def test_bad_hours_are_refused_beside_the_field_and_nothing_changes(client, login_as, rep, changes, field, words):
    login_as(who=rep)
    client.post("/booking/hours", data=form(w2_0_start="08:00", w2_0_end="09:00"))
    before = [(w.weekday, w.start_minute, w.end_minute) for w in AvailabilityWindow.query.order_by(AvailabilityWindow.id)]
    response = client.post("/booking/hours", data=form(**changes))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Nothing was saved" in page
    assert f'id="{field}-error"' in page and words in page
    assert [(w.weekday, w.start_minute, w.end_minute) for w in AvailabilityWindow.query.order_by(
        AvailabilityWindow.id)] == before  # the Wednesday window of the first save is still there
    assert BookingProfile.query.one().lengths == "30,60"


@pytest.mark.parametrize("raw", ["%ED%A0%80", "%80", "%FF%FE"])
def test_broken_bytes_and_lone_surrogates_are_refused_not_stored(client, login_as, rep, raw):
    login_as(who=rep)
    body = f"timezone=Europe%2FBerlin{raw}&lengths=30&notice_hours=4&horizon_days=21&w0_0_start=09:00{raw}&w0_0_end=10:00"
    response = client.post("/booking/hours", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422
    multipart = (b"--B\r\nContent-Disposition: form-data; name=\"timezone\"\r\n\r\nEurope/Berlin\xed\xa0\x80\r\n"
                 b"--B\r\nContent-Disposition: form-data; name=\"lengths\"\r\n\r\n30\r\n"
                 b"--B\r\nContent-Disposition: form-data; name=\"notice_hours\"\r\n\r\n4\r\n"
                 b"--B\r\nContent-Disposition: form-data; name=\"horizon_days\"\r\n\r\n21\r\n--B--\r\n")
    response = client.post("/booking/hours", data=multipart, content_type="multipart/form-data; boundary=B")
    assert response.status_code == 422
    assert BookingProfile.query.count() == 0 and AvailabilityWindow.query.count() == 0


def test_hours_need_a_signed_in_user(client):
    response = client.get("/booking/hours")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
