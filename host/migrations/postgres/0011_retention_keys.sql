-- Retention that still verifies: before a purge deletes a tenant's oldest
-- records it writes a signed anchor (the seq and hash of the last record it
-- deletes); verification starts from the latest anchor.
CREATE TABLE audit_anchors (
    tenant      TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    anchored_at BIGINT NOT NULL,
    key_id      TEXT NOT NULL,
    signature   TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
);

-- The audit signing keys a deployment has used: each key after the first
-- arrives with a handover signed by the key before it and by itself.
CREATE TABLE audit_keys (
    key_id          TEXT PRIMARY KEY,
    public_key      TEXT NOT NULL,
    first_used_at   BIGINT NOT NULL,
    previous        TEXT,
    handed_over_at  BIGINT,
    signed_by_previous TEXT,
    signed_by_self  TEXT
);

-- A bucket untouched for longer than the tenant's period is found by its
-- newest write.
CREATE INDEX plugin_kv_updated ON plugin_kv (tenant, updated_at);

-- Consent receipts: the signed document a member keeps of each consent and
-- withdrawal, written in the change's own transaction with its record.
CREATE TABLE consent_receipts (
    tenant      TEXT NOT NULL,
    audit_seq   BIGINT NOT NULL,
    member      TEXT NOT NULL,
    plugin      TEXT NOT NULL,
    action      TEXT NOT NULL,
    issued_at   BIGINT NOT NULL,
    document    TEXT NOT NULL,
    PRIMARY KEY (tenant, audit_seq)
);
CREATE INDEX consent_receipts_member ON consent_receipts (tenant, member, audit_seq);
