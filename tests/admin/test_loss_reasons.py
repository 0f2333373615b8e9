"""Admin: loss reasons (list, add, rename, archive)."""

from app.models import LossReason
from tests import factories


def test_list_add_rename_and_archive(client, org, login_as):
    login_as("admin")
    page = client.get("/admin/loss-reasons").get_data(as_text=True)
    assert "Chose a competitor" in page
    response = client.post("/admin/loss-reasons", data={"label": "Budget cut"}, follow_redirects=True)
    assert "Budget cut" in response.get_data(as_text=True)
    reason = LossReason.query.filter_by(org_id=org.id, label="Budget cut").one()
    client.post(f"/admin/loss-reasons/{reason.id}", data={"label": "Budget frozen"})
    assert LossReason.query.get(reason.id).label == "Budget frozen"
    client.post(f"/admin/loss-reasons/{reason.id}/archive", data={"archived": "1"})
    assert LossReason.query.get(reason.id).archived is True


def test_empty_duplicate_or_huge_reason_is_refused(client, org, login_as):
    login_as("admin")
    before = LossReason.query.count()
    for label, message in [("", "Reason is required"), ("price", "already exists"), ("r" * 999, "at most 120")]:
        response = client.post("/admin/loss-reasons", data={"label": label})
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert LossReason.query.count() == before


def test_rename_to_empty_keeps_the_old_name(client, org, login_as):
    login_as("admin")
    reason = LossReason.query.filter_by(org_id=org.id, label="Timing").one()
    response = client.post(f"/admin/loss-reasons/{reason.id}", data={"label": " "})
    assert response.status_code == 422 and "is required" in response.get_data(as_text=True)
    assert LossReason.query.get(reason.id).label == "Timing"


def test_another_orgs_reason_is_404(client, org, login_as):
    login_as("admin")
    theirs = LossReason.query.filter_by(org_id=factories.make_org().id).first()
    assert client.post(f"/admin/loss-reasons/{theirs.id}", data={"label": "Mine"}).status_code == 404
    assert client.post(f"/admin/loss-reasons/{theirs.id}/archive").status_code == 404


def test_the_loss_reasons_page_counts_lost_deals_per_reason_and_shows_other_texts(client, org, login_as):
    from app.deals.service import move_deal
    from app.models import Stage

    login_as("admin")
    admin = factories.user(org, "admin")
    lost = Stage.query.filter_by(org_id=org.id, kind="lost").first()
    move_deal(factories.make_deal(org, title="A"), lost, admin, reason="Price")
    move_deal(factories.make_deal(org, title="B"), lost, admin, reason="Acquired by a <b>rival</b>")
    page = client.get("/admin/loss-reasons").get_data(as_text=True)
    assert "1 lost deal</span>" in page and "0 lost deals</span>" in page
    assert "“Acquired by a &lt;b&gt;rival&lt;/b&gt;”" in page
