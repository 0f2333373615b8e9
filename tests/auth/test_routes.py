from app.models import Organization, User
from tests import factories


def test_signup_creates_org_and_admin_and_signs_in(client):
    response = client.post("/auth/signup", data={
        "org_name": "Brightside Insurance", "name": "Bea Bright",
        "email": "Bea@Brightside.example.com", "password": "long-enough-pw",
    })
    assert response.status_code == 302
    org = Organization.query.filter_by(name="Brightside Insurance").one()
    admin = User.query.filter_by(org_id=org.id).one()
    assert admin.email == "bea@brightside.example.com" and admin.role == "admin"
    assert admin.password_hash != "long-enough-pw" and admin.check_password("long-enough-pw")
    assert client.get("/admin/pipelines").status_code == 200


def test_signup_with_short_password_and_taken_email_explains_and_writes_nothing(client, org):
    taken = factories.user(org, "admin").email
    response = client.post("/auth/signup", data={
        "org_name": "Dupe", "name": "D", "email": taken, "password": "short",
    })
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "8" in page and "characters" in page
    assert Organization.query.filter_by(name="Dupe").count() == 0


def test_login_with_wrong_password_says_so(client, org):
    response = client.post("/auth/login", data={"email": factories.user(org).email, "password": "nope-nope"})
    assert response.status_code == 422
    assert "Email or password is not right" in response.get_data(as_text=True)


def test_login_is_rate_limited(app, client, org):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        codes = [client.post("/auth/login", data={"email": "x@example.com", "password": "wrong-pw"}).status_code
                 for _ in range(5)]
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    assert codes[:3] == [422, 422, 422]
    assert codes[3] == 429


def test_next_redirect_stays_on_site(client, org):
    email = factories.user(org).email
    for target, expected in [("/admin/pipelines", "/admin/pipelines"),
                             ("https://evil.example.com/", "/"), ("//evil.example.com", "/"),
                             ("/\\evil.example.com", "/")]:
        client.post("/auth/logout")
        response = client.post(f"/auth/login?next={target}", data={"email": email, "password": factories.PASSWORD})
        assert response.status_code == 302
        assert response.headers["Location"] == expected, target


def test_deactivated_user_cannot_sign_in(client, org):
    from app.extensions import db

    rep = factories.user(org, "rep")
    rep.active = False
    db.session.commit()
    response = client.post("/auth/login", data={"email": rep.email, "password": factories.PASSWORD})
    assert response.status_code == 422


def test_session_cookie_is_httponly_and_samesite(client, org):
    response = client.post("/auth/login", data={"email": factories.user(org).email, "password": factories.PASSWORD})
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_require_login(client):
    response = client.get("/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
