"""Why the host refused an access, and the failures a plugin reports."""

from __future__ import annotations

from enum import Enum


class Reason(Enum):
    """Why the host refused an access (the same codes as the audit log)."""

    NOT_DECLARED = "not_declared"
    """plugin.toml does not declare the scope."""
    NOT_GRANTED = "not_granted"
    """The tenant admin did not grant the scope to this plugin."""
    NOT_CONSENTED = "not_consented"
    """The person never consented to the scope (sensitive scopes need their own consent)."""
    CONSENT_WITHDRAWN = "consent_withdrawn"
    """The person withdrew their consent."""
    CONSENT_EXPIRED = "consent_expired"
    """The person's consent has expired."""
    PURPOSE_CHANGED = "purpose_changed"
    """The purpose changed since the person consented; they must consent again."""
    QUOTA_EXCEEDED = "quota_exceeded"
    """A per-call or per-plugin quota of the host was exhausted."""


class AccessError(Exception):
    """The host refused to hand out a scope. Every refusal is also in the
    tenant's audit log with the same reason."""

    def __init__(self, scope: str, reason: Reason, detail: str = "") -> None:
        self.scope = scope
        self.reason = reason
        message = f"{scope}: {reason.value}"
        super().__init__(f"{message} ({detail})" if detail else message)

    @property
    def code(self) -> str:
        """The reason's code, e.g. ``"not_consented"``."""
        return self.reason.value


class PluginError(Exception):
    """A failure the plugin reports instead of a response. Raise one of the
    subclasses from the handler."""


class BadRequest(PluginError):
    """The request was malformed; the message is shown to the person (400)."""


class NotFound(PluginError):
    """Nothing at that path (404)."""


class Internal(PluginError):
    """The plugin failed; the message goes to the audit log, not the person (502)."""
