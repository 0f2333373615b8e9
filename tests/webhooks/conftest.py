"""Webhook fixtures: a real receiver on loopback, a subscription to it, and running the delivery sweep."""

from datetime import timedelta

import pytest

from app.models import utcnow
from app.webhooks import service
from app.webhooks.delivery import send_due
from tests import factories
from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver():
    endpoint = Receiver()
    yield endpoint
    endpoint.close()


@pytest.fixture
def short_timeout(app):
    before = app.config["WEBHOOK_TIMEOUT"]
    app.config["WEBHOOK_TIMEOUT"] = 0.5
    yield 0.5
    app.config["WEBHOOK_TIMEOUT"] = before


@pytest.fixture
def subscribe(org, receiver):
    """Subscribe `org` (as its admin) to `events` at the receiver; the receiver learns the secret."""

    def make(events=("deal.created",), url=None, in_org=None):
        hook, secret = service.create_webhook(factories.user(in_org or org, "admin"), url or receiver.url,
                                              list(events))
        receiver.secret = secret
        return hook

    return make


@pytest.fixture
def deliver():
    """Run the delivery sweep as of `after` from now (what the worker's tick does)."""

    def run(after=timedelta(0)):
        return send_due(utcnow() + after)

    return run
