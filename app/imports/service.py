"""CSV import: read an upload, guess the column mapping, and import row by row.

Rows are committed in batches; each row runs in its own savepoint together with its
ImportRow (unique per import and row number), so a bad row is rolled back alone and never
half-applied, and a rerun of the same job resumes after the last committed row without
creating anything twice. Deals go through the gate (create_deal); a row whose facts do not
satisfy its stage is reported.
"""

import contextlib
import csv
import io
import logging
import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.contacts.service import LIMITS as CONTACT_LIMITS
from app.contacts.service import clean_email, company_named
from app.deals.service import MAX_REASON, create_deal, furthest_stage, parse_new_facts
from app.errors import Forbidden, GateRefused, Invalid, StagegateError
from app.extensions import db
from app.models import (
    Company,
    Contact,
    Deal,
    DealContact,
    ImportJob,
    ImportRow,
    Notification,
    Pipeline,
    StageTransition,
    Task,
    User,
    org_zone,
    utcnow,
)
from app.models.activity import IMPORT_KINDS
from app.queue import enqueue_after_commit

log = logging.getLogger(__name__)
MAX_BYTES = 50 * 1024 * 1024
NOT_CSV = ("PK\x03\x04", "%PDF", "\xd0\xcf\x11\xe0")  # xlsx/zip, pdf, old xls
EXTENSIONS = (".csv", ".txt", ".tsv")

TARGETS = {
    "companies": {"name": "Company name", "industry": "Industry", "size": "Size", "website": "Website"},
    "contacts": {"email": "Email", "name": "Name", "first_name": "First name", "last_name": "Last name",
                 "phone": "Phone", "title": "Job title", "company": "Company name", "persona": "Persona",
                 "industry": "Industry", "company_size": "Company size", "country": "Country"},
    "deals": {"title": "Deal title", "amount": "Amount", "currency": "Currency", "stage": "Stage",
              "status": "Status (open / won / lost)", "pipeline": "Pipeline", "owner": "Owner (name or email)",
              "company": "Company name", "contact_name": "Contact name", "contact_email": "Contact email",
              "contact_phone": "Contact phone", "created_at": "Created on", "close_date": "Closed on",
              "expected_close_date": "Expected close date", "lost_reason": "Lost reason"},
}
REQUIRED = {"companies": ("name",), "contacts": ("email",), "deals": ("title",)}

# Header names (lower case) of our own exports, Pipedrive and HubSpot, per import kind.
GUESSES = {
    "companies": {
        "name": ["company name", "company", "name", "organization - name", "organization name",
                 "organisation name", "organization", "account name"],
        "industry": ["industry", "organization - industry"],
        "size": ["size", "number of employees", "organization - number of employees", "employees",
                 "company size"],
        "website": ["website", "website url", "company domain name", "domain", "organization - website", "url"],
    },
    "contacts": {
        "email": ["email", "e-mail", "email address", "person - email", "person - email - work",
                  "person - email - home", "person - email - other"],
        "name": ["name", "full name", "person - name", "contact name", "contact person"],
        "first_name": ["first name", "person - first name", "firstname"],
        "last_name": ["last name", "person - last name", "lastname"],
        "phone": ["phone", "phone number", "mobile phone number", "person - phone", "person - phone - work",
                  "person - phone - mobile", "mobile"],
        "title": ["job title", "title", "person - job title", "position"],
        "company": ["company name", "company", "organization", "person - organization", "organization - name",
                    "associated company", "account name"],
        "persona": ["persona"],
        "industry": ["industry", "organization - industry", "company industry"],
        "company_size": ["company size", "number of employees", "employees", "organization - number of employees"],
        "country": ["country", "country/region", "person - country", "organization - country"],
    },
    "deals": {
        "title": ["deal - title", "deal name", "title", "deal title", "deal"],
        "amount": ["deal - value", "amount", "value", "deal value", "deal amount"],
        "currency": ["deal - currency", "currency", "deal currency", "currency code"],
        "stage": ["deal - stage", "deal stage", "stage"],
        "status": ["deal - status", "status", "deal status"],
        "pipeline": ["deal - pipeline", "pipeline"],
        "owner": ["deal - owner", "deal owner", "owner", "deal - owner name", "owner email"],
        "company": ["deal - organization", "company name", "company", "organization", "organization - name",
                    "associated company"],
        "contact_name": ["deal - contact person", "person - name", "contact name", "contact person", "contact"],
        "contact_email": ["person - email", "person - email - work", "contact email", "email"],
        "contact_phone": ["person - phone", "person - phone - work", "contact phone", "phone number", "phone"],
        "created_at": ["deal - deal created", "deal - created", "create date", "created", "created on",
                       "created at"],
        "close_date": ["deal - won time", "deal - lost time", "deal - deal closed on", "deal - close date",
                       "closed on", "closed date"],
        # HubSpot's "Close Date" is when an open deal is expected to close (and when a closed one closed).
        "expected_close_date": ["deal - expected close date", "expected close date", "expected_close_date",
                                "close date"],
        "lost_reason": ["deal - lost reason", "closed lost reason", "lost reason"],
    },
}
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ",
                "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d")
WON_WORDS = {"won", "closedwon", "closed won", "dealwon"}
LOST_WORDS = {"lost", "closedlost", "closed lost", "deallost"}


class BadFile(Exception):
    """An upload that cannot be imported; `message` says why and what to do."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message = message
        self.status = status


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


def read_upload(stream, filename: str, content_length: int | None = None, limit: int = MAX_BYTES):
    """Read and decode an uploaded CSV; return (text, note) or raise BadFile with a clear message."""
    too_big = (f"This file is over the {_megabytes(limit)} limit. Split it into smaller files "
               "(for example by year) and import each one.")
    if content_length and content_length > limit + 64 * 1024:  # room for the multipart envelope
        raise BadFile(too_big, 413)
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise BadFile(too_big, 413)
    name = (filename or "").strip()
    if not name:
        raise BadFile("Choose a CSV file to upload.")
    if not data.strip():
        raise BadFile(f"“{name}” is empty. Export it again from your spreadsheet or CRM and upload that file.")
    head = data[:8].decode("latin-1")
    if head.startswith(NOT_CSV) or not name.lower().endswith(EXTENSIONS):
        raise BadFile(f"“{name}” is not a CSV file. In your spreadsheet or CRM choose Export → CSV "
                      "(comma-separated values) and upload that file.")
    note = ""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:  # an odd byte count or a broken surrogate pair
            raise BadFile(f"“{name}” starts like UTF-16 text but is damaged (it ends mid-character or holds "
                          "broken characters). Save it again as “CSV UTF-8” and upload that file.") from None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                raise BadFile(f"“{name}” is not UTF-8 text. Save it again as “CSV UTF-8” and upload that "
                              "file.") from None
            note = ("This file was not UTF-8, so it was read as Windows-1252 (Excel's usual encoding). "
                    "Check that accented names look right in the samples below.")
    if "\x00" in text:
        raise BadFile(f"“{name}” is not a CSV file (it contains binary data). Choose Export → CSV in your "
                      "spreadsheet or CRM and upload that file.")
    return text, note


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _reader(text: str, delimiter: str):
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def inspect(text: str):
    """Return (headers, delimiter, data row count, sample rows) or raise BadFile."""
    delimiter = _delimiter(text)
    reader = _reader(text, delimiter)
    try:
        headers = next(reader, None)
        if headers is None or not any(h.strip() for h in headers):
            raise BadFile("The first row must name the columns (for example “Name, Email”). Add a header "
                          "row and upload the file again.")
        samples, count = [], 0
        for cells in reader:
            if any(c.strip() for c in cells):
                count += 1
                if len(samples) < 3:
                    samples.append(cells)
    except csv.Error as exc:
        raise BadFile(f"The file could not be read as CSV near line {reader.line_num} ({exc}). Check it opens "
                      "in a spreadsheet, export it as CSV again and retry.") from None
    if count == 0:
        raise BadFile("The file has a header row but no data rows.")
    seen: dict = {}
    unique = []
    for i, header in enumerate(headers):
        header = header.strip() or f"Column {i + 1}"
        seen[header] = seen.get(header, 0) + 1
        unique.append(header if seen[header] == 1 else f"{header} ({seen[header]})")
    return unique, delimiter, count, samples


def targets(kind: str, pipeline: Pipeline | None) -> dict:
    """Return what a column can map to: {target: label}; deal facts are "fact:<key>"."""
    found = dict(TARGETS[kind])
    if kind == "deals" and pipeline is not None:
        for field in pipeline.active_fields:
            found[f"fact:{field.key}"] = f"Fact: {field.label}"
    return found


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", (text or "").strip().lower())


def guess_mapping(kind: str, headers: list, pipeline: Pipeline | None = None) -> list:
    """Guess a target for each header (Pipedrive, HubSpot and our own export names); "" = skip."""
    lookup = {}
    for target, names in GUESSES[kind].items():
        for name in names:
            lookup.setdefault(name, target)
    if kind == "deals" and pipeline is not None:
        for field in pipeline.active_fields:
            for name in (field.label, field.key, f"deal - {field.label}", f"fact: {field.label}"):
                lookup.setdefault(_norm(name), f"fact:{field.key}")
    used, mapping = set(), []
    for header in headers:
        norm = _norm(re.sub(r" \(\d+\)$", "", header))
        target = lookup.get(norm, "")
        if not target and norm.startswith("person - email"):
            target = "contact_email" if kind == "deals" else "email"
        if target in used:
            target = ""
        used.add(target)
        mapping.append(target)
    return mapping


def check_mapping(kind: str, mapping: list, allowed: dict) -> list:
    """Return the problems with a mapping (empty when it can run)."""
    problems = []
    chosen = [t for t in mapping if t]
    for target in chosen:
        if target not in allowed:
            problems.append(f"“{target}” is not something a column can be imported into.")
    for target in sorted({t for t in chosen if chosen.count(t) > 1}):
        problems.append(f"Two columns are mapped to “{allowed.get(target, target)}”; choose one.")
    for target in REQUIRED[kind]:
        if target not in chosen:
            noun = {"companies": "company", "contacts": "contact", "deals": "deal"}[kind]
            problems.append(f"Map a column to “{allowed[target]}”: every {noun} needs one.")
    return problems


def start_import(actor, kind: str, filename: str, text: str, note: str, pipeline: Pipeline | None) -> ImportJob:
    """Save an uploaded file as an import waiting for its column mapping."""
    if kind not in IMPORT_KINDS:
        raise BadFile("Choose what the file holds: companies, contacts or deals.")
    if kind == "deals" and (pipeline is None or pipeline.org_id != actor.org_id or pipeline.archived):
        raise BadFile("Choose the pipeline the deals go into.")
    headers, delimiter, count, _ = inspect(text)
    job = ImportJob(org_id=actor.org_id, user_id=actor.id, kind=kind, filename=(filename or "")[:255],
                    pipeline_id=pipeline.id if kind == "deals" else None, content=text, note=note,
                    delimiter=delimiter, headers=headers, total_rows=count,
                    mapping=guess_mapping(kind, headers, pipeline if kind == "deals" else None))
    db.session.add(job)
    db.session.commit()
    return job


def samples(job: ImportJob) -> list:
    return inspect(job.content)[3]


def confirm_mapping(job: ImportJob, mapping: list, override_reason: str = "") -> ImportJob:
    """Save the chosen mapping and queue the import (after commit); raise Invalid listing problems.

    With an override reason (deals; admins and managers) every row enters the stage in its file
    even without that stage's facts, and each deal's history records the override.
    """
    mapping = [(m or "").strip() for m in mapping][:len(job.headers)]
    mapping += [""] * (len(job.headers) - len(mapping))
    problems = check_mapping(job.kind, mapping, targets(job.kind, job.pipeline))
    if job.status != "mapping":
        problems.append("This import has already started.")
    override_reason = (override_reason or "").strip() if job.kind == "deals" else ""
    if len(override_reason) > MAX_REASON:
        problems.append(f"The override reason must be at most {MAX_REASON} characters.")
    if override_reason and not job.user.has_role("manager"):
        problems.append("Only an admin or a manager can import past the gate.")
    if problems:
        job.mapping = mapping  # shown back on the screen; not committed
        raise Invalid({"mapping": " ".join(problems)}, " ".join(problems))
    job.mapping = mapping
    job.override_reason = override_reason
    job.status = "queued"
    job.progress_at = utcnow()
    enqueue_after_commit("app.jobs.run_import", job.id)
    db.session.commit()
    return job


UNFINISHED = ("queued", "running", "failed")
STALLED_AFTER = timedelta(minutes=2)


def requeue(job: ImportJob) -> ImportJob:
    """Queue an unfinished import again (it resumes at its first uncommitted row)."""
    if job.status in UNFINISHED:
        job.status = "queued"
        job.progress_at = utcnow()
        enqueue_after_commit("app.jobs.run_import", job.id)
        db.session.commit()
    return job


def sweep_imports(now: datetime | None = None, limit: int = 100) -> dict:
    """Wake imports that lost their wake-up: queued or running with no progress for 2 minutes.

    A wake-up lost with Redis, or a worker killed mid-file, leaves the job's status and its
    committed rows in the database; this finds such jobs and queues them again, and the rerun
    carries on at the first uncommitted row. Marking each one woken keeps the next tick (or a
    concurrent one, which skips the rows this one has locked) from waking it twice.
    """
    now = now or utcnow()
    due = (ImportJob.query.filter(ImportJob.status.in_(("queued", "running")),
                                  ImportJob.progress_at <= now - STALLED_AFTER)
           .order_by(ImportJob.progress_at, ImportJob.id).limit(limit))
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    woken = [job.id for job in due]
    for job_id in woken:
        enqueue_after_commit("app.jobs.run_import", job_id)
    if woken:
        db.session.execute(db.update(ImportJob).where(ImportJob.id.in_(woken)).values(progress_at=now))
    db.session.commit()
    return {"resumed": len(woken)}


def error_rows(job: ImportJob):
    """Yield [row, column, problem, imported] for every reported problem, in row order."""
    rows = (ImportRow.query.filter_by(import_id=job.id, reported=True)
            .order_by(ImportRow.row_number).yield_per(500))
    for row in rows:
        for problem in row.problems or []:
            yield [row.row_number, problem.get("column", ""), problem.get("message", ""),
                   "no" if row.outcome == "error" else "yes"]


# Running an import -------------------------------------------------------------------------
#
# Rows are committed in batches (BATCH_ROWS per transaction). Each row runs inside its own
# SAVEPOINT together with its ImportRow, so a bad row is rolled back alone and never
# half-applied, while the good rows of its batch stay. The job's counters are written once
# per batch, in the same transaction as the batch's rows, so a crash loses at most the
# uncommitted batch and a rerun resumes after the last committed row.

BATCH_ROWS = 200
# What a committed batch leaves in the session that no later row needs. They are let go after each
# commit: the session keeps loaded objects across commits here, and a savepoint rollback walks
# every object it holds, so a session growing by the whole file would slow each row down.
LEAD_FACTS = {"industry": "industry", "company_size": "size", "country": "country"}  # target: limit
LIMITS = {**CONTACT_LIMITS, "country": 80}
_BATCH_ONLY = (Deal, StageTransition, DealContact, Task, Notification, ImportRow)


class _RowFailed(Exception):
    def __init__(self, problems: list):
        super().__init__("row failed")
        self.problems = problems


def _parse_time(value: str, column: str):
    value = (value or "").strip()
    if not value:
        return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _RowFailed([{"column": column, "message": f"“{value[:80]}” is not a date (use YYYY-MM-DD)"}]) \
            from None
    return parsed.replace(tzinfo=None) if parsed.tzinfo is None else parsed


def _local_day(parsed: datetime | None, value: str, column: str, zone) -> date | None:
    """The day of a parsed date or time; a UTC one ("…Z" or with an offset) is the organisation's day at
    that instant, as the exporting CRM showed it to its users."""
    if parsed is None:
        return None
    if parsed.tzinfo is not None or value.strip().upper().endswith("Z"):
        try:
            parsed = parsed.replace(tzinfo=parsed.tzinfo or UTC).astimezone(zone)
        except OverflowError:  # year 1 or 9999 moved past the calendar's end
            raise _RowFailed([{"column": column, "message": f"“{value.strip()[:80]}” is not a date in range "
                                                            "(use YYYY-MM-DD)"}]) from None
    return parsed.date()


def _amount(value: str) -> str:
    cleaned = re.sub(r"[^0-9.,\-]", "", value or "")
    return cleaned if cleaned else (value or "").strip()


def _squash(text: str) -> str:
    return _norm(text).replace(" ", "")


class _Importer:
    """Imports one job's rows; holds the lookups every row shares (cached by name for the job)."""

    def __init__(self, job: ImportJob):
        self.job = job
        self.org_id = job.org_id
        self.actor = db.session.get(User, job.user_id)
        self.columns = {target: i for i, target in enumerate(job.mapping) if target}
        self.header_of = {target: job.headers[i] for target, i in self.columns.items()}
        self.fact_targets = [t for t in self.columns if t.startswith("fact:")]
        # Caches for this job. An entry learnt inside a row's savepoint is forgotten if that row
        # is rolled back (what it created is gone with it).
        self.companies: dict = {}  # lower(name) -> Company, or None when looked up without creating
        self.contacts: dict = {}  # email -> Contact, or None when there is none
        self.emails: dict = {}  # raw email -> clean_email(raw), or None when it is not an email
        self.contacts_by_name: dict = {}  # lower(name) -> Contact | None
        self.stage_names: dict = {}  # pipeline id -> {squashed stage name: Stage}
        self._learnt: list = []  # (cache, key) set during the current row
        self.touched: list = []  # contacts this batch created or updated: rescored before it commits
        self.counts = dict.fromkeys(("processed", "created", "updated", "errors", "warnings"), 0)
        self.closed_from = "close_date"  # the column a closed row's closing time came from
        if job.kind == "deals":
            self.zone = org_zone(self.org_id)
            self.pipeline = db.session.get(Pipeline, job.pipeline_id)
            self.pipelines = {_norm(p.name): p for p in Pipeline.query.filter_by(org_id=self.org_id, archived=False)}
            self.users = {}
            for user in User.query.filter_by(org_id=self.org_id, active=True):
                self.users.setdefault(user.email.lower(), user)
                self.users.setdefault(_norm(user.name), user)

    def value(self, cells: list, target: str) -> str:
        i = self.columns.get(target)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    def problem(self, target: str, message: str) -> dict:
        return {"column": self.header_of.get(target, ""), "message": message}

    # Caches ----------------------------------------------------------------------------

    def _remember(self, cache: dict, key, value) -> None:
        cache[key] = value
        self._learnt.append((cache, key))

    def _forget_row(self) -> None:
        for cache, key in self._learnt:
            cache.pop(key, None)
        self._learnt = []

    def forget_all(self) -> None:
        """Drop every cached record (after an unexpected database error nothing cached is trusted)."""
        self.companies.clear()
        self.contacts.clear()
        self.contacts_by_name.clear()
        self._learnt = []

    def company(self, raw: str, create: bool = True) -> Company | None:
        """company_named, asked at most once per distinct name for the whole job."""
        name = (raw or "").strip()[:LIMITS["name"]]
        if not name:
            return None
        key = name.lower()
        if key not in self.companies:
            found = company_named(self.org_id, name, create=create)
        elif self.companies[key] is None and create:  # known not to exist: create it as company_named would
            found = Company(org_id=self.org_id, name=name)
            db.session.add(found)
            db.session.flush()
        else:
            return self.companies[key]
        self._remember(self.companies, key, found)
        return found

    def clean_email(self, raw: str) -> str:
        """clean_email, once per distinct spelling; raises Invalid as it does."""
        if raw not in self.emails:
            try:
                self.emails[raw] = clean_email(raw)
            except Invalid:
                self.emails[raw] = None
        if self.emails[raw] is None:
            raise Invalid({"email": "must be an email address like name@example.com"})
        return self.emails[raw]

    def contact_by_email(self, email: str) -> Contact | None:
        if email not in self.contacts:
            found = Contact.query.filter_by(org_id=self.org_id, email=email).first()
            self._remember(self.contacts, email, found)
        return self.contacts[email]

    def prefetch(self, batch: list) -> None:
        """Look up a batch's contacts and companies in one query each instead of one per row."""
        kind = self.job.kind
        email_target = {"contacts": "email", "deals": "contact_email"}.get(kind)
        name_target = "name" if kind == "companies" else "company"
        emails, names = set(), set()
        for _, cells in batch:
            raw = self.value(cells, email_target) if email_target else ""
            if raw:
                with contextlib.suppress(Invalid):  # a bad address is reported by its row
                    emails.add(self.clean_email(raw))
            name = self.value(cells, name_target)[:LIMITS["name"]]
            if name:
                names.add(name.lower())
        emails = sorted(emails - self.contacts.keys())
        names = sorted(names - self.companies.keys())
        if emails:
            found = Contact.query.filter(Contact.org_id == self.org_id, Contact.email.in_(emails))
            by_email = {c.email: c for c in found}
            self.contacts.update({e: by_email.get(e) for e in emails})
        if names:
            by_name: dict = {}
            for company in Company.query.filter(Company.org_id == self.org_id,
                                                db.func.lower(Company.name).in_(names)):
                by_name.setdefault(company.name.lower(), company)
            self.companies.update({n: by_name.get(n) for n in names})

    def added_contact(self, contact: Contact) -> None:
        self._remember(self.contacts, contact.email, contact)
        key = (contact.name or "").lower()
        if key and self.contacts_by_name.get(key, False) is None:  # "no such name" is no longer true
            self._remember(self.contacts_by_name, key, contact)

    def contact_by_name(self, name: str) -> Contact | None:
        key = name.lower()
        if key not in self.contacts_by_name:
            found = Contact.query.filter(Contact.org_id == self.org_id,
                                         db.func.lower(Contact.name) == key).first()
            self._remember(self.contacts_by_name, key, found)
        return self.contacts_by_name[key]

    # Rows ------------------------------------------------------------------------------

    def run_row(self, row_number: int, cells: list) -> tuple:
        """Import one row and its ImportRow inside a savepoint; return (outcome, problems).

        A row that fails is rolled back to its savepoint (nothing of it stays) and returned as
        ("error", problems); the caller records it. Database errors propagate.
        """
        if len(cells) > len(self.job.headers) and any(c.strip() for c in cells[len(self.job.headers):]):
            return "error", [{"column": "", "message": f"has {len(cells)} cells but the header has "
                              f"{len(self.job.headers)}; check for an unquoted comma"}]
        handler = {"companies": self.company_row, "contacts": self.contact_row, "deals": self.deal_row}
        self._learnt = []
        try:
            with db.session.begin_nested():  # flushed and released on success, rolled back on any error
                outcome, warnings = handler[self.job.kind](cells)
                db.session.add(ImportRow(org_id=self.org_id, import_id=self.job.id, row_number=row_number,
                                         outcome=outcome, problems=warnings, reported=bool(warnings)))
        except _RowFailed as exc:
            self._forget_row()
            return "error", exc.problems
        except BaseException:
            self._forget_row()
            raise
        self._learnt = []
        return outcome, warnings

    def count(self, outcome: str, warnings: list | None = None) -> None:
        counts = self.counts
        counts["processed"] += 1
        if warnings:
            counts["warnings"] += 1
        key = {"created": "created", "updated": "updated"}.get(outcome, "errors")
        counts[key] += 1

    def write_progress(self) -> None:
        """Add this batch's counts to the job (committed with the batch's rows)."""
        job, counts = self.job, self.counts
        job.processed += counts["processed"]
        job.created_count += counts["created"]
        job.updated_count += counts["updated"]
        job.error_count += counts["errors"]
        job.warning_count += counts["warnings"]
        job.progress_at = utcnow()
        self.counts = dict.fromkeys(counts, 0)

    def _text_limit(self, cells, target, limit_name, problems) -> str:
        value = self.value(cells, target)
        if len(value) > LIMITS[limit_name]:
            problems.append(self.problem(target, f"must be at most {LIMITS[limit_name]} characters"))
        return value

    def company_row(self, cells):
        problems: list = []
        values = {t: self._text_limit(cells, t, t, problems) for t in ("name", "industry", "size", "website")}
        if not values["name"]:
            problems.append(self.problem("name", "is required"))
        if problems:
            raise _RowFailed(problems)
        company = self.company(values["name"], create=False)
        outcome = "updated" if company else "created"
        if company is None:
            company = Company(org_id=self.org_id)
            db.session.add(company)
        for name, value in values.items():
            if value or outcome == "created":
                setattr(company, name, value)
        if outcome == "created":
            self._remember(self.companies, values["name"][:LIMITS["name"]].lower(), company)
        return outcome, []

    def contact_row(self, cells):
        problems: list = []
        values = {t: self._text_limit(cells, t, t, problems) for t in ("phone", "title", "persona")}
        facts = {t: self._text_limit(cells, t, limit, problems) for t, limit in LEAD_FACTS.items()}  # fit rules
        name = self.value(cells, "name") or " ".join(
            p for p in (self.value(cells, "first_name"), self.value(cells, "last_name")) if p)
        if len(name) > LIMITS["name"]:
            problems.append(self.problem("name", f"must be at most {LIMITS['name']} characters"))
        values["name"] = name
        raw_email = self.value(cells, "email")
        email = None
        try:
            email = self.clean_email(raw_email)
        except Invalid:
            problems.append(self.problem("email", "is required" if not raw_email
                                         else f"“{raw_email[:80]}” is not an email address"))
        if problems:
            raise _RowFailed(problems)
        contact = self.contact_by_email(email)
        outcome = "updated" if contact else "created"
        if contact is None:
            contact = Contact(org_id=self.org_id, email=email, owner_id=self.actor.id)
            db.session.add(contact)
        for key, value in values.items():
            if value or outcome == "created":
                setattr(contact, key, value)
        if outcome == "created":
            self._remember(self.contacts, email, contact)
        if any(facts.values()):
            contact.lead_facts = {**(contact.lead_facts or {}), **{k: v for k, v in facts.items() if v}}
        company = self.company(self.value(cells, "company"))
        if company is not None:
            contact.company_id = company.id
            if facts["industry"] and not company.industry:
                company.industry = facts["industry"]
            if facts["company_size"] and not company.size:
                company.size = facts["company_size"]
        self.touched.append(contact)
        return outcome, []

    def _stage(self, pipeline, cells):
        raw = self.value(cells, "stage")
        status = _norm(self.value(cells, "status"))
        if status in WON_WORDS | LOST_WORDS:  # a closed deal's status outranks the stage it was in
            stage = pipeline.stage_by_kind("won" if status in WON_WORDS else "lost")
            if stage is not None:
                return stage
        if not raw:
            return None
        names = self.stage_names.get(pipeline.id)
        if names is None:  # the first active stage whose name matches, ignoring case and spaces
            names = {}
            for stage in pipeline.active_stages:
                names.setdefault(_squash(stage.name), stage)
            self.stage_names[pipeline.id] = names
        wanted = _norm(raw)
        squashed = wanted.replace(" ", "")
        if squashed in names:
            return names[squashed]
        if wanted in WON_WORDS or squashed in WON_WORDS:
            return pipeline.stage_by_kind("won")
        if wanted in LOST_WORDS or squashed in LOST_WORDS:
            return pipeline.stage_by_kind("lost")
        names = ", ".join(s.name for s in pipeline.active_stages)
        raise _RowFailed([self.problem("stage", f"“{raw[:80]}” is not a stage of {pipeline.name} ({names})")])

    def _contact(self, cells, warnings):
        raw_email = self.value(cells, "contact_email")
        name = self.value(cells, "contact_name")[:LIMITS["name"]]
        if raw_email:
            try:
                email = self.clean_email(raw_email)
            except Invalid:
                raise _RowFailed([self.problem("contact_email", f"“{raw_email[:80]}” is not an email address")]) \
                    from None
            contact = self.contact_by_email(email)
            if contact is None:
                contact = Contact(org_id=self.org_id, email=email, name=name, owner_id=self.actor.id,
                                  phone=self.value(cells, "contact_phone")[:LIMITS["phone"]])
                db.session.add(contact)
                db.session.flush()
                self.added_contact(contact)
            return contact
        if name:
            contact = self.contact_by_name(name)
            if contact is None:
                warnings.append(self.problem("contact_name", f"“{name}” was not linked: no contact has that "
                                                             "name and the row has no email"))
            return contact
        return None

    def deal_row(self, cells):
        warnings: list = []
        pipeline = self.pipelines.get(_norm(self.value(cells, "pipeline")), self.pipeline)
        if pipeline.id != self.pipeline.id and pipeline.archived:
            pipeline = self.pipeline
        stage = self._stage(pipeline, cells)
        owner = self.actor
        raw_owner = self.value(cells, "owner")
        if raw_owner:
            owner = self.users.get(raw_owner.lower()) or self.users.get(_norm(raw_owner))
            if owner is None:
                owner = self.actor
                warnings.append(self.problem("owner", f"no active user “{raw_owner[:80]}” here; the deal is "
                                                      f"yours ({self.actor.email})"))
        created_at = _parse_time(self.value(cells, "created_at"), self.header_of.get("created_at", ""))
        closed_at = _parse_time(self.value(cells, "close_date"), self.header_of.get("close_date", ""))
        raw_expected, expected_column = self.value(cells, "expected_close_date"), self.header_of.get(
            "expected_close_date", "")
        expected_at = _parse_time(raw_expected, expected_column)
        expected_close = _local_day(expected_at, raw_expected, expected_column, self.zone)
        self.closed_from = "close_date"
        if expected_at is not None and "close_date" not in self.columns:
            # HubSpot and Salesforce keep one close date: for a closed deal it is when the deal closed.
            closed_at, self.closed_from = expected_at, "expected_close_date"
        currency = self.value(cells, "currency").upper() or None
        facts = {}
        if pipeline.id == self.pipeline.id:
            for target in self.fact_targets:
                value = self.value(cells, target)
                if value:
                    facts[target[5:]] = value
        company = self.company(self.value(cells, "company"))
        contact = self._contact(cells, warnings)
        row = dict(title=self.value(cells, "title"), owner=owner, amount=_amount(self.value(cells, "amount")),
                   currency=currency, facts=facts, contact=contact, company=company, created_at=created_at,
                   expected_close_date=expected_close,
                   reason=self.value(cells, "lost_reason"), override_reason=self.job.override_reason or "")

        def create(stage):
            create_deal(pipeline, self.actor, stage=stage, commit=False, source="import",
                        stage_entered_at=closed_at if stage is not None and stage.kind != "open" else None, **row)

        try:
            try:
                create(stage)
            except GateRefused as exc:
                reached = self._furthest(pipeline, facts, exc)
                create(reached)
                warnings += self._placed_short(exc, reached)
        except GateRefused as exc:
            raise _RowFailed(self._gate_problems(exc)) from None
        except Invalid as exc:
            raise _RowFailed([self._field_problem(k, v) for k, v in exc.fields.items()]) from None
        except (Forbidden, StagegateError) as exc:
            raise _RowFailed([{"column": "", "message": exc.message}]) from None
        return "created", warnings

    def _furthest(self, pipeline, facts, exc: GateRefused):
        """Return the furthest stage short of the refused one that the row's facts reach; else re-raise."""
        target = exc.to_stage
        if self.job.override_reason or exc.fields or not exc.missing or target is None or target.kind == "lost":
            raise exc
        parsed, _ = parse_new_facts(pipeline, facts)
        reached = furthest_stage(pipeline, target, parsed)
        if reached is None or reached.id == target.id:
            raise exc
        return reached

    def _lacking(self, r) -> dict:
        verb = "enter" if r.when == "entry" else "leave"
        return {"column": self.header_of.get(f"fact:{r.field.key}", ""),
                "message": f"{r.field.label} is required to {verb} {r.stage.name}"}

    def _placed_short(self, exc: GateRefused, reached) -> list:
        """Report a row placed short of its stage: one line per fact it lacked."""
        where = f"placed in {reached.name}, not {exc.to_stage.name}: "
        return [{**p, "message": where + p["message"]} for p in map(self._lacking, exc.missing)]

    def _gate_problems(self, exc: GateRefused) -> list:
        problems = [self._lacking(r) for r in exc.missing]
        problems += [self._field_problem(k, v) for k, v in exc.fields.items()]
        return problems or [{"column": "", "message": exc.message}]

    def _field_problem(self, key: str, message: str) -> dict:
        target = {"owner_email": "owner", "stage_id": "stage", "reason": "lost_reason",
                  "stage_entered_at": self.closed_from}.get(key, key)
        if f"fact:{key}" in self.columns:
            target = f"fact:{key}"
        label = targets(self.job.kind, self.pipeline).get(target, key.replace("_", " ").capitalize())
        label = label.removeprefix("Fact: ")
        return {"column": self.header_of.get(target, ""), "message": f"{label} {message}"}


def run_import(import_id: int, batch_rows: int = BATCH_ROWS) -> dict:
    """Import a queued job's rows, `batch_rows` per transaction (resuming after its last committed
    row); return its counts."""
    job = db.session.get(ImportJob, import_id)
    if job is None or job.status in ("mapping", "done"):
        return {"status": job.status if job else "missing"}
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = False  # the pipeline, its stages and the caches stay loaded across commits
    try:
        job.status = "running"
        job.started_at = job.started_at or utcnow()
        job.progress_at = utcnow()
        db.session.commit()
        done = db.session.query(db.func.max(ImportRow.row_number)).filter_by(import_id=job.id).scalar() or 0
        importer = _Importer(job)
        reader = _reader(job.content, job.delimiter)
        next(reader, None)
        batch: list = []
        for row_number, cells in enumerate(reader, start=2):  # as a spreadsheet numbers rows
            if row_number <= done or not any(c.strip() for c in cells):
                continue
            batch.append((row_number, cells))
            if len(batch) >= batch_rows:
                _import_batch(importer, batch)
                batch = []
        if batch:
            _import_batch(importer, batch)
        job.status = "done"
        job.finished_at = utcnow()
        job.message = ""
        db.session.commit()
    except (SQLAlchemyError, csv.Error) as exc:
        db.session.rollback()
        log.exception("import %s failed", import_id)
        job = db.session.get(ImportJob, import_id)
        job.status = "failed"
        job.message = f"The import stopped early ({type(exc).__name__}); rows up to {job.processed} are in. " \
                      "Resume it to carry on."
        db.session.commit()
    finally:
        session.expire_on_commit = expire
    return {"status": job.status, "processed": job.processed, "created": job.created_count,
            "updated": job.updated_count, "errors": job.error_count}


def _begin_batch() -> None:
    """Open the batch's transaction.

    pysqlite (Python's sqlite3 in its default mode) sends BEGIN only before an INSERT/UPDATE/
    DELETE, not before a SAVEPOINT; SQLite would then run the first row's savepoint as a
    transaction of its own and commit it on RELEASE. An explicit BEGIN keeps the batch one
    transaction on SQLite as it is on PostgreSQL.
    """
    connection = db.session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN")


def _import_batch(importer: _Importer, batch: list) -> None:
    """Import a batch of (row_number, cells) in one transaction, a savepoint per row, then commit."""
    _begin_batch()
    importer.prefetch(batch)
    for row_number, cells in batch:
        _import_one(importer, row_number, cells)
    _rescore(importer)
    importer.write_progress()
    db.session.commit()
    session = db.session()
    for obj in [o for o in session.identity_map.values() if isinstance(o, _BATCH_ONLY)]:
        session.expunge(obj)


def _rescore(importer: _Importer) -> None:
    """Score the batch's created and updated contacts through the one scoring service (fit rules read
    the imported title, industry, size, country); a crossing fires once, by its unique key."""
    from sqlalchemy import inspect as state_of

    from app.leads.scoring import rescore_many

    contacts = list({id(c): c for c in importer.touched if state_of(c).persistent}.values())
    importer.touched = []
    if contacts:
        db.session.flush()
        rescore_many(importer.org_id, contacts)


def _import_one(importer: _Importer, row_number: int, cells: list) -> None:
    job = importer.job
    try:
        outcome, problems = importer.run_row(row_number, cells)
    except IntegrityError:
        # Only this row's savepoint was rolled back. Another run committed this row first (the
        # unique row key), or a duplicate appeared meanwhile.
        importer.forget_all()
        if ImportRow.query.filter_by(import_id=job.id, row_number=row_number).first():
            return
        outcome, problems = "error", [{"column": "", "message": "conflicts with a record created meanwhile"}]
    except Exception:  # one odd row must not stop the other rows
        importer.forget_all()
        log.exception("import %s row %s", job.id, row_number)
        outcome, problems = "error", [{"column": "", "message": "could not be imported (unexpected error)"}]
    if outcome == "error":
        try:
            with db.session.begin_nested():
                db.session.add(ImportRow(org_id=job.org_id, import_id=job.id, row_number=row_number,
                                         outcome="error", problems=problems, reported=True))
        except IntegrityError:
            return  # another run recorded this row first
        importer.count("error")
    else:
        importer.count(outcome, problems)
