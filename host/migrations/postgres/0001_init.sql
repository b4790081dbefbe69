-- Workbench schema, PostgreSQL. Times are ms since the Unix epoch. Same
-- tables and meaning as migrations/sqlite; integers are BIGINT so both
-- backends decode them alike, and keys compare bytewise (COLLATE "C") so
-- prefix scans and ordering match SQLite.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE members (
    tenant      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id          TEXT COLLATE "C" NOT NULL,
    profile     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE plugin_versions (
    plugin            TEXT COLLATE "C" NOT NULL,
    version           TEXT NOT NULL,
    manifest          TEXT NOT NULL,
    digest            TEXT NOT NULL,
    component         BYTEA NOT NULL,
    publisher         TEXT NOT NULL,
    published_at      BIGINT NOT NULL,
    publisher_tenant  TEXT NOT NULL DEFAULT '',
    signed_by         TEXT,
    size_bytes        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (plugin, version)
);

CREATE TABLE installations (
    tenant        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    plugin        TEXT COLLATE "C" NOT NULL,
    version       TEXT NOT NULL,
    granted       TEXT NOT NULL,
    visible_to    TEXT,
    state         TEXT NOT NULL CHECK (state IN ('enabled', 'disabled')),
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant, plugin),
    FOREIGN KEY (plugin, version) REFERENCES plugin_versions(plugin, version)
);

CREATE TABLE consents (
    tenant        TEXT NOT NULL,
    member        TEXT NOT NULL,
    plugin        TEXT COLLATE "C" NOT NULL,
    scope         TEXT COLLATE "C" NOT NULL,
    purpose       TEXT NOT NULL,
    separate      BIGINT NOT NULL,
    granted_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    withdrawn_at  BIGINT,
    PRIMARY KEY (tenant, member, plugin, scope)
);
CREATE INDEX consents_plugin ON consents (tenant, plugin);

CREATE TABLE plugin_kv (
    tenant      TEXT NOT NULL,
    plugin      TEXT NOT NULL,
    person      TEXT NOT NULL,
    key         TEXT COLLATE "C" NOT NULL,
    value       BYTEA NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant, plugin, person, key)
);
CREATE INDEX plugin_kv_person ON plugin_kv (tenant, person);

CREATE TABLE audit_records (
    tenant      TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    ts          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    subject     TEXT,
    action      TEXT NOT NULL,
    scope       TEXT,
    purpose     TEXT,
    outcome     TEXT NOT NULL,
    reason      TEXT,
    invocation  TEXT,
    prev_hash   BYTEA NOT NULL,
    hash        BYTEA NOT NULL,
    PRIMARY KEY (tenant, seq)
);
CREATE INDEX audit_records_subject ON audit_records (tenant, subject, seq);
CREATE INDEX audit_records_actor ON audit_records (tenant, actor, seq);

CREATE TABLE audit_checkpoints (
    tenant      TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    signed_at   BIGINT NOT NULL,
    key_id      TEXT NOT NULL,
    signature   TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
);

CREATE TABLE tenant_settings (
    tenant      TEXT PRIMARY KEY,
    retention   TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
