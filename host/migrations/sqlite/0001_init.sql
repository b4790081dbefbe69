-- Workbench schema, SQLite. Times are ms since the Unix epoch.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE members (
    tenant      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    profile     TEXT NOT NULL,            -- JSON MemberProfile (without id)
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE plugin_versions (
    plugin        TEXT NOT NULL,
    version       TEXT NOT NULL,
    manifest      TEXT NOT NULL,          -- JSON Manifest
    digest        TEXT NOT NULL,          -- sha256 of the component, hex
    component     BLOB NOT NULL,
    publisher     TEXT NOT NULL,
    published_at  INTEGER NOT NULL,
    PRIMARY KEY (plugin, version)
);

CREATE TABLE installations (
    tenant        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    plugin        TEXT NOT NULL,
    version       TEXT NOT NULL,
    granted       TEXT NOT NULL,          -- JSON array of scopes
    visible_to    TEXT,                   -- JSON array of member ids; NULL = everyone
    state         TEXT NOT NULL CHECK (state IN ('enabled', 'disabled')),
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant, plugin),
    FOREIGN KEY (plugin, version) REFERENCES plugin_versions(plugin, version)
);

CREATE TABLE consents (
    tenant        TEXT NOT NULL,
    member        TEXT NOT NULL,
    plugin        TEXT NOT NULL,
    scope         TEXT NOT NULL,
    purpose       TEXT NOT NULL,          -- purpose digest, hex
    separate      INTEGER NOT NULL,
    granted_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    withdrawn_at  INTEGER,
    PRIMARY KEY (tenant, member, plugin, scope)
);

CREATE TABLE plugin_kv (
    tenant      TEXT NOT NULL,
    plugin      TEXT NOT NULL,
    person      TEXT NOT NULL,            -- '' for the plugin-wide bucket
    key         TEXT NOT NULL,
    value       BLOB NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, plugin, person, key)
);

CREATE TABLE audit_records (
    tenant      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    ts          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    subject     TEXT,
    action      TEXT NOT NULL,
    scope       TEXT,
    purpose     TEXT,
    outcome     TEXT NOT NULL,
    reason      TEXT,
    invocation  TEXT,
    prev_hash   BLOB NOT NULL,
    hash        BLOB NOT NULL,
    PRIMARY KEY (tenant, seq)
);
CREATE INDEX audit_records_subject ON audit_records (tenant, subject, seq);

CREATE TABLE audit_checkpoints (
    tenant      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    signed_at   INTEGER NOT NULL,
    key_id      TEXT NOT NULL,
    signature   TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
);
