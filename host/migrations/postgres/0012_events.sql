-- Events and their deliveries (the outbox), and the members' inbox.

-- The subscriptions the admin approved for an installation: event kinds
-- (`approval.submitted`) and schedules (`schedule:NAME`), as a JSON list.
ALTER TABLE installations ADD COLUMN subscriptions TEXT NOT NULL DEFAULT '[]';

-- Every accepted event, once per id and tenant.
CREATE TABLE events (
    tenant      TEXT NOT NULL,
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    subject     TEXT,
    occurred_at BIGINT NOT NULL,
    payload     TEXT NOT NULL,
    source      TEXT NOT NULL,
    accepted_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, id)
);

-- One delivery per event and subscribed installation, written with the
-- event. A replica claims a due one under a lease.
CREATE TABLE deliveries (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    plugin      TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    BIGINT NOT NULL,
    next_at     BIGINT NOT NULL,
    claimed_by  TEXT,
    lease_until BIGINT,
    last_error  TEXT,
    updated_at  BIGINT NOT NULL,
    UNIQUE (tenant, event_id, plugin)
);
CREATE INDEX deliveries_due ON deliveries (state, next_at);
CREATE INDEX deliveries_tenant ON deliveries (tenant, updated_at);

-- Notifications plugins put in members' inboxes.
CREATE TABLE notifications (
    tenant     TEXT NOT NULL,
    id         TEXT NOT NULL,
    member     TEXT NOT NULL,
    plugin     TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    route      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at    BIGINT,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX notifications_member ON notifications (tenant, member, created_at);
CREATE INDEX notifications_plugin ON notifications (tenant, plugin, created_at);
