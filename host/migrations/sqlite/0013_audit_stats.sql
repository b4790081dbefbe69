-- The audit statistics: a rollup of the audit records the audit writer
-- updates in the records' own transaction (and the purge when they go).
-- Each record counts in its tenant's row for everyone (subject '') and, when
-- it is about a member, in that member's row; '' where it has no value.
CREATE TABLE audit_stats (
    tenant      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    hour        INTEGER NOT NULL,        -- start of the UTC hour, ms
    plugin      TEXT NOT NULL,
    action      TEXT NOT NULL,
    scope       TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT NOT NULL,           -- the reason's code
    destination TEXT NOT NULL,
    records     INTEGER NOT NULL,
    bytes_out   INTEGER NOT NULL,
    bytes_in    INTEGER NOT NULL,
    last_ts     INTEGER NOT NULL,
    PRIMARY KEY (tenant, subject, hour, plugin, action, scope, outcome, reason, destination)
) WITHOUT ROWID;
CREATE INDEX audit_stats_plugin ON audit_stats (tenant, subject, plugin, hour);

-- Records written before the rollup existed, counted in the background:
-- each tenant's records with done < seq <= through.
CREATE TABLE audit_stats_backfill (
    tenant      TEXT PRIMARY KEY,
    done        INTEGER NOT NULL,
    through     INTEGER NOT NULL
);
INSERT INTO audit_stats_backfill (tenant, done, through)
    SELECT tenant, MIN(seq) - 1, MAX(seq) FROM audit_records GROUP BY tenant;
