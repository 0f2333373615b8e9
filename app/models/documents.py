"""Documents a rep shares with the buyer in the deal room (a proposal, terms): each version kept with its
SHA-256, and what each buyer did with it (viewed, acknowledged, accepted by typing their name)."""

from app.extensions import db
from app.models.base import TenantMixin, utcnow

# What the buyer is asked to do with a document: acknowledge it (one click) or accept it (typing their
# full name, as a signature of intent).
DOCUMENT_ASKS = {"acknowledge": "Acknowledge", "accept": "Accept by typing their full name"}
EVENT_KINDS = ("view", "acknowledge", "accept")


class DealDocument(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deal.id"), nullable=False, index=True)
    title = db.Column(db.String(200), nullable=False)
    ask = db.Column(db.String(11), nullable=False, default="acknowledge")
    # A field key of the deal's pipeline that the buyer's confirmation of the latest version meets.
    requirement = db.Column(db.String(64))
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    archived = db.Column(db.Boolean, nullable=False, default=False)

    versions = db.relationship("DocumentVersion", order_by="DocumentVersion.number", back_populates="document")
    deal = db.relationship("Deal")

    __table_args__ = (db.CheckConstraint("ask in ('acknowledge','accept')", name="ask"),)

    @property
    def latest(self):
        return self.versions[-1] if self.versions else None


class DocumentVersion(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    document_id = db.Column(db.Integer, db.ForeignKey("deal_document.id"), nullable=False, index=True)
    number = db.Column(db.Integer, nullable=False)
    filename = db.Column(db.String(120), nullable=False)
    size = db.Column(db.Integer, nullable=False)
    sha256 = db.Column(db.String(64), nullable=False)
    content = db.deferred(db.Column(db.LargeBinary, nullable=False))  # read only when served
    uploaded_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    uploaded_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    document = db.relationship(DealDocument, back_populates="versions")
    uploaded_by = db.relationship("User")

    __table_args__ = (db.UniqueConstraint("document_id", "number", name="uq_document_version_number"),)


class DocumentEvent(TenantMixin, db.Model):
    """A buyer's view or confirmation of one version, with its evidence."""

    id = db.Column(db.Integer, primary_key=True)
    version_id = db.Column(db.Integer, db.ForeignKey("document_version.id"), nullable=False, index=True)
    contact_id = db.Column(db.Integer, db.ForeignKey("contact.id"))
    email = db.Column(db.String(254), nullable=False)
    kind = db.Column(db.String(11), nullable=False)
    typed_name = db.Column(db.String(200))
    sha256 = db.Column(db.String(64), nullable=False)  # the version's hash as confirmed
    ip = db.Column(db.String(45), nullable=False, default="")
    user_agent = db.Column(db.String(300), nullable=False, default="")
    at = db.Column(db.DateTime, nullable=False, default=utcnow)

    version = db.relationship(DocumentVersion)

    __table_args__ = (db.CheckConstraint("kind in ('view','acknowledge','accept')", name="kind"),)
