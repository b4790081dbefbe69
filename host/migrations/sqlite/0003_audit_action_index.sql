-- An action's records in seq order: a query by a rare action (an uninstall,
-- an upgrade) reads its few records instead of walking the whole tenant.
CREATE INDEX audit_records_action ON audit_records (tenant, action, seq);
