"""Import helpers: upload through the real routes (tests/conftest.py's `drain` runs the queued jobs)."""

import io
import re
from pathlib import Path

import pytest

from app.auth.service import create_user
from tests import factories

DATA = Path(__file__).parent / "data"

@pytest.fixture
def sam(org):
    """A rep whose name appears as the owner in the sample exports."""
    return create_user(org, "sam@seller.example.com", "Sam Seller", "rep", factories.PASSWORD)


def upload(client, content: bytes, filename="data.csv", kind="contacts", pipeline=None):
    data = {"kind": kind, "file": (io.BytesIO(content), filename)}
    if pipeline is not None:
        data["pipeline_id"] = str(pipeline.id)
    return client.post("/imports/", data=data, content_type="multipart/form-data")


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def import_id_from(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].split("/")[2])


def mapping_form(page: str) -> dict:
    """Read the mapping screen's selects as a browser would submit them (the preselected guesses)."""
    form = {}
    for name, options in re.findall(r'<select id="[^"]+" name="(column-\d+)">(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        form[name] = chosen.group(1) if chosen else ""
    return form


def guessed(page: str) -> dict:
    """Map each column header on the mapping screen to the target it is preselected to."""
    headers = re.findall(r'<label for="column-\d+"><strong>(.*?)</strong>', page)
    return dict(zip([h.replace("&amp;", "&") for h in headers], mapping_form(page).values(), strict=True))
