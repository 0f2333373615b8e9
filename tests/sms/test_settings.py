"""Settings → SMS: admins only; the token is stored encrypted and never shown back; the webhook URLs work."""

from datetime import datetime, timedelta

from app.extensions import db
from app.models import Enrollment, SmsSettings
from app.sequences import service
from app.sequences.sending import sweep_due
from tests import factories
from tests.factories import make_contact
from tests.sms.conftest import (
    FROM,
    SID,
    TOKEN,
    FakeTwilio,
    set_zone,
    text_sequence,
    twilio_signature,
)


def test_only_admins_see_the_sms_settings(client, org, login_as):
    for role in ("rep", "manager"):
        login_as(role)
        assert client.get("/sequences/settings/sms").status_code == 403
        assert client.post("/sequences/settings/sms", data={"provider": "twilio"}).status_code == 403
    login_as("admin")
    page = client.get("/sequences/settings/sms").get_data(as_text=True)
    assert "Text messages (SMS)" in page and "Save once to get" in page


def test_saving_the_account_keeps_the_token_secret_and_shows_the_webhook_urls(app, client, org, login_as,
                                                                              monkeypatch):
    fake = FakeTwilio()
    monkeypatch.setitem(app.config, "SMS_PROVIDER_URL", fake.url)
    try:
        login_as("admin")
        response = client.post("/sequences/settings/sms", data={
            "provider": "twilio", "account_sid": SID, "auth_token": TOKEN, "from_number": "(202) 555-0100"})
        assert response.status_code == 303
        row = SmsSettings.query.filter_by(org_id=org.id).one()
        assert row.from_number == FROM and TOKEN not in row.auth_token_encrypted
        page = client.get("/sequences/settings/sms").get_data(as_text=True)
        assert TOKEN not in page and row.auth_token_encrypted not in page
        assert "saved; leave empty to keep it" in page
        assert "https://stagegate.test/sms/inbound/" in page and "https://stagegate.test/sms/status/" in page

        # Saving again without a token keeps it; texts go out through the organisation's account.
        assert client.post("/sequences/settings/sms", data={
            "provider": "twilio", "account_sid": SID, "auth_token": "", "from_number": FROM}).status_code == 303
        set_zone(org, "America/New_York")
        sequence = text_sequence(org, factories.user(org, "manager"))
        contact = make_contact(org, "pat@prospect.example", "Pat", phone="+1 212 736 5000")
        now = datetime(2026, 12, 7, 15, 0)
        service.enroll(sequence, contact, factories.user(org, "rep"), now=now - timedelta(minutes=1), commit=False)
        db.session.commit()
        sweep_due(now)
        assert len(fake.messages) == 1
        secret = page.split("https://stagegate.test/sms/inbound/")[1].split("<")[0]
        assert fake.messages[0]["StatusCallback"].startswith(f"https://stagegate.test/sms/status/{secret}?send=")

        # The organisation's own secret and token sign its webhooks.
        params = {"MessageSid": "SMr1", "From": "+12127365000", "To": FROM, "Body": "sounds good"}
        url = f"https://stagegate.test/sms/inbound/{secret}"
        assert client.post(f"/sms/inbound/{secret}", data=params,
                           headers={"X-Twilio-Signature": twilio_signature(url, params, "wrong")}).status_code == 403
        assert client.post(f"/sms/inbound/{secret}", data=params,
                           headers={"X-Twilio-Signature": twilio_signature(url, params)}).status_code == 200
        assert Enrollment.query.one().status == "replied"
    finally:
        fake.close()


def test_bad_settings_are_named_and_nothing_is_saved(client, org, login_as):
    login_as("admin")
    response = client.post("/sequences/settings/sms", data={
        "provider": "twilio", "account_sid": "nope", "auth_token": "", "from_number": "12"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "must be the account SID" in page and "not a valid phone number" in page
    assert client.post("/sequences/settings/sms", data={"provider": "carrier-pigeon"}).status_code == 422
    broken = b"provider=twilio&account_sid=AC%ED%B3%BF&from_number=%FF"
    assert client.post("/sequences/settings/sms", data=broken,
                       content_type="application/x-www-form-urlencoded").status_code == 422
    assert SmsSettings.query.count() == 0


def test_typed_phone_numbers_are_kept_in_e164(client, org, login_as):
    from app.contacts.service import contact_values

    assert contact_values(org.id, {"email": "a@b.example", "phone": "(212) 736-5000"})["phone"] == "+12127365000"
    assert contact_values(org.id, {"email": "a@b.example", "phone": "ask reception"})["phone"] == "ask reception"
