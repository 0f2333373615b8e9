"""The security headers every response carries (a strict Content-Security-Policy: no inline scripts)."""

from app.htmx import add_vary

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
)


def security_headers(response):
    """Set the policy and its companions unless a view set its own (the public form widens form-action)."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]:
        response.headers.setdefault("X-Frame-Options", "DENY")  # the same for browsers without CSP 2
    return add_vary(response)
