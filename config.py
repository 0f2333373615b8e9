"""Configuration read from the environment, with safe embedded defaults."""

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _secret_key() -> str:
    """Use SECRET_KEY, else a random key kept in instance/ so sessions survive restarts."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    INSTANCE_DIR.mkdir(exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'stagegate.db'}")
    # psycopg 3 is the driver we ship; accept the common postgres:// spellings.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _whole_number(raw: str, name: str) -> int:
    """An environment setting that must be 0 or more; empty is 0, anything else refuses to start."""
    if not raw.strip():
        return 0
    if not raw.strip().isdigit():
        raise ValueError(f"{name} must be a whole number (0 or more), not {raw!r}")
    return int(raw)


class Config:
    SECRET_KEY = _secret_key()
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # Empty REDIS_URL means the embedded in-process queue (fakeredis) and a worker thread.
    REDIS_URL = os.environ.get("REDIS_URL", "")
    SMTP_URL = os.environ.get("SMTP_URL", "")
    MAIL_FROM = os.environ.get("MAIL_FROM", "Stagegate <no-reply@stagegate.local>")
    # The public address of this installation: unsubscribe links in outreach email are built on it.
    BASE_URL = os.environ.get("BASE_URL", "http://localhost:5000")
    UNSUBSCRIBE_MAILTO = os.environ.get("UNSUBSCRIBE_MAILTO", "")  # default: unsubscribe@<BASE_URL host>
    # SMTP_URL, BASE_URL and UNSUBSCRIBE_MAILTO are defaults: an organisation's Settings → Email sending wins.
    MAIL_TEST_RATE_LIMIT = os.environ.get("MAIL_TEST_RATE_LIMIT", "10 per hour")  # test messages per organisation
    # Text messages (Settings → SMS wins over these): with no provider, texts are written to instance/sms_outbox/.
    SMS_PROVIDER = os.environ.get("SMS_PROVIDER", "")  # "" | twilio
    TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
    TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
    TWILIO_FROM = os.environ.get("TWILIO_FROM", "")
    SMS_PROVIDER_URL = os.environ.get("SMS_PROVIDER_URL", "")  # default https://api.twilio.com; tests: a local fake
    SMS_WEBHOOK_SECRET = os.environ.get("SMS_WEBHOOK_SECRET", "")  # else one per organisation (Settings → SMS)
    SMS_DEFAULT_REGION = os.environ.get("SMS_DEFAULT_REGION", "US")  # numbers typed without +country
    SMS_WEBHOOK_RATE_LIMIT = os.environ.get("SMS_WEBHOOK_RATE_LIMIT", "300 per minute")  # per address
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    WTF_CSRF_TIME_LIMIT = None
    MAX_CONTENT_LENGTH = 60 * 1024 * 1024
    # Empty: Redis when REDIS_URL is set (limits hold across processes), else in-process memory.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "")
    RATELIMIT_STORAGE_OPTIONS = {"socket_timeout": 2, "socket_connect_timeout": 2}
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "stagegate")
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True  # Redis down: count in this process, never fail a request
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute")
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600 per minute")
    API_AUTH_FAIL_LIMIT = os.environ.get("API_AUTH_FAIL_LIMIT", "20 per minute")  # 401s per client address
    BOARD_PAGE_SIZE = 20
    LEAD_FORM_RATE_LIMIT = os.environ.get("LEAD_FORM_RATE_LIMIT", "20 per minute;200 per hour")  # per address
    LEAD_FORM_VIEW_LIMIT = os.environ.get("LEAD_FORM_VIEW_LIMIT", "120 per minute")
    # The deal room's public pages (/r/<token>), per address: views, and confirmations posted.
    ROOM_VIEW_LIMIT = os.environ.get("ROOM_VIEW_LIMIT", "120 per minute")
    ROOM_POST_LIMIT = os.environ.get("ROOM_POST_LIMIT", "20 per minute;200 per hour")
    LEAD_FORM_MIN_SECONDS = float(os.environ.get("LEAD_FORM_MIN_SECONDS", "3"))  # faster is a bot
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are believed; 0: none, the
    # headers are ignored (anyone can send them) and every visitor is the address that connected.
    TRUSTED_PROXIES = _whole_number(os.environ.get("TRUSTED_PROXIES", ""), "TRUSTED_PROXIES")
    PASSWORD_HASH_METHOD = "scrypt"  # Werkzeug's memory-hard default
    # Tenant admins may point Stagegate at hosts (IMAP, SMTP relay, webhooks): only public ones
    # unless the installation allows internal hosts (app/netguard.py).
    ALLOW_INTERNAL_HOSTS = os.environ.get("ALLOW_INTERNAL_HOSTS", "0") == "1"
    WEBHOOK_TIMEOUT = float(os.environ.get("WEBHOOK_TIMEOUT", "10"))  # seconds per webhook delivery
    EMBEDDED_WORKER = False  # the run command turns it on; only one process may run it
    TESTING = False


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = _database_url() if os.environ.get("DATABASE_URL") else "sqlite://"
    WTF_CSRF_ENABLED = False
    # Tests only: a cheap hash keeps hundreds of sign-ups fast; never use this in production.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    RATELIMIT_ENABLED = True
    LOGIN_RATE_LIMIT = "1000 per minute"
    API_RATE_LIMIT = "10000 per minute"
    API_AUTH_FAIL_LIMIT = "10000 per minute"  # schemathesis tries missing and wrong keys on purpose
    LEAD_FORM_MIN_SECONDS = 0  # tests that check the minimum time set it themselves
    ALLOW_INTERNAL_HOSTS = True  # the suite's servers listen on loopback; the guard's tests turn it off
    BASE_URL = "https://stagegate.test"  # an https public address (real sending needs one); never resolved
