"""The admin's lead form builder: list, create, edit, and the embed snippet."""

from flask import flash, redirect, render_template, request, url_for

from app.errors import Invalid
from app.leads import bp, held, lead_forms
from app.models import Pipeline
from app.models.leads import LeadForm
from app.tenancy import current_actor, get_or_404, role_required, scoped


def _rows(form_data) -> list:
    """The builder's field rows, in the order the admin numbered them."""
    rows = []
    for target in form_data.getlist("field"):
        if not isinstance(target, str) or len(target) > 80:
            continue
        key = target.replace(":", "_")
        order = form_data.get(f"order_{key}", "")
        rows.append({"maps_to": target, "label": form_data.get(f"label_{key}", ""),
                     "required": form_data.get(f"required_{key}") == "1",
                     "order": int(order) if order.isdigit() and len(order) < 4 else 999})
    return sorted(rows, key=lambda r: r["order"])


def _builder(form, status=200, errors=None):
    pipelines = scoped(Pipeline).filter_by(archived=False).order_by(Pipeline.position, Pipeline.id).all()
    values = request.form if request.method == "POST" else None
    pipeline_id = (values.get("pipeline_id") if values else (form.pipeline_id if form else "")) or ""
    pipeline = next((p for p in pipelines if str(p.id) == str(pipeline_id)), None)
    chosen = {r["maps_to"]: r for r in _rows(values)} if values else \
        {f["maps_to"]: f for f in (form.fields if form else [])} if form else \
        {"email": {"maps_to": "email", "label": "Work email", "required": True},
         "name": {"maps_to": "name", "label": "Your name", "required": False},
         "company": {"maps_to": "company", "label": "Company", "required": False}}
    required = {k for k, r in chosen.items() if r.get("required")}
    embed = lead_forms.embed_snippet(form, request.host_url.rstrip("/")) if form else ""
    return render_template(
        "leads/form_builder.html", form=form, pipelines=pipelines, pipeline=pipeline,
        targets=lead_forms.targets_for(pipeline), chosen=chosen, order=list(chosen),
        stages=lead_forms.stage_options(pipeline, required), errors=errors or {}, values=values,
        embed=embed, held_total=held.held_total(form.org_id, form.id) if form else 0,
    ), status


@bp.route("/forms")
@role_required("admin")
def forms():
    """List the lead forms with their views and submissions."""
    org_id = current_actor().org_id
    views, subs = lead_forms.form_counts(org_id)
    return render_template("leads/forms.html", forms=scoped(LeadForm).order_by(LeadForm.name).all(), views=views,
                           subs=subs, held=held.held_counts(org_id))


@bp.route("/forms/preview", methods=["POST"])
@role_required("admin")
def form_preview():
    """Show what a visitor would see of the form as the builder stands, saved or not."""
    shown = lead_forms.preview(current_actor().org_id, request.form, _rows(request.form))
    return render_template("leads/_form_preview.html", values={}, errors={}, **shown)


@bp.route("/forms/new", methods=["GET", "POST"])
@role_required("admin")
def new_form():
    """Build a new lead form."""
    if request.method == "POST" and request.form.get("action") == "save":
        try:
            form = lead_forms.save_form(current_actor(), request.form, _rows(request.form))
        except Invalid as exc:
            return _builder(None, 422, exc.fields)
        flash(f"Created the form “{form.name}”. Share its page or embed it.", "success")
        return redirect(url_for("leads.edit_form", form_id=form.id), 303)
    return _builder(None)


@bp.route("/forms/<int:form_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_form(form_id):
    """Edit a lead form; see its link and embed snippet."""
    form = get_or_404(LeadForm, form_id)
    if request.method == "POST" and request.form.get("action") == "save":
        try:
            lead_forms.save_form(current_actor(), request.form, _rows(request.form), form)
        except Invalid as exc:
            return _builder(form, 422, exc.fields)
        flash(f"Saved the form “{form.name}”.", "success")
        return redirect(url_for("leads.edit_form", form_id=form.id), 303)
    return _builder(form)
