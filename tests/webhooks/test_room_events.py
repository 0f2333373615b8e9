"""A buyer books a meeting in the deal room over HTTP: room.meeting_booked and room.step_confirmed go out."""

import json
import re

from app.models import Meeting, WebhookDelivery
from tests.booking.conftest import every_day, set_hours
from tests.rooms.conftest import csrf_from, csrf_on, deal, org, token_of  # noqa: F401


def test_a_booking_in_the_room_emits_the_meeting_and_the_confirmed_step(client, key_for, deal, csrf_on,  # noqa: F811
                                                                        subscribe):
    subscribe(["room.meeting_booked", "room.step_confirmed"])
    set_hours(deal.owner, every_day("09:00", "17:00"), lengths=("30",), notice="0", horizon="14")
    headers = key_for("rep")
    client.post(f"/api/v1/deals/{deal.id}/room", headers=headers)
    invited = client.post(f"/api/v1/deals/{deal.id}/room/invites", headers=headers,
                          json={"contact_email": "dana@buyer.example"})
    token = token_of(invited.json["url"])
    page = client.get(f"/r/{token}").get_data(as_text=True)
    slot = re.findall(r'name="starts_at" value="([^"]+)"', page)[0]
    booked = client.post(f"/r/{token}/book", data={"csrf_token": csrf_from(page), "starts_at": slot, "length": "30"})
    assert booked.status_code == 200
    events = {r.event_type: json.loads(r.body) for r in WebhookDelivery.query.all()}
    meeting = Meeting.query.one()
    assert events["room.meeting_booked"]["data"]["meeting"]["id"] == meeting.id
    assert events["room.meeting_booked"]["data"]["meeting"]["booked_by"] == "dana@buyer.example"
    assert events["room.step_confirmed"]["data"]["step"]["confirmed_by"] == "dana@buyer.example"
