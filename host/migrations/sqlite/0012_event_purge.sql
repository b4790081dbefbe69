-- The retention purge finds the events accepted before its cutoff.
CREATE INDEX events_accepted ON events (tenant, accepted_at);
