"""Key-value storage (the ``storage`` scope, granted by the tenant admin):
a bucket shared by everyone in the tenant who uses the plugin, and a bucket
private to the calling person, deleted when they withdraw or leave. Keys are
1 to 256 bytes without control characters. Every call is one audit record."""

from __future__ import annotations

from . import _host
from .errors import AccessError


class StorageError(Exception):
    """A storage call the host refused for its arguments or the quota."""


class InvalidKey(StorageError):
    """The key is empty, too long or has control characters; says which."""


class ValueTooLarge(StorageError):
    """The value is over the per-value limit."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"values are at most {limit_bytes} bytes")
        self.limit_bytes = limit_bytes


class QuotaExceeded(StorageError):
    """Writing would take the bucket past its quota."""

    def __init__(self, limit_bytes: int, used_bytes: int) -> None:
        super().__init__(f"the bucket holds {used_bytes} of {limit_bytes} bytes")
        self.limit_bytes = limit_bytes
        self.used_bytes = used_bytes


def _call(operation: str, person: bool, *args):
    try:
        return _host.backend().storage(operation, person, *args)
    except _host.StorageFailure as failed:
        if failed.kind == "InvalidKey":
            raise InvalidKey(failed.detail) from None
        if failed.kind == "ValueTooLarge":
            raise ValueTooLarge(failed.detail) from None
        raise QuotaExceeded(*failed.detail) from None


class Bucket:
    """One bucket: ``storage.plugin`` or ``storage.person``."""

    def __init__(self, person: bool) -> None:
        self.person = person

    def get(self, key: str) -> bytes | None:
        """The value of ``key``, or None."""
        return _call("get", self.person, key)

    def get_text(self, key: str) -> str | None:
        """The value of ``key`` as UTF-8 text, or None."""
        value = self.get(key)
        return None if value is None else value.decode("utf-8", "replace")

    def set(self, key: str, value: bytes | str) -> None:
        """Writes ``value`` (text is stored as UTF-8), replacing any earlier one."""
        _call("set", self.person, key, value.encode() if isinstance(value, str) else bytes(value))

    def delete(self, key: str) -> bool:
        """Deletes ``key``; True when it existed."""
        return _call("delete", self.person, key)

    def keys(self, prefix: str = "") -> list[str]:
        """The keys starting with ``prefix``, in byte order, at most 1000."""
        return _call("list_keys", self.person, prefix)


plugin = Bucket(person=False)
"""Shared by everyone in the tenant who uses this plugin."""

person = Bucket(person=True)
"""Private to the calling person."""

__all__ = ["AccessError", "Bucket", "InvalidKey", "QuotaExceeded", "StorageError", "ValueTooLarge", "person", "plugin"]
