"""The calling person's basic information, one function per scope. Each
returns the field or raises :class:`~workbench_sdk.AccessError` (not
declared, not granted, not consented, withdrawn, expired, purpose changed);
every attempt is one audit record. Sensitive scopes (birthday, email, phone)
need the person's separate consent."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import Enum

from . import _host


class Gender(Enum):
    """Gender as the person entered it."""

    MALE = "male"
    FEMALE = "female"
    UNDISCLOSED = "undisclosed"


@dataclass(frozen=True)
class Department:
    """Where the person sits in the organisation."""

    name: str
    title: str


def _same(value):
    return value


def user_id() -> str:
    """Scope ``user.id``: an id for the person that only this plugin sees."""
    return _host.backend().field("user.id", _same)


def avatar() -> str | None:
    """Scope ``user.avatar``: the avatar's URL, if set."""
    return _host.backend().field("user.avatar", _same)


def nickname() -> str | None:
    """Scope ``user.nickname``."""
    return _host.backend().field("user.nickname", _same)


def name() -> str:
    """Scope ``user.name``: the real name."""
    return _host.backend().field("user.name", _same)


def gender() -> Gender:
    """Scope ``user.gender``."""
    return _host.backend().field("user.gender", lambda g: Gender[g.name] if not isinstance(g, Gender) else g)


def birthday() -> datetime.date | None:
    """Scope ``user.birthday`` (sensitive)."""

    def convert(d):
        if d is None or isinstance(d, datetime.date):
            return d
        return datetime.date(d.year, d.month, d.day)

    return _host.backend().field("user.birthday", convert)


def region() -> str | None:
    """Scope ``user.region``: where the person works."""
    return _host.backend().field("user.region", _same)


def email() -> str | None:
    """Scope ``user.email`` (sensitive): the enterprise email address."""
    return _host.backend().field("user.email", _same)


def phone() -> str | None:
    """Scope ``user.phone`` (sensitive): the mobile number."""
    return _host.backend().field("user.phone", _same)


def department() -> Department | None:
    """Scope ``org.department``: department and job title."""

    def convert(p):
        if p is None or isinstance(p, Department):
            return p
        return Department(p.name, p.title)

    return _host.backend().field("org.department", convert)
