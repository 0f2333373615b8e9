"""People and API keys: the admin's rules for adding, changing and revoking them."""

from app.auth.service import AccountError, check_password, create_api_key, create_user, end_sessions
from app.errors import Invalid
from app.extensions import db
from app.ids import parse_id
from app.models import ROLES, ApiKey, User, utcnow


def __init__(self, message: str, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


def org_users(org_id: int) -> list[User]:
    """Return the organisation's users, active first, then by name."""
    return User.query.filter_by(org_id=org_id).order_by(User.active.desc(), User.name).all()


def add_user(org, email, name, role, password) -> User:
    """Add a person to the organisation with a role and an initial password."""
    try:
        return create_user(org, email, name, role, password)
    except AccountError as exc:
        raise Invalid(exc.fields, "Please correct the highlighted fields.") from None


def _other_active_admins(user: User) -> int:
    return User.query.filter(User.org_id == user.org_id, User.id != user.id,
                             User.role == "admin", User.active.is_(True)).count()


def change_role(actor: User, user: User, role: str) -> User:
    """Give `user` another role; nobody demotes themselves or the last admin."""
    if role not in ROLES:
        raise Invalid({"role": "must be admin, manager or rep"}, "Choose admin, manager or rep.")
    if role != "admin" and user.role == "admin":
        if user.id == actor.id:
            raise Invalid(message="You cannot remove your own admin role. Ask another admin to do it.")
        if user.active and _other_active_admins(user) == 0:
            raise Invalid(message=f"{user.name} is the last admin. Make someone else an admin first.")
    user.role = role
    db.session.commit()
    return user


def set_active(actor: User, user: User, active: bool) -> User:
    """Deactivate (cannot sign in; history stays) or reactivate a user."""
    if not active:
        if user.id == actor.id:
            raise Invalid(message="You cannot deactivate yourself. Ask another admin to do it.")
        if user.role == "admin" and _other_active_admins(user) == 0:
            raise Invalid(message=f"{user.name} is the last admin. Make someone else an admin first.")
    if user.active and not active:
        end_sessions(user, commit=False)  # signed out now, and still out if reactivated later
    user.active = bool(active)
    db.session.commit()
    return user


def rename(user: User, name) -> User:
    """Give a person their name (users added from the command line may have only an email)."""
    name = str(name or "").strip()
    if not name:
        raise Invalid({"name": "is required"}, "Type the person's name.")
    if len(name) > 120:
        raise Invalid({"name": "must be at most 120 characters"}, "That name is too long.")
    user.name = name
    db.session.commit()
    return user


def reset_password(user: User, password) -> User:
    """Set a new password chosen by the admin; the user's sessions end and they sign in with it."""
    try:
        check_password(password)
    except AccountError as exc:
        raise Invalid(exc.fields, "Please choose another password.") from None
    user.set_password(password)
    end_sessions(user)
    return user


def org_api_keys(org_id: int) -> list[ApiKey]:
    """Return the organisation's API keys, newest first."""
    return ApiKey.query.filter_by(org_id=org_id).order_by(ApiKey.created_at.desc(), ApiKey.id.desc()).all()


def create_key(org, user_id, name) -> tuple[str, ApiKey]:
    """Create an API key acting as an active user; return the raw key (shown once) and its row."""
    user_id = parse_id(user_id)
    user = db.session.get(User, user_id) if user_id else None
    if user is None or user.org_id != org.id or not user.active:
        raise Invalid({"user_id": "must be an active user"}, "Choose an active user of your organisation.")
    try:
        return create_api_key(user, name)
    except AccountError as exc:
        raise Invalid(exc.fields, "Please correct the highlighted fields.") from None


def revoke_key(key: ApiKey) -> ApiKey:
    """Revoke an API key: requests with it are refused from now on."""
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.commit()
    return key
