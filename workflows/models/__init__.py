"""The tables: cooperatives and people, cases with their audit trail, steps, timers, tasks,
links, emails, webhooks, bulk jobs, documents, form submissions, the bank side
(provider resources, RIBs, the Swan sandbox), the affiliation's price lists and
bank statement lines. One module per family;
everything is imported from here (``from workflows.models import Case``).

Times are stored in UTC (timezone-aware in Python, on both SQLite and PostgreSQL).
"""

from workflows.models.affiliation import (
    OPTION_KINDS,
    PriceItem,
    PriceKind,
    StatementLine,
)
from workflows.models.banking import BankAccount, ProviderResource, SandboxObject
from workflows.models.base import Base, JSONData, UTCDateTime, table, utcnow
from workflows.models.bulk import BulkItem, BulkItemStatus, BulkJob, BulkStatus
from workflows.models.cases import Case, CaseEvent, Step, StepStatus, Task, TaskStatus, Timer
from workflows.models.documents import Document
from workflows.models.messages import Email, EmailStatus, Token, WebhookEvent
from workflows.models.people import (
    AD,
    OFFICER_LABELS,
    Coop,
    Mandataire,
    OfficerRole,
    StaffRole,
    StaffUser,
)
from workflows.models.submissions import FormSubmission

__all__ = [
    "AD",
    "OFFICER_LABELS",
    "OPTION_KINDS",
    "BankAccount",
    "Base",
    "BulkItem",
    "BulkItemStatus",
    "BulkJob",
    "BulkStatus",
    "Case",
    "CaseEvent",
    "Coop",
    "Document",
    "Email",
    "EmailStatus",
    "FormSubmission",
    "JSONData",
    "Mandataire",
    "OfficerRole",
    "PriceItem",
    "PriceKind",
    "ProviderResource",
    "SandboxObject",
    "StaffRole",
    "StaffUser",
    "StatementLine",
    "Step",
    "StepStatus",
    "Task",
    "TaskStatus",
    "Timer",
    "Token",
    "UTCDateTime",
    "WebhookEvent",
    "table",
    "utcnow",
]
