"""The calling person's permissions in the platform, one function per scope."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from . import _host


class CustomerAccess(Enum):
    """What the person may do with one enterprise customer."""

    VIEW = "view"
    EDIT = "edit"
    MANAGE = "manage"


@dataclass(frozen=True)
class CustomerPermission:
    """The person's permission on one enterprise customer."""

    customer_id: str
    customer_name: str
    access: CustomerAccess


@dataclass(frozen=True)
class ApprovalPermission:
    """The person's part in one approval process."""

    process_id: str
    process_name: str
    can_approve: bool
    can_initiate: bool
    max_amount_cents: int | None = None


def customers() -> list[CustomerPermission]:
    """Scope ``perm.customer``: the customers the person has access to."""

    def convert(items):
        return [
            c
            if isinstance(c, CustomerPermission)
            else CustomerPermission(c.customer_id, c.customer_name, CustomerAccess[c.access.name])
            for c in items
        ]

    return _host.backend().field("perm.customer", convert)


def approvals() -> list[ApprovalPermission]:
    """Scope ``perm.approval``: the approval processes the person takes part in."""

    def convert(items):
        return [
            a
            if isinstance(a, ApprovalPermission)
            else ApprovalPermission(a.process_id, a.process_name, a.can_approve, a.can_initiate, a.max_amount_cents)
            for a in items
        ]

    return _host.backend().field("perm.approval", convert)
