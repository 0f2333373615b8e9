"""Contacts and companies over HTTP: create, edit, search, pages, detail, tenancy and roles."""

from app.contacts.service import save_contact
from app.extensions import db
from app.models import Company, Contact
from tests import factories


def test_create_contact_with_new_company_then_see_it_on_both_pages(client, org, login_as):
    login_as("rep")
    response = client.post("/contacts/new", data={"name": "Pat Buyer", "email": "Pat@Buyer.example.com",
                                                  "phone": "+1 555 0100", "title": "CFO", "company": "Buyer Inc",
                                                  "lead_status": "working"})
    assert response.status_code == 302
    contact = Contact.query.filter_by(org_id=org.id).one()
    assert contact.email == "pat@buyer.example.com" and contact.company.name == "Buyer Inc"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Pat Buyer" in page and "CFO" in page and "Buyer Inc" in page
    company_page = client.get(f"/contacts/companies/{contact.company_id}").get_data(as_text=True)
    assert "Pat Buyer" in company_page


def test_bad_contact_input_is_explained_beside_the_field_and_nothing_saved(client, org, login_as):
    admin = login_as("admin")
    save_contact(admin, {"email": "taken@example.com"})
    response = client.post("/contacts/new", data={"name": "X", "email": "not an email", "lead_status": "new"})
    assert response.status_code == 422
    assert "Email must be an email address like name@example.com." in response.get_data(as_text=True)
    response = client.post("/contacts/new", data={"email": "TAKEN@example.com", "lead_status": "new"})
    assert response.status_code == 422 and "belongs to another contact already" in response.get_data(as_text=True)
    assert Contact.query.count() == 1


def test_a_nul_or_a_broken_character_in_a_name_is_explained_and_nothing_saved(client, org, login_as):
    login_as("rep")
    for name in ("Pat\x00Buyer", "Pat \ufffd Buyer"):  # U+FFFD: what a page sent in another encoding decodes to
        response = client.post("/contacts/new", data={"name": name, "email": "pat@buyer.example.com",
                                                      "lead_status": "new"})
        assert response.status_code == 422
        assert "contains characters that are not text" in response.get_data(as_text=True)
        response = client.post("/contacts/companies/new", data={"name": name})
        assert response.status_code == 422
        assert "contains characters that are not text" in response.get_data(as_text=True)
    assert Contact.query.count() == 0 and Company.query.count() == 0


def test_edit_contact_keeps_company_and_rejects_a_bad_status(client, org, login_as):
    rep = login_as("rep")
    contact = save_contact(rep, {"name": "Old", "email": "old@example.com", "company": "Keep Co"})
    form = client.get(f"/contacts/{contact.id}/edit").get_data(as_text=True)
    assert 'value="Keep Co"' in form
    response = client.post(f"/contacts/{contact.id}/edit", data={"name": "New Name", "email": "old@example.com",
                                                                 "company": "Keep Co", "lead_status": "qualified"})
    assert response.status_code == 302
    db.session.expire_all()
    assert (contact.name, contact.lead_status, contact.company.name) == ("New Name", "qualified", "Keep Co")
    assert Company.query.count() == 1


def test_rep_cannot_edit_a_colleagues_contact_but_a_manager_can(client, org, login_as):
    manager = factories.user(org, "manager")
    contact = save_contact(manager, {"name": "Mine", "email": "mine@example.com"})
    login_as("rep")
    response = client.post(f"/contacts/{contact.id}/edit", data={"name": "Hijack", "email": "mine@example.com",
                                                                 "lead_status": "new"})
    assert response.status_code == 303
    db.session.expire_all()
    assert contact.name == "Mine"
    assert "Edit</a>" not in client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    login_as("admin")
    client.post(f"/contacts/{contact.id}/edit", data={"name": "Fixed", "email": "mine@example.com",
                                                      "lead_status": "new"})
    db.session.expire_all()
    assert contact.name == "Fixed"


def test_search_matches_name_email_or_company_case_insensitively(client, org, login_as):
    admin = login_as("admin")
    save_contact(admin, {"name": "Alice Ames", "email": "alice@alpha.example.com"})
    save_contact(admin, {"name": "Bob Brown", "email": "bob@example.com", "company": "Zeta Widgets"})
    save_contact(admin, {"name": "Carol", "email": "carol@example.com"})
    names = lambda q: [n for n in ("Alice Ames", "Bob Brown", "Carol")  # noqa: E731
                       if n in client.get("/contacts/", query_string={"q": q}).get_data(as_text=True)]
    assert names("ALICE") == ["Alice Ames"]
    assert names("Alpha.EXAMPLE") == ["Alice Ames"]
    assert names("zeta") == ["Bob Brown"]
    assert names("%") == []
    partial = client.get("/contacts/?q=carol", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert partial.startswith('<section id="contact-list"') and "<html" not in partial
    assert "No contact matches “nobody”" in client.get("/contacts/?q=nobody").get_data(as_text=True)


def test_contact_list_pages_fifty_at_a_time(client, org, login_as):
    login_as("admin")
    db.session.add_all([Contact(org_id=org.id, name=f"Person {i:03d}", email=f"p{i}@example.com") for i in range(120)])
    db.session.commit()
    first = client.get("/contacts/").get_data(as_text=True)
    assert "Person 000" in first and "Person 049" in first and "Person 050" not in first
    assert "page=2" in first and "Next" in first
    third = client.get("/contacts/?page=3").get_data(as_text=True)
    assert "Person 100" in third and "Person 119" in third and "Next →" not in third
    assert client.get("/contacts/?page=abc").status_code == 200


def test_company_crud_search_and_duplicate_name(client, org, login_as):
    login_as("rep")
    response = client.post("/contacts/companies/new", data={"name": "Initech", "industry": "Software",
                                                            "size": "51-200", "website": "initech.example.com"})
    assert response.status_code == 302
    company = Company.query.one()
    response = client.post("/contacts/companies/new", data={"name": "initech"})
    assert response.status_code == 422 and "already a company here" in response.get_data(as_text=True)
    response = client.post("/contacts/companies/new", data={"name": ""})
    assert response.status_code == 422 and Company.query.count() == 1
    client.post(f"/contacts/companies/{company.id}/edit", data={"name": "Initech", "industry": "Fintech"})
    db.session.expire_all()
    assert company.industry == "Fintech"
    assert "Initech" in client.get("/contacts/companies/?q=FINTECH").get_data(as_text=True)
    assert "Initech" not in client.get("/contacts/companies/?q=retail").get_data(as_text=True)


def test_another_organisations_contacts_and_companies_are_not_found(client, org, login_as):
    other = factories.make_org()
    theirs = save_contact(factories.user(other), {"name": "Secret", "email": "secret@example.com",
                                                  "company": "Hidden Co"})
    login_as("admin")
    for url in (f"/contacts/{theirs.id}", f"/contacts/{theirs.id}/edit",
                f"/contacts/companies/{theirs.company_id}", f"/contacts/companies/{theirs.company_id}/edit"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/contacts/{theirs.id}/activities", data={"kind": "note", "body": "x"}).status_code == 404
    assert "Secret" not in client.get("/contacts/?q=secret").get_data(as_text=True)
    # The same email can exist in two organisations.
    assert client.post("/contacts/new", data={"email": "secret@example.com", "lead_status": "new"}).status_code == 302


def test_pages_need_sign_in(client, org):
    for url in ("/contacts/", "/contacts/new", "/contacts/companies/", "/imports/"):
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"], url
