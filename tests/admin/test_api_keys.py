"""Admin: API keys (create shown once and stored hashed, list, revoke)."""

from app.models import ApiKey, hash_api_key
from tests import factories


def test_create_key_shows_raw_key_once_and_stores_only_its_hash(client, org, login_as):
    login_as("admin")
    rep = factories.user(org, "rep")
    response = client.post("/admin/api-keys", data={"name": "Website form", "user_id": str(rep.id)})
    assert response.status_code == 201
    page = response.get_data(as_text=True)
    key = ApiKey.query.filter_by(org_id=org.id, name="Website form").one()
    raw = page.split('id="new-key" type="text" value="')[1].split('"')[0]
    assert raw.startswith("sg_") and key.key_hash == hash_api_key(raw) and raw not in (key.key_hash, key.prefix)
    assert key.user_id == rep.id and "Copy your new key now" in page
    listing = client.get("/admin/api-keys").get_data(as_text=True)
    assert raw not in listing and key.prefix in listing and "never used" in listing


def test_key_for_inactive_or_foreign_user_is_refused(client, org, login_as):
    login_as("admin")
    rep = factories.user(org, "rep")
    client.post(f"/admin/users/{rep.id}/active", data={"active": "0"})
    stranger = factories.user(factories.make_org(), "rep")
    for user_id in (rep.id, stranger.id, "abc"):
        response = client.post("/admin/api-keys", data={"name": "Bad", "user_id": str(user_id)})
        assert response.status_code == 422 and "must be an active user" in response.get_data(as_text=True)
    assert ApiKey.query.count() == 0


def test_key_without_a_name_is_refused(client, org, login_as):
    admin = login_as("admin")
    response = client.post("/admin/api-keys", data={"name": "", "user_id": str(admin.id)})
    assert response.status_code == 422 and "Key name is required" in response.get_data(as_text=True)
    assert ApiKey.query.count() == 0


def test_revoke_key(client, org, login_as):
    admin = login_as("admin")
    client.post("/admin/api-keys", data={"name": "Zapier", "user_id": str(admin.id)})
    key = ApiKey.query.filter_by(name="Zapier").one()
    response = client.post(f"/admin/api-keys/{key.id}/revoke", follow_redirects=True)
    assert "Key Zapier" in response.get_data(as_text=True) and "revoked" in response.get_data(as_text=True)
    assert ApiKey.query.get(key.id).revoked_at is not None


def test_another_orgs_key_is_404(client, org, login_as):
    from app.auth.service import create_api_key

    login_as("admin")
    other = factories.make_org()
    _, key = create_api_key(factories.user(other, "admin"), "Theirs")
    assert client.post(f"/admin/api-keys/{key.id}/revoke").status_code == 404
    assert ApiKey.query.get(key.id).revoked_at is None
