-- Members opening plugins themselves: the tenant's rule per catalogue
-- plugin (none, request, open; the scopes and destinations an opening may
-- grant), the members a plugin was opened for (its visible range names
-- them), and members' requests with the app admin's decision.
CREATE TABLE self_service (
    tenant      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    plugin      TEXT NOT NULL,
    mode        TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    egress      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, plugin)
);

CREATE TABLE self_openings (
    tenant      TEXT NOT NULL,
    plugin      TEXT NOT NULL,
    member      TEXT NOT NULL,
    via         TEXT NOT NULL,
    opened_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant, plugin, member),
    FOREIGN KEY (tenant, plugin) REFERENCES installations(tenant, plugin) ON DELETE CASCADE,
    FOREIGN KEY (tenant, member) REFERENCES members(tenant, id) ON DELETE CASCADE
);

CREATE TABLE plugin_requests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL,
    plugin      TEXT NOT NULL,
    member      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    state       TEXT NOT NULL,
    decided_by  TEXT,
    decision    TEXT,
    created_at  INTEGER NOT NULL,
    decided_at  INTEGER,
    FOREIGN KEY (tenant, member) REFERENCES members(tenant, id) ON DELETE CASCADE
);
CREATE INDEX plugin_requests_by_tenant ON plugin_requests (tenant, state, id);
