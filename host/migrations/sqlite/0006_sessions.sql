-- Sign out everywhere: a member's tokens issued at or before this instant
-- (milliseconds since the epoch; 0 = never) are refused with 401
-- session_ended. Changed with the member's row, so it bumps the tenant's
-- generation like any directory change.
ALTER TABLE members ADD COLUMN sessions_ended_at INTEGER NOT NULL DEFAULT 0;
