-- Plugin configuration. An installation keeps the values the admin set for
-- the keys its version declares (a JSON object from key to value; keys
-- left unset read their default).
ALTER TABLE installations ADD COLUMN config TEXT NOT NULL DEFAULT '{}';
