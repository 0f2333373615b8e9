import itertools

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from app.csv_files import csv_lines
from app.errors import Invalid
from app.htmx import is_htmx
from app.ids import parse_id
from app.imports import bp
from app.imports import service as imports
from app.imports.export import deal_export
from app.imports.forms import UploadForm
from app.models import ImportJob, Pipeline
from app.tenancy import current_actor, get_or_404, role_required, scoped


def _upload_page(form, error=None, status=200):
    pipelines = scoped(Pipeline).filter_by(archived=False).order_by(Pipeline.position, Pipeline.id).all()
    form.pipeline_id.choices = [(p.id, p.name) for p in pipelines]
    jobs = scoped(ImportJob).order_by(ImportJob.id.desc()).limit(20).all()
    return render_template("imports/index.html", form=form, error=error, jobs=jobs), status


@bp.route("/", methods=["GET", "POST"])
@role_required("manager")
def index():
    """Upload a CSV of companies, contacts or deals; list recent imports."""
    form = UploadForm()
    if request.method == "GET":
        # Opened from a board ("Import a CSV"): start on deals, into that board's pipeline.
        if request.args.get("kind") in dict(form.kind.choices):
            form.kind.data = request.args["kind"]
        form.pipeline_id.data = request.args.get("pipeline_id", type=int)
        return _upload_page(form)
    limit = current_app.config.get("IMPORT_MAX_BYTES", imports.MAX_BYTES)
    upload = request.files.get("file")
    pipeline_id = parse_id(request.form.get("pipeline_id"))
    pipeline = scoped(Pipeline).filter_by(id=pipeline_id).first() if pipeline_id else None
    try:
        if upload is None:
            raise imports.BadFile("Choose a CSV file to upload.")
        text, note = imports.read_upload(upload.stream, upload.filename, request.content_length, limit)
        job = imports.start_import(current_actor(), request.form.get("kind", ""), upload.filename, text, note,
                                   pipeline)
    except imports.BadFile as exc:
        return _upload_page(form, exc.message, exc.status)
    return redirect(url_for("imports.mapping", import_id=job.id), 303)


@bp.route("/<int:import_id>/mapping", methods=["GET", "POST"])
@role_required("manager")
def mapping(import_id):
    """Match the file's columns to fields, then start the import."""
    job = get_or_404(ImportJob, import_id)
    if job.status != "mapping":
        return redirect(url_for("imports.show", import_id=job.id), 303)
    error, status = None, 200
    override_reason = (request.form.get("override_reason") or "")[:100_000]
    if request.method == "POST":
        chosen = [request.form.get(f"column-{i}", "") for i in range(len(job.headers))]
        try:
            imports.confirm_mapping(job, chosen, override_reason)
        except Invalid as exc:
            error, status = exc.message, 422
        else:
            return redirect(url_for("imports.show", import_id=job.id), 303)
    return render_template("imports/mapping.html", job=job, error=error, samples=imports.samples(job),
                           override_reason=override_reason,
                           targets=imports.targets(job.kind, job.pipeline),
                           required=imports.REQUIRED[job.kind]), status


@bp.route("/<int:import_id>")
@role_required("manager")
def show(import_id):
    """Show an import's progress, then its summary."""
    job = get_or_404(ImportJob, import_id)
    if job.status == "mapping":
        return redirect(url_for("imports.mapping", import_id=job.id))
    return render_template("imports/show.html", job=job)


@bp.route("/<int:import_id>/progress")
@role_required("manager")
def progress(import_id):
    """Return the progress bar (polled every second) or, once finished, the summary."""
    job = get_or_404(ImportJob, import_id)
    if not is_htmx():
        return redirect(url_for("imports.show", import_id=job.id))
    return render_template("imports/_progress.html", job=job)


@bp.route("/<int:import_id>/resume", methods=["POST"])
@role_required("manager")
def resume(import_id):
    """Queue an unfinished import again; it carries on after its last imported row."""
    job = get_or_404(ImportJob, import_id)
    if job.status in imports.UNFINISHED:
        imports.requeue(job)
        flash("The import will carry on from the first row not yet imported.", "info")
    else:
        flash("This import has already finished." if job.status == "done" else "This import has not started yet.",
              "info")
    return redirect(url_for("imports.show", import_id=job.id), 303)


def error_preview(job, limit: int = 200) -> list:
    """The report's first rows, to read on the page (the CSV has every one)."""
    return list(itertools.islice(imports.error_rows(job), limit))


@bp.app_context_processor
def _import_helpers():
    return {"error_preview": error_preview}


@bp.route("/<int:import_id>/errors.csv")
@role_required("manager")
def errors(import_id):
    """Download the rows that were not imported (or imported with a note), with the reason."""
    job = get_or_404(ImportJob, import_id)
    lines = csv_lines(["Row", "Column", "Problem", "Imported"], imports.error_rows(job))
    name = f"import-{job.id}-errors.csv"
    return Response(stream_with_context(lines), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.route("/deals/export.csv")
@role_required("manager")
def export_deals():
    """Download deals as CSV, filtered by pipeline (and status or owner) like the board."""
    pipeline_id = parse_id(request.args.get("pipeline_id"))
    pipeline = get_or_404(Pipeline, pipeline_id) if pipeline_id else None
    header, rows = deal_export(current_actor().org_id, pipeline, request.args.get("status"),
                               parse_id(request.args.get("owner_id")))
    name = f"deals-{pipeline.id}.csv" if pipeline else "deals.csv"
    return Response(stream_with_context(csv_lines(header, rows)), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})
