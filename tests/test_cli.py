"""The shell commands, run for real through the Flask CLI runner."""

import pytest

from app.extensions import db
from app.models import ApiKey, Organization, Pipeline, User, hash_api_key
from tests import factories
from tests.api.conftest import row_counts


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args):
        result = runner.invoke(args=list(args))
        db.session.expire_all()
        return result

    return run


def test_create_org_with_article_template_prints_slug_last(cli):
    result = cli("create-org", "--name", "Brightside Insurance", "--admin-email", "Bea@Brightside.example.com",
                 "--password", "long-enough-pw", "--template", "article")
    assert result.exit_code == 0, result.output
    slug = result.output.strip().splitlines()[-1]
    org = Organization.query.filter_by(slug=slug).one()
    assert org.name == "Brightside Insurance"
    admin = User.query.filter_by(org_id=org.id).one()
    assert admin.email == "bea@brightside.example.com" and admin.role == "admin"
    pipeline = Pipeline.query.filter_by(org_id=org.id).one()
    assert pipeline.name == "Article five-stage"
    assert [s.name for s in pipeline.stages] == [
        "Qualified", "Discovery", "Proposal", "Negotiation", "Closed Won", "Closed Lost"]


def test_create_user_adds_a_user_with_a_role(cli, org):
    result = cli("create-user", "--org", org.slug, "--email", "New.Rep@Example.com", "--role", "rep",
                 "--password", "long-enough-pw")
    assert result.exit_code == 0, result.output
    user = User.query.filter_by(email="new.rep@example.com").one()
    assert user.org_id == org.id and user.role == "rep" and user.check_password("long-enough-pw")


def test_create_api_key_prints_a_working_key_and_stores_only_its_hash(cli, client, org):
    admin = factories.user(org)
    result = cli("create-api-key", "--org", org.slug, "--user", admin.email)
    assert result.exit_code == 0, result.output
    raw = result.output.strip().splitlines()[-1]
    assert raw.startswith("sg_") and " " not in raw
    key = ApiKey.query.one()
    assert key.key_hash == hash_api_key(raw) and key.user_id == admin.id
    assert raw not in {key.key_hash, key.prefix, key.name}
    response = client.get("/api/v1/pipelines", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert [p["name"] for p in response.json] == ["Article five-stage"]


def test_seed_demo_twice_keeps_the_same_rows(cli):
    first = cli("seed-demo")
    assert first.exit_code == 0, first.output
    after_first = row_counts()
    assert after_first["deal"] > 0 and after_first["stage_transition"] > after_first["deal"]
    second = cli("seed-demo")
    assert second.exit_code == 0, second.output
    assert "Kept" in second.output
    assert row_counts() == after_first


def test_seed_demo_prints_a_buyers_link_that_opens_a_room_with_work_waiting(cli, app):
    import re

    made = cli("seed-demo")
    link = re.search(r"A buyer's view of a deal room \(no sign-in\): (\S+)", made.output).group(1)
    page = app.test_client().get("/r/" + link.rsplit("/r/", 1)[1])
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Our CFO signs off on Thursdays." in text
    assert "waiting for the seller to accept it" in text and "Book a meeting" in text


@pytest.mark.parametrize("args, message", [
    (["create-user", "--org", "no-such-org", "--email", "x@example.com", "--role", "rep",
      "--password", "long-enough-pw"], "No organisation"),
    (["create-user", "--org", "{slug}", "--email", "{admin}", "--role", "rep", "--password", "long-enough-pw"],
     "already registered"),
    (["create-user", "--org", "{slug}", "--email", "x@example.com", "--role", "rep", "--password", "short"],
     "at least 8"),
    (["create-user", "--org", "{slug}", "--email", "x@example.com", "--role", "boss", "--password",
      "long-enough-pw"], "boss"),
    (["create-org", "--name", "Dupe", "--admin-email", "{admin}", "--password", "long-enough-pw"],
     "already registered"),
    (["create-org", "--name", "Shorty", "--admin-email", "s@example.com", "--password", "short"], "at least 8"),
    (["create-org", "--name", "Templ", "--admin-email", "t@example.com", "--password", "long-enough-pw",
      "--template", "crm9000"], "crm9000"),
    (["create-api-key", "--org", "no-such-org", "--user", "x@example.com"], "No organisation"),
    (["create-api-key", "--org", "{slug}", "--user", "nobody@example.com"], "No active user"),
])
def test_bad_input_exits_non_zero_with_a_clear_message_and_writes_nothing(cli, org, args, message):
    admin = factories.user(org)
    args = [a.format(slug=org.slug, admin=admin.email) for a in args]
    before = row_counts()
    result = cli(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert row_counts() == before
