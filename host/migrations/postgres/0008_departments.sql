-- A tenant's departments as a tree (parent NULL at the top). Members name
-- the departments they belong to in their profile (`departments`), and an
-- installation's visible range (the `visible_to` column, now a rules
-- object: everyone, departments, members, deny lists) is evaluated against
-- them at each call, so a change to the tree bumps the tenant's generation
-- like any directory change.
CREATE TABLE departments (
    tenant      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    parent      TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE CONSTRAINT TRIGGER departments_generation AFTER INSERT OR UPDATE OR DELETE ON departments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_generation();
