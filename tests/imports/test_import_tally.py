"""A CSV import of deals (the background job's inserts) keeps the board's column totals exact."""

from app.models import Deal
from tests import factories
from tests.imports.conftest import import_id_from, mapping_form, sample, upload
from tests.tally_check import assert_board_totals_exact, grouped_deals, tally_rows


def test_imported_deals_are_in_the_boards_column_totals(client, org, login_as, sam, drain):
    manager = login_as("manager")
    pipeline = factories.pipeline(org)
    factories.make_deal(org, title="Already here", amount="500.25", owner=sam)
    import_id = import_id_from(upload(client, sample("pipedrive_deals.csv"), "deals.csv", "deals", pipeline))
    page = client.get(f"/imports/{import_id}/mapping").get_data(as_text=True)
    assert client.post(f"/imports/{import_id}/mapping", data=mapping_form(page)).status_code == 303
    drain()
    assert Deal.query.filter_by(org_id=org.id).count() == 5  # four imported, one already there
    assert_board_totals_exact(client, pipeline, (sam.id, manager.id))
    assert tally_rows() == grouped_deals()
