-- The upgrade review: versions an app admin declined (the installed one
-- keeps running; a later version is reviewed afresh), and whether a tenant
-- lets versions that widen nothing apply themselves (off by default).
CREATE TABLE upgrade_declines (
    tenant      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    plugin      TEXT NOT NULL,
    version     TEXT NOT NULL,
    decided_by  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    decided_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant, plugin, version)
);

CREATE TABLE upgrade_settings (
    tenant      TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    auto_apply  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
