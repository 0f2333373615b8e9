"""Shell commands: flask create-org, create-user, create-api-key, seed-demo."""

import click
from flask import Flask

from app.auth.service import AccountError, create_api_key, create_organization, create_user
from app.models import Organization, User
from app.pipelines.catalog import TEMPLATES


def _fail(message: str):
    raise click.ClickException(message)


def _errors(exc: AccountError) -> str:
    return "; ".join(f"{field} {message}" for field, message in exc.fields.items())


def register_cli(app: Flask) -> None:
    @app.cli.command("create-org")
    @click.option("--name", required=True, help="Organisation name.")
    @click.option("--admin-email", required=True, help="The first admin's email (the login).")
    @click.option("--password", required=True, help="The first admin's password (8+ characters).")
    @click.option("--template", "templates", multiple=True, type=click.Choice(sorted(TEMPLATES)),
                  help="Create a pipeline from this template (repeatable).")
    def create_org(name, admin_email, password, templates):
        """Create an organisation with its first admin; print its slug last."""
        try:
            org = create_organization(name, admin_email, password, templates=templates, buyer_confirms=True)
        except AccountError as exc:
            _fail(_errors(exc))
        click.echo(f"Created organisation {org.name!r} with admin {admin_email.strip().lower()}.")
        click.echo(org.slug)

    @app.cli.command("create-user")
    @click.option("--org", "slug", required=True, help="Organisation slug.")
    @click.option("--email", required=True)
    @click.option("--role", required=True, type=click.Choice(["admin", "manager", "rep"]))
    @click.option("--password", required=True)
    @click.option("--name", default="")
    def create_user_cmd(slug, email, role, password, name):
        """Add a user to an organisation."""
        org = Organization.query.filter_by(slug=slug).first() or _fail(f"No organisation with slug {slug!r}.")
        try:
            user = create_user(org, email, name, role, password)
        except AccountError as exc:
            _fail(_errors(exc))
        click.echo(f"Created {user.role} {user.email} in {org.slug}.")

    @app.cli.command("create-api-key")
    @click.option("--org", "slug", required=True, help="Organisation slug.")
    @click.option("--user", "email", required=True, help="Email of the user the key acts as.")
    @click.option("--name", default="CLI key")
    def create_api_key_cmd(slug, email, name):
        """Create an API key; print it once, alone on the last line."""
        org = Organization.query.filter_by(slug=slug).first() or _fail(f"No organisation with slug {slug!r}.")
        user = User.query.filter_by(org_id=org.id, email=email.strip().lower()).first()
        if user is None or not user.active:
            _fail(f"No active user {email!r} in {slug!r}.")
        raw, _ = create_api_key(user, name)
        click.echo(f"API key for {user.email} in {org.slug} (shown once; store it now):")
        click.echo(raw)

    @app.cli.command("seed-demo")
    def seed_demo_cmd():
        """Create the demo organisation if it does not exist; print its login."""
        from app.seed import DEMO_ADMIN, DEMO_PASSWORD, seed_demo

        org, created = seed_demo()
        click.echo(("Created" if created else "Kept") + f" demo organisation {org.name!r}.")
        click.echo(f"Sign in as {DEMO_ADMIN} / {DEMO_PASSWORD}")
        if getattr(org, "demo_room_link", ""):
            click.echo(f"A buyer's view of a deal room (no sign-in): {org.demo_room_link}")

    from app.tasks import cli as tasks_cli

    tasks_cli.register(app)
