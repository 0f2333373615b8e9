"""Admin: pipelines list, templates, create, rename, reorder, archive, settings."""

import pytest

from app.models import Pipeline, Stage
from tests import factories


def test_article_template_creates_exact_stage_names(client, org, login_as):
    login_as("admin")
    response = client.post("/admin/pipelines", data={"template": "article", "name": "Second article"})
    assert response.status_code == 302
    pipeline = Pipeline.query.filter_by(org_id=org.id, name="Second article").one()
    assert [s.name for s in pipeline.stages] == [
        "Qualified", "Discovery", "Proposal", "Negotiation", "Closed Won", "Closed Lost"]
    assert response.headers["Location"].endswith(f"/admin/pipelines/{pipeline.id}")


@pytest.mark.parametrize("key,first,won", [("b2b", "Prospecting", "Won"), ("insurance", "New lead", "Bound")])
def test_other_templates_create_their_stages(client, org, login_as, key, first, won):
    login_as("admin")
    client.post("/admin/pipelines", data={"template": key})
    pipeline = Pipeline.query.filter_by(org_id=org.id).order_by(Pipeline.id.desc()).first()
    assert pipeline.stages[0].name == first
    assert [s.kind for s in pipeline.stages][-2:] == ["won", "lost"] and pipeline.stages[-2].name == won


def test_empty_list_offers_the_three_templates(client):
    org = factories.make_org(templates=[])
    client.post("/auth/login", data={"email": factories.user(org).email, "password": factories.PASSWORD})
    page = client.get("/admin/pipelines").get_data(as_text=True)
    assert "Start with a pipeline" in page
    for name in ("B2B sales", "Article five-stage", "Insurance agency"):
        assert f"Use this template<span class=\"visually-hidden\">: {name}</span>" in page


def test_blank_pipeline_gets_open_won_and_lost_stages(client, org, login_as):
    login_as("admin")
    response = client.post("/admin/pipelines", data={"name": "Partnerships"})
    assert response.status_code == 302
    pipeline = Pipeline.query.filter_by(org_id=org.id, name="Partnerships").one()
    assert [s.kind for s in pipeline.stages] == ["open", "won", "lost"]


def test_blank_pipeline_without_a_name_explains_and_writes_nothing(client, org, login_as):
    login_as("admin")
    before = Pipeline.query.count()
    response = client.post("/admin/pipelines", data={"name": "   "})
    assert response.status_code == 422
    assert "Pipeline name is required" in response.get_data(as_text=True)
    assert Pipeline.query.count() == before


def test_unknown_template_is_refused(client, org, login_as):
    login_as("admin")
    before = Pipeline.query.count()
    response = client.post("/admin/pipelines", data={"template": "nope"})
    assert response.status_code == 422 and "Unknown template" in response.get_data(as_text=True)
    assert Pipeline.query.count() == before


def test_rename_set_skipping_and_handoff_owner(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    manager = factories.user(org, "manager")
    response = client.post(f"/admin/pipelines/{pipeline.id}", data={
        "name": "Agency deals", "allow_skip": "y", "handoff_user_id": str(manager.id)})
    assert response.status_code == 302
    pipeline = Pipeline.query.get(pipeline.id)
    assert (pipeline.name, pipeline.allow_skip, pipeline.handoff_user_id) == ("Agency deals", True, manager.id)
    client.post(f"/admin/pipelines/{pipeline.id}", data={"name": "Agency deals", "handoff_user_id": ""})
    pipeline = Pipeline.query.get(pipeline.id)
    assert pipeline.allow_skip is False and pipeline.handoff_user_id is None


def test_handoff_owner_from_another_org_is_refused(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    stranger = factories.user(factories.make_org(), "rep")
    response = client.post(f"/admin/pipelines/{pipeline.id}", data={
        "name": "Renamed", "handoff_user_id": str(stranger.id)})
    assert response.status_code == 422
    assert "must be an active user" in response.get_data(as_text=True)
    assert Pipeline.query.get(pipeline.id).name == "Article five-stage"


def test_rename_with_huge_name_is_refused(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    response = client.post(f"/admin/pipelines/{pipeline.id}", data={"name": "x" * 5000})
    assert response.status_code == 422 and "at most 120 characters" in response.get_data(as_text=True)
    assert Pipeline.query.get(pipeline.id).name == "Article five-stage"


def test_reorder_pipelines_with_up_and_down(client, org, login_as):
    login_as("admin")
    client.post("/admin/pipelines", data={"template": "b2b"})
    names = lambda: [p.name for p in Pipeline.query.filter_by(org_id=org.id).order_by(Pipeline.position)]  # noqa: E731
    assert names() == ["Article five-stage", "B2B sales"]
    b2b = Pipeline.query.filter_by(org_id=org.id, name="B2B sales").one()
    client.post(f"/admin/pipelines/{b2b.id}/move", data={"direction": "up"})
    assert names() == ["B2B sales", "Article five-stage"]
    client.post(f"/admin/pipelines/{b2b.id}/move", data={"direction": "down"})
    assert names() == ["Article five-stage", "B2B sales"]


def test_archive_and_restore_pipeline(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    client.post(f"/admin/pipelines/{pipeline.id}/archive", data={"archived": "1"})
    assert Pipeline.query.get(pipeline.id).archived is True
    assert "Restore" in client.get("/admin/pipelines").get_data(as_text=True)
    client.post(f"/admin/pipelines/{pipeline.id}/archive", data={"archived": "0"})
    assert Pipeline.query.get(pipeline.id).archived is False


@pytest.mark.parametrize("role", ["rep", "manager"])
def test_non_admins_get_403_everywhere_in_admin(client, org, login_as, role):
    login_as(role)
    pipeline = factories.pipeline(org)
    stage = factories.stage(pipeline, "Discovery")
    for url in ["/admin/pipelines", f"/admin/pipelines/{pipeline.id}", f"/admin/pipelines/{pipeline.id}/criteria",
                f"/admin/pipelines/{pipeline.id}/fields", "/admin/users", "/admin/api-keys", "/admin/loss-reasons"]:
        assert client.get(url).status_code == 403, url
    assert client.post("/admin/pipelines", data={"name": "Sneaky"}).status_code == 403
    assert client.post(f"/admin/stages/{stage.id}/delete").status_code == 403
    assert Pipeline.query.filter_by(name="Sneaky").count() == 0
    assert Stage.query.get(stage.id) is not None


def test_another_orgs_pipeline_stage_and_field_are_404(client, org, login_as):
    login_as("admin")
    other = factories.make_org()
    pipeline = factories.pipeline(other)
    stage = factories.stage(pipeline, "Discovery")
    field = pipeline.fields[0]
    for url in [f"/admin/pipelines/{pipeline.id}", f"/admin/pipelines/{pipeline.id}/criteria",
                f"/admin/pipelines/{pipeline.id}/fields", f"/admin/stages/{stage.id}", f"/admin/fields/{field.id}"]:
        assert client.get(url).status_code == 404, url
    for url, data in [(f"/admin/pipelines/{pipeline.id}", {"name": "Mine now"}),
                      (f"/admin/pipelines/{pipeline.id}/archive", {"archived": "1"}),
                      (f"/admin/stages/{stage.id}/delete", {}),
                      (f"/admin/stages/{stage.id}/criteria", {"exit": str(field.id)}),
                      (f"/admin/fields/{field.id}/delete", {})]:
        assert client.post(url, data=data).status_code == 404, url
    assert Pipeline.query.get(pipeline.id).name == "Article five-stage" and not Pipeline.query.get(pipeline.id).archived
