-- The audit table only grows, and its queries walk it in seq order, stopping
-- at a page: the planner needs current row counts to choose that walk over a
-- scan and sort of the whole tenant. Re-analyze after every 1% of growth
-- (the default is 10%) when autovacuum runs.
ALTER TABLE audit_records SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 10000);
