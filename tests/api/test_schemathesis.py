"""schemathesis (a tool nobody here wrote) fuzzes every operation of GET /api/v1/openapi.json
against the app in process: examples, coverage and fuzzing phases per operation, then the
stateful phase along the document's links; every check, response schema conformance included.
It reads the document at run time, so operations that later join the document join the run."""

import os
import re
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.config import SchemathesisConfig
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.models import ApiKey, hash_api_key
from config import TestConfig
from tests import factories

# The suite's seed; SCHEMATHESIS_SEED=<n> runs the same test with another one (as the issues do).
SEED = int(os.environ.get("SCHEMATHESIS_SEED") or 20261127)
MAX_EXAMPLES = 25  # per operation and phase: about a minute per engine on 2 cores
STATEFUL_STEPS = 6
STATEFUL_EXAMPLES = 30
# A fixed key (stored hashed for each test's admin) so schemathesis knows the valid credential and
# can also try invalid ones (its ignored_auth check).
KEY = "sg_schemathesis-fixed-test-key-0123456789"


# What a request that the document allows may still be refused for: facts of the organisation's
# own data (users, stages, loss reasons, the deal's state) that no schema can know. Any other
# 422 `invalid` about a documented field, or any 400, means the document promised too much.
ABOUT_THE_DATA = re.compile("|".join([
    r"is not (a|an active) user of this organisation", r"only a manager can", r"is not an active stage",
    r"is not a stage of this deal's pipeline", r"is archived", r"is the deal's current stage",
    r"reopen the deal", r"is not one of this organisation's loss reasons", r"must be in the past",
    r"must not be before", r"is not a contact of this organisation", r"is not a company of this organisation",
    r"is not a stage of this pipeline", r"are not active fields of this pipeline", r"a Lost stage takes no facts",
    r"only an open stage can", r"a buyer's tick cannot fill it",
    # a webhook URL's host is looked up in DNS (and refused when it is not there or is internal)
    r"could not be found \(check the spelling\)", r"is a local or private network address",
    r"an organisation has at most \d+ webhooks",
]))


# How two values of one request relate, which JSON Schema cannot state (it has no comparison between
# properties): each rule is written in its operation's description, and only its own field, with its
# own message, is let through. A new entry needs the same: a real relation, stated in the document.
BETWEEN_FIELDS = {
    "to": re.compile(r"^must be after from \(the period is \[from, to\)"),  # GET /metrics
    "send_end_hour": re.compile(r"^must be after the window's start$"),  # POST /sequences (default start 8)
    "part": re.compile(r"^must be one of: [a-z_, ]+ \(for [a-z_]+\)$"),  # GET /metrics/deals: the metric's parts
    "close": re.compile(r"^only narrows the forecast$"),  # GET /metrics/deals: close and category are the
    "category": re.compile(r"^only narrows the forecast$"),  # forecast's (said in the parameters' text)
    # PUT /pipelines/{id}/stages/{id}/requirements: a buyer's fact is one of entry or exit.
    "buyer": re.compile(r"^a fact the buyer confirms must also be required to enter or to leave$"),
}


@schemathesis.serializer("message/rfc822")
def raw_message(ctx, value):
    """POST /inbound-email takes the raw message: a generated string is sent as its bytes (anything
    else, from the negative phases, as its text, which is no email either)."""
    if isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else str(value)).encode("utf-8", "surrogatepass")


def _top_level(field: str) -> str:
    """The body key an error is about: `steps[0].subject` is about `steps`, `facts.budget` about `facts`."""
    return re.split(r"[.\[]", field, maxsplit=1)[0]


@schemathesis.check
def schema_valid_input_is_refused_only_for_the_data(ctx, response, case):
    """Sharper than positive_data_acceptance (which must allow 422, the gate's answer): a request
    the document allows gets no 400 and no 422 `invalid` about the shape of a field it sent."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code == 400:
        raise AssertionError(f"The document allows this request, the API says it is malformed: {response.text}")
    if response.status_code != 422 or response.json().get("error") != "invalid":
        return None
    sent = {*(case.body if isinstance(case.body, dict) else {}), *(case.query or {})}
    shape = {name: message for name, message in response.json()["fields"].items()
             if _top_level(name) in sent and not ABOUT_THE_DATA.search(message)
             and not (name in BETWEEN_FIELDS and BETWEEN_FIELDS[name].search(message))}
    if shape:
        raise AssertionError(f"The document allows these values, the API refuses them: {shape}")
    return None


def config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "seed": SEED,
        "auth": {"openapi": {"bearerAuth": {"bearer": KEY}}},
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none", "deterministic": True},
        "checks": {"enabled": True,
                   # The gate (422 `gate`) and the organisation's data (see above) refuse valid shapes.
                   "positive_data_acceptance": {"expected-statuses": ["2xx", 401, 403, 404, 409, 422, 429]}},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True},
                   "fuzzing": {"enabled": True}, "stateful": {"enabled": True, "max-steps": STATEFUL_STEPS,
                                "generation": {"mode": "positive"}}},
    })


# The document as the app serves it. (schemathesis's lazy fixture loader relies on a pytest
# internal that pytest 9 removed, so the schema is loaded here and the suite's app is passed
# to each call.)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", create_app(TestConfig), config=config())


def _seed() -> None:
    """The same data from ids 1 up, on an empty database: an admin's key, a deal to read, edit and move,
    contact 1, sequence 1 and its enrollment 1 (so events, enrollments and reads reach real objects).

    Ids start at 1 on both engines (PostgreSQL's sequences are restarted), so the ids
    schemathesis tries first (1, the minimum) name real objects and reach past the 404s."""
    from app.extensions import limiter
    from app.sequences import service as sequences
    from tests.factories import make_contact
    from tests.sequences.conftest import make_sequence

    db.session.remove()
    if db.engine.dialect.name == "postgresql":
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    else:  # SQLite: an emptied table numbers its rows from 1 again
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(text(f'DELETE FROM "{table.name}"'))
    db.session.commit()
    limiter.reset()
    # B2B first (pipeline 1): its first stages ask nothing on entry, so generated deals get created.
    org = factories.make_org(templates=("b2b", "article"))
    admin = factories.user(org, "admin")
    factories.make_deal(org, owner=admin)
    contact = make_contact(org)
    sequences.enroll(make_sequence(org), contact, admin)
    db.session.add(ApiKey(org_id=org.id, user_id=admin.id, name="schemathesis", prefix=KEY[:10],
                          key_hash=hash_api_key(KEY)))
    db.session.commit()


# The operations the chains walk, named (not "all but"): a new operation elsewhere in the document must
# not shift which scenarios the 30 derandomized ones are (the per-operation test fuzzes every operation).
CHAINED = ["listPipelines", "listDeals", "createDeal", "getDeal", "updateDeal", "moveDeal", "listTransitions",
           "findContacts", "getContact", "createLead", "listSequences", "createSequence", "getSequence",
           "enrollContact", "getEnrollment"]


@pytest.fixture
def auth(app):
    """The seeded data (see _seed); the calls go to the suite's app."""
    _seed()
    return {"app": app}


@schema.parametrize()
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_keeps_the_documents_promise(case, auth):
    case.call_and_validate(**auth)


def test_chained_operations_keep_the_documents_promise(auth):
    seen = Counter()

    class Workflow(schema.include(operation_id=CHAINED).as_state_machine()):
        def setup(self):
            # Each scenario starts from the same data: what one chain created (a lead, a sequence)
            # must not change what the next one, replayed by Hypothesis, reaches (a flaky definition).
            _seed()

        def get_call_kwargs(self, case):
            return auth

        def after_call(self, response, case):
            super().after_call(response, case)
            seen[(case.operation.label, response.status_code)] += 1

    Workflow.run(settings=hypothesis_settings(
        max_examples=STATEFUL_EXAMPLES, stateful_step_count=STATEFUL_STEPS, deadline=None, database=None,
        derandomize=True, suppress_health_check=list(HealthCheck)))
    print(sorted(seen.items()))  # with -s: what the chains reached
    # The chains really ran: in each area, an id from an earlier answer reached an operation on that object.
    # (The same 30 scenarios now spread over three more areas, so for deals either of its two reads counts.)
    assert seen[("GET /deals/{deal_id}", 200)] or seen[("GET /deals/{deal_id}/transitions", 200)], seen
    assert seen[("GET /sequences/{sequence_id}", 200)], seen
    assert seen[("GET /contacts/{contact_id}", 200)], seen
