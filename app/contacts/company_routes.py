from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import login_required

from app.contacts import bp
from app.contacts import service as contacts
from app.contacts.forms import CompanyForm
from app.contacts.routes import page_arg, show_errors
from app.csv_files import csv_lines
from app.errors import Invalid
from app.htmx import is_htmx
from app.models import Company
from app.tenancy import current_actor, get_or_404, role_required


@bp.route("/companies/")
@login_required
def companies():
    """List and search companies, 50 a page."""
    q = request.args.get("q", "")[:200]
    page = page_arg()
    items, has_more = contacts.search_companies(current_actor().org_id, q, page)
    context = dict(companies=items, has_more=has_more, q=q, page=page)
    if is_htmx():
        return render_template("contacts/_company_list.html", **context)
    return render_template("contacts/companies.html", **context)


@bp.route("/companies/new", methods=["GET", "POST"])
@login_required
def new_company():
    """Add a company."""
    form = CompanyForm()
    if form.validate_on_submit():
        try:
            company = contacts.save_company(current_actor(), form.data)
        except Invalid as exc:
            show_errors(form, exc.fields)
        else:
            flash(f"Added {company.name}.", "success")
            return redirect(url_for("contacts.company", company_id=company.id))
    status = 422 if request.method == "POST" else 200
    return render_template("contacts/company_form.html", form=form, company=None), status


@bp.route("/companies/<int:company_id>")
@login_required
def company(company_id):
    """Show a company with its contacts and deals."""
    company = get_or_404(Company, company_id)
    return render_template("contacts/company.html", company=company,
                           contacts=contacts.company_contacts(company), deals=contacts.company_deals(company))


@bp.route("/companies/<int:company_id>/edit", methods=["GET", "POST"])
@login_required
def edit_company(company_id):
    """Edit a company."""
    company = get_or_404(Company, company_id)
    form = CompanyForm(obj=company if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            contacts.save_company(current_actor(), form.data, company)
        except Invalid as exc:
            show_errors(form, exc.fields)
        else:
            flash("Saved.", "success")
            return redirect(url_for("contacts.company", company_id=company.id))
    status = 422 if request.method == "POST" else 200
    return render_template("contacts/company_form.html", form=form, company=company), status


@bp.route("/companies/export.csv")
@role_required("manager")
def export_companies():
    """Download every company as CSV."""
    rows = contacts.company_export_rows(current_actor().org_id)
    return Response(stream_with_context(csv_lines(contacts.COMPANY_EXPORT_HEADER, rows)),
                    mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=companies.csv"})
