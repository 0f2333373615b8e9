from tests import factories
from tests.browser.conftest import PHONE, screenshot


def test_sign_in_with_the_form_lands_on_the_board(new_page, org):
    page = new_page(factories.user(org, "rep"))
    assert "/deals/board/" in page.url
    assert page.get_by_role("heading", name="Article five-stage").is_visible()


def test_wrong_password_shows_the_error_beside_the_field_on_a_phone(new_page, org):
    page = new_page(viewport=PHONE)
    page.goto("/auth/login")
    page.get_by_label("Email").fill(factories.user(org).email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_text("Email or password is not right.").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    screenshot(page, "login-phone")
