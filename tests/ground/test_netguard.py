"""The host guard: an admin's IMAP host, SMTP relay or webhook URL may not reach the internal network."""

import pytest

from app.netguard import HostRefused, check_host, is_public


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "224.0.0.1", "not an address",
])
def test_internal_and_odd_addresses_are_not_public(address):
    assert not is_public(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "::ffff:93.184.216.34"])
def test_public_addresses_are_public(address):
    assert is_public(address)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "10.0.0.5", "169.254.169.254", "[::1]".strip("[]")])
def test_internal_hosts_are_refused_unless_allowed(app, host):
    with pytest.raises(HostRefused) as refused:
        check_host(host, 993, allow_internal=False)
    assert "private" in str(refused.value) and "127.0.0.1" not in str(refused.value).replace(host, "")
    assert check_host(host, 993, allow_internal=True)


def test_the_installation_setting_decides_by_default(app):
    app.config["ALLOW_INTERNAL_HOSTS"] = False
    try:
        with pytest.raises(HostRefused):
            check_host("127.0.0.1", 25)
    finally:
        app.config["ALLOW_INTERNAL_HOSTS"] = True
    assert check_host("127.0.0.1", 25) == ["127.0.0.1"]


def test_a_name_that_does_not_resolve_is_refused_in_words(app):
    with pytest.raises(HostRefused) as refused:
        check_host("no-such-host.invalid", 993)
    assert "could not be found" in str(refused.value)
