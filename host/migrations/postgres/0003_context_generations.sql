-- A tenant's generation: bumped in the same transaction as every change to
-- its directory, installations or consents. Each replica caches invocation
-- contexts (profile, installation, consents) tagged with the generation it
-- read before reading them, and uses a cached one only while the tenant's
-- generation is unchanged: one primary-key read per call, and a change
-- committed through any replica binds the next call on every replica.
CREATE TABLE tenant_generations (
    tenant      TEXT PRIMARY KEY,
    generation  BIGINT NOT NULL
);

-- Deferred to commit, so the generation row is the last lock a transaction
-- takes (no lock-order cycle with the rows it changed), and taken once per
-- tenant per transaction (a transaction-local setting remembers it).
CREATE FUNCTION bump_generation() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed TEXT;
    marker TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := OLD.tenant;
    ELSE
        changed := NEW.tenant;
    END IF;
    marker := 'workbench.generation_' || md5(changed);
    IF current_setting(marker, true) IS DISTINCT FROM 'bumped' THEN
        INSERT INTO tenant_generations (tenant, generation) VALUES (changed, 1)
        ON CONFLICT (tenant) DO UPDATE SET generation = tenant_generations.generation + 1;
        PERFORM set_config(marker, 'bumped', true);
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER members_generation AFTER INSERT OR UPDATE OR DELETE ON members
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_generation();
CREATE CONSTRAINT TRIGGER installations_generation AFTER INSERT OR UPDATE OR DELETE ON installations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_generation();
CREATE CONSTRAINT TRIGGER consents_generation AFTER INSERT OR UPDATE OR DELETE ON consents
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_generation();
