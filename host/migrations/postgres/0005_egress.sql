-- Outbound requests. An installation keeps the destinations the admin
-- approved (a JSON list, like its granted scopes); an audit record of an
-- outbound request keeps where it went (filtered on, so indexed) and the
-- rest of what it says (method, path, status, bytes, duration, the fields
-- that could have left) as JSON.
ALTER TABLE installations ADD COLUMN egress TEXT NOT NULL DEFAULT '[]';
ALTER TABLE audit_records ADD COLUMN destination TEXT;
ALTER TABLE audit_records ADD COLUMN egress TEXT;
CREATE INDEX audit_records_destination ON audit_records (tenant, destination, seq);
