"""Small frictions a new user met (issue 18, item 8): the icon every browser asks for, and a
thank-you page that said "Thank you" twice."""

import re


def test_the_icon_browsers_ask_for_is_there_signed_in_or_not(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.headers["Location"].endswith("/static/favicon.svg")
    icon = client.get(response.headers["Location"])
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"


def test_the_public_form_names_its_icon_and_thanks_once(client, make_form, fill):
    form = make_form(thank_you="Thank you. We will be in touch shortly.")
    page = client.get(f"/f/{form.key}").get_data(as_text=True)
    assert 'rel="icon" href="/static/favicon.svg"' in page
    thanks = fill(form, f_email="ana@lima-dental.example", f_name="Ana").get_data(as_text=True)
    main = re.search(r"<main.*</main>", thanks, re.S).group(0)
    assert main.count("Thank you") == 1 and "<p>We will be in touch shortly</p>" in main
    other = make_form(name="Demo request", thank_you="We call you back within the hour.")
    thanks = fill(other, f_email="bo@lima-dental.example", f_name="Bo").get_data(as_text=True)
    assert "<p>We call you back within the hour.</p>" in thanks
