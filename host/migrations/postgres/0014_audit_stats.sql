-- The audit statistics: a rollup of the audit records the audit writer
-- updates in the records' own transaction (and the purge when they go).
-- Each record counts in its tenant's row for everyone (subject '') and, when
-- it is about a member, in that member's row; '' where it has no value.
CREATE TABLE audit_stats (
    tenant      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    hour        BIGINT NOT NULL,        -- start of the UTC hour, ms
    plugin      TEXT NOT NULL,
    action      TEXT NOT NULL,
    scope       TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT NOT NULL,           -- the reason's code
    destination TEXT NOT NULL,
    records     BIGINT NOT NULL,
    bytes_out   BIGINT NOT NULL,
    bytes_in    BIGINT NOT NULL,
    last_ts     BIGINT NOT NULL,
    PRIMARY KEY (tenant, subject, hour, plugin, action, scope, outcome, reason, destination)
) WITH (fillfactor = 80);  -- room for its counts' updates in the same page (HOT)
CREATE INDEX audit_stats_plugin ON audit_stats (tenant, subject, plugin, hour);

-- Records written before the rollup existed, counted in the background:
-- each tenant's records with done < seq <= through.
CREATE TABLE audit_stats_backfill (
    tenant      TEXT PRIMARY KEY,
    done        BIGINT NOT NULL,
    through     BIGINT NOT NULL
);
INSERT INTO audit_stats_backfill (tenant, done, through)
    SELECT tenant, MIN(seq) - 1, MAX(seq) FROM audit_records GROUP BY tenant;
