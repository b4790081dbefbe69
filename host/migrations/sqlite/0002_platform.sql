-- The platform: publishers own plugin ids, signed releases, tenant settings,
-- and the indexes uninstall, member removal and the audit filters use.
ALTER TABLE plugin_versions ADD COLUMN publisher_tenant TEXT NOT NULL DEFAULT '';
ALTER TABLE plugin_versions ADD COLUMN signed_by TEXT;
ALTER TABLE plugin_versions ADD COLUMN size_bytes INTEGER NOT NULL DEFAULT 0;

CREATE TABLE tenant_settings (
    tenant      TEXT PRIMARY KEY,
    retention   TEXT NOT NULL,            -- JSON Retention
    updated_at  INTEGER NOT NULL
);

CREATE INDEX consents_plugin ON consents (tenant, plugin);
CREATE INDEX plugin_kv_person ON plugin_kv (tenant, person);
CREATE INDEX audit_records_actor ON audit_records (tenant, actor, seq);
