"""The plugin's configuration: the values the tenant's admin set at install
for the keys plugin.toml declares under ``[[config]]``, else their defaults
(read through ``wasi:config/store``; ``workbench plugin wit`` adds it to the
world of a plugin that declares configuration).

.. code-block:: toml

    [[config]]
    key = "visits_url"
    description = { zh = "拜访服务的地址", en = "The visit service's base URL" }
    default = "https://visits.acme.example"

.. code-block:: python

    from workbench_sdk import config

    base = config.require("visits_url")

A key the manifest does not declare has no value. Configuration is the
installation's, not a person's: reading it needs no scope.
"""

from __future__ import annotations

from . import _host
from .errors import Internal


def get(key: str) -> str | None:
    """The value of ``key``, if the admin set one or the manifest gives a default."""
    return _host.backend().config_get(key)


def require(key: str) -> str:
    """The value of ``key``; raises :class:`~workbench_sdk.Internal` naming the
    key when it has none."""
    value = get(key)
    if value is None:
        raise Internal(f"the plugin's configuration has no value for {key}; ask your admin")
    return value


def all() -> list[tuple[str, str]]:  # noqa: A001 - the interface's own name
    """Every key with a value, in the manifest's order."""
    return _host.backend().config_all()
