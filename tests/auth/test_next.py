"""Every redirect to a target the user gave stays on this site: the sign-in's `next`, the
sequence actions' `next` field, the task actions' Referer. Known open-redirect bypasses each
end on the default page; this site's own paths (with their queries) are followed."""

import pytest

from app.extensions import db
from app.models import Task
from tests import factories

EVIL = "evil.example.com"
BYPASSES = [
    f"/\t/{EVIL}/x",  # the issue's: a browser drops the tab and reads //evil.example.com/x
    f"/\n/{EVIL}", f"/\r/{EVIL}", f"\t//{EVIL}", f" //{EVIL}", f"/ /{EVIL}",
    f"//{EVIL}", f"///{EVIL}", f"////{EVIL}/", f"//{EVIL}@localhost/",
    f"/\\{EVIL}", f"\\\\{EVIL}", f"/\\/{EVIL}", f"\\/{EVIL}",
    f"/%09/{EVIL}", f"/%0a/{EVIL}", f"/%2F%2F{EVIL}", f"/%2f/{EVIL}", f"%2F%2F{EVIL}", f"/%5C{EVIL}",
    f"/%5c%5c{EVIL}", f"/%252F%252F{EVIL}", f"/%25252F%25252F{EVIL}", f"/.//{EVIL}", f"/%2e%2e//{EVIL}",
    f"/./%2F{EVIL}", "/%0d%0aSet-Cookie:%20stolen=1",
    f"https://{EVIL}/", f"http:{EVIL}", f"https:/{EVIL}", f"http://localhost@{EVIL}/", f"HTTPS://{EVIL}",
    "javascript:alert(document.domain)", "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>",
    f"\x00//{EVIL}", f"/\x00/{EVIL}", f"/\x7f/{EVIL}", f"/\u3000/{EVIL}", f"/\u2028/{EVIL}", f"/\u00a0/{EVIL}",
    f"/\uff0f{EVIL}", EVIL, "/" + "a" * 3000,
]
OWN_PAGES = ["/admin/pipelines", "/deals/12?tab=history", "/contacts/?q=john%20smith", "/reports/3?preset=last_90",
             "/tasks/?owner=all&status=open#today"]


def sign_in(client, org, target):
    client.post("/auth/logout")
    return client.post("/auth/login", query_string={"next": target},
                       data={"email": factories.user(org).email, "password": factories.PASSWORD})


@pytest.mark.parametrize("target", BYPASSES, ids=[repr(b)[:48] for b in BYPASSES])
def test_a_sign_in_never_redirects_to_another_site(client, org, target):
    response = sign_in(client, org, target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", OWN_PAGES)
def test_a_sign_in_returns_to_the_page_of_this_site_it_was_asked_for(client, org, target):
    response = sign_in(client, org, target)
    assert response.status_code == 302 and response.headers["Location"] == target


def test_a_signed_in_visit_to_the_sign_in_page_follows_next_the_same_way(client, org, login_as):
    login_as("rep")
    assert client.get("/auth/login", query_string={"next": f"/%09/{EVIL}"}).headers["Location"] == "/"
    assert client.get("/auth/login", query_string={"next": "/tasks/"}).headers["Location"] == "/tasks/"


def test_a_page_that_needs_signing_in_comes_back_after_it(client, org):
    first = client.get("/reports/?preset=last_30")
    assert first.status_code == 302 and "/auth/login?next=" in first.headers["Location"]
    response = client.post(first.headers["Location"],
                           data={"email": factories.user(org).email, "password": factories.PASSWORD})
    assert response.headers["Location"] == "/reports/?preset=last_30"


@pytest.mark.parametrize("target", [f"//{EVIL}", f"/%2F%2F{EVIL}", f"/\\{EVIL}", f"https://{EVIL}/"])
def test_a_sequence_action_goes_back_only_to_this_site(client, org, login_as, target):
    from app.sequences import service
    from tests.factories import make_contact
    from tests.sequences.conftest import make_sequence

    rep = login_as("rep")
    enrollment = service.enroll(make_sequence(org), make_contact(org), rep)
    response = client.post(f"/sequences/enrollments/{enrollment.id}/stop", data={"next": target})
    assert response.headers["Location"] == f"/sequences/{enrollment.sequence_id}"
    enrollment = service.enroll(make_sequence(org, name="Second"), make_contact(org, "b@acme.example"), rep)
    own = f"/contacts/{enrollment.contact_id}"
    assert client.post(f"/sequences/enrollments/{enrollment.id}/stop", data={"next": own}).headers["Location"] == own


@pytest.mark.parametrize("referer", [f"https://{EVIL}/tasks/", f"http://localhost//{EVIL}/",
                                     f"http://localhost/%2F%2F{EVIL}", "javascript:alert(1)"])
def test_a_task_action_goes_back_to_the_referring_page_only_on_this_site(client, org, login_as, referer):
    rep = login_as("rep")
    task = Task(org_id=org.id, owner_id=rep.id, title="Call Pat")
    db.session.add(task)
    db.session.commit()
    response = client.post(f"/tasks/{task.id}/done", headers={"Referer": referer})
    assert response.status_code == 302 and response.headers["Location"] == "/tasks/"
    response = client.post(f"/tasks/{task.id}/reopen", headers={"Referer": "http://localhost/deals/7?tab=tasks"})
    assert response.headers["Location"] == "/deals/7?tab=tasks"

