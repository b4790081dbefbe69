-- How each plugin version's calls ended and how long they took, per tenant
-- and UTC hour, for its developer's view (counts only: no member, no data).
CREATE TABLE plugin_runs (
    plugin          TEXT NOT NULL,
    version         TEXT NOT NULL,
    tenant          TEXT NOT NULL,
    hour            BIGINT NOT NULL,   -- start of the UTC hour, ms
    kind            TEXT NOT NULL,      -- ok, plugin_error, deadline, trap, refused
    bucket          BIGINT NOT NULL,   -- the duration's bucket
    calls           BIGINT NOT NULL,
    egress_failures BIGINT NOT NULL,
    PRIMARY KEY (plugin, version, tenant, hour, kind, bucket)
);
CREATE INDEX plugin_runs_hour ON plugin_runs (plugin, hour);
