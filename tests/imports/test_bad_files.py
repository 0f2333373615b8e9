"""Malformed uploads get a clear message on the upload screen and create nothing."""

import pytest

from app.models import Contact, ImportJob
from tests.imports.conftest import import_id_from, upload


@pytest.fixture(autouse=True)
def _manager(login_as):
    login_as("manager")


def _refused(response, status=422):
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert ImportJob.query.count() == 0
    return response.get_data(as_text=True)


def test_empty_file_is_refused_clearly(client):
    assert "“empty.csv” is empty." in _refused(upload(client, b"", "empty.csv"))


def test_header_without_rows_is_refused_clearly(client):
    assert "header row but no data rows" in _refused(upload(client, b"Name,Email\n\n", "h.csv"))


def test_spreadsheet_file_is_not_a_csv(client):
    page = _refused(upload(client, b"PK\x03\x04" + b"\x00" * 200, "contacts.xlsx"))
    assert "“contacts.xlsx” is not a CSV file. In your spreadsheet or CRM choose Export → CSV" in page


def test_binary_content_with_a_csv_name_is_refused(client):
    assert "contains binary data" in _refused(upload(client, b"Name,Email\n\x00\x01\x02,\x00\n", "x.csv"))


def test_no_file_chosen_says_so(client):
    response = client.post("/imports/", data={"kind": "contacts"}, content_type="multipart/form-data")
    assert "Choose a CSV file to upload." in _refused(response)


def test_deals_need_a_pipeline(client):
    assert "Choose the pipeline the deals go into." in _refused(upload(client, b"Deal Name\nX\n", "d.csv", "deals"))


def test_file_over_the_limit_is_refused_with_the_limit_named(client):
    body = b"Name,Email\n" + b"Someone,someone@example.com\n" * (50 * 1024 * 1024 // 28 + 10)
    assert len(body) > 50 * 1024 * 1024
    page = _refused(upload(client, body, "big.csv"), 413)
    assert "This file is over the 50 MB limit. Split it into smaller files" in page


def test_windows_1252_file_is_read_with_a_note(client, drain, org):
    content = "Name,Email\nJosé Peña,jose@example.com\n".encode("cp1252")
    import_id = import_id_from(upload(client, content, "excel.csv"))
    page = client.get(f"/imports/{import_id}/mapping").get_data(as_text=True)
    assert "was not UTF-8, so it was read as Windows-1252" in page and "José Peña" in page
    client.post(f"/imports/{import_id}/mapping", data={"column-0": "name", "column-1": "email"})
    drain()
    assert Contact.query.filter_by(org_id=org.id).one().name == "José Peña"


def test_semicolon_csv_with_bom_and_quoted_newlines_imports(client, drain, org):
    content = '\ufeffName;Email;Job Title\n"Li, Wei";wei@example.com;"Head of\nBuying"\n'.encode()
    import_id = import_id_from(upload(client, content, "semi.csv"))
    page = client.get(f"/imports/{import_id}/mapping").get_data(as_text=True)
    assert "<strong>Name</strong>" in page  # the BOM is not part of the first header
    client.post(f"/imports/{import_id}/mapping", data={"column-0": "name", "column-1": "email", "column-2": "title"})
    drain()
    contact = Contact.query.filter_by(org_id=org.id).one()
    assert (contact.name, contact.title) == ("Li, Wei", "Head of\nBuying")


def test_a_row_with_extra_cells_is_reported_not_half_imported(client, drain, org):
    content = b"Name,Email\nAna,ana@example.com,surprise\nBo,bo@example.com\n"
    import_id = import_id_from(upload(client, content, "x.csv"))
    client.post(f"/imports/{import_id}/mapping", data={"column-0": "name", "column-1": "email"})
    drain()
    assert [c.email for c in Contact.query.filter_by(org_id=org.id)] == ["bo@example.com"]
    report = client.get(f"/imports/{import_id}/errors.csv").get_data(as_text=True)
    assert "2,,has 3 cells but the header has 2; check for an unquoted comma,no" in report


@pytest.mark.parametrize("data", [
    "Name,Email\nPat,pat@x.example\n".encode("utf-16") + b"\x00",  # odd byte count: ends mid-character
    b"\xff\xfe" + "Name,Email\n".encode("utf-16-le") + b"\x00\xd8" + "Pat,p@x.example\n".encode("utf-16-le"),
], ids=["truncated", "lone-surrogate"])
def test_damaged_utf16_file_is_refused_with_a_clear_message(client, data):
    page = _refused(upload(client, data, "export.csv"))
    assert "“export.csv” starts like UTF-16 text but is damaged" in page
    assert "Save it again as “CSV UTF-8”" in page


def test_valid_utf16_file_with_accents_still_imports(client):
    response = upload(client, "Name,Email\nRenée Ünal,renee@x.example\n".encode("utf-16"), "export.csv")
    import_id_from(response)  # 303 to the mapping screen: read and accepted
    assert "Renée Ünal" in client.get(response.headers["Location"]).get_data(as_text=True)
