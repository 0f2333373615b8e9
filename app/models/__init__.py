"""All models, importable from one place."""

from app.models.accounts import ROLES, ApiKey, Organization, User, hash_api_key, org_zone
from app.models.activity import ACTIVITY_KINDS, Activity, ImportJob, ImportRow
from app.models.base import iso, utcnow
from app.models.booking import AvailabilityWindow, BookingProfile, Meeting
from app.models.deals import (
    Company,
    Contact,
    Deal,
    DealContact,
    DealFieldChange,
    Notification,
    StageTransition,
    Task,
)
from app.models.documents import DOCUMENT_ASKS, DealDocument, DocumentEvent, DocumentVersion
from app.models.health import WorkerTick
from app.models.leads import (
    ContactEvent,
    EngagementRule,
    FitRule,
    LeadCrossing,
    LeadForm,
    LeadFormView,
    LeadSettings,
    LeadSubmission,
)
from app.models.pipeline import (
    CONTACT_ROLES,
    FIELD_TYPES,
    STAGE_KINDS,
    CriteriaChange,
    FieldDef,
    LossReason,
    Pipeline,
    Stage,
    StageRequirement,
)
from app.models.playbooks import (
    PROMPT_KINDS,
    DealObjection,
    DiscoveryAnswer,
    DiscoveryPrompt,
    Objection,
    Playbook,
)
from app.models.reports import ForecastSnapshot, OwnerForecastSnapshot
from app.models.rooms import DealRoom, RoomColleague, RoomComment, RoomInvite, RoomStep
from app.models.sequences import (
    BulkEnrollJob,
    Enrollment,
    InboundEmail,
    Mailbox,
    OutboundEmail,
    OutreachSettings,
    QuarantinedEmail,
    SenderDay,
    SenderPause,
    Sequence,
    SequenceStep,
    StepSend,
    Suppression,
)
from app.models.sms import SmsNumber, SmsSettings
from app.models.tally import StageTally
from app.models.webhooks import Webhook, WebhookDelivery

__all__ = [
    "ROLES", "ApiKey", "Organization", "User", "hash_api_key", "org_zone", "iso", "utcnow",
    "Company", "Contact", "Deal", "DealContact", "DealFieldChange", "Notification", "StageTransition", "Task",
    "CONTACT_ROLES", "FIELD_TYPES", "STAGE_KINDS", "CriteriaChange", "FieldDef", "LossReason", "Pipeline",
    "Stage", "StageRequirement",
    "ACTIVITY_KINDS", "Activity", "ImportJob", "ImportRow",
    "WorkerTick",
    "BulkEnrollJob", "Enrollment", "InboundEmail", "Mailbox", "OutboundEmail", "OutreachSettings", "QuarantinedEmail", "SenderDay",
    "SenderPause", "Sequence", "SequenceStep", "StepSend", "Suppression",
    "ContactEvent", "EngagementRule", "FitRule", "LeadCrossing", "LeadForm", "LeadFormView", "LeadSettings",
    "LeadSubmission",
    "ForecastSnapshot", "OwnerForecastSnapshot",
    "SmsNumber", "SmsSettings",
    "StageTally",
    "DOCUMENT_ASKS", "DealDocument", "DocumentEvent", "DocumentVersion",
    "DealRoom", "RoomColleague", "RoomComment", "RoomInvite", "RoomStep",
    "AvailabilityWindow", "BookingProfile", "Meeting",
    "PROMPT_KINDS", "DealObjection", "DiscoveryAnswer", "DiscoveryPrompt", "Objection", "Playbook",
    "Webhook", "WebhookDelivery",
]
