-- A tenant's departments as a tree (parent NULL at the top). Members name
-- the departments they belong to in their profile (`departments`), and an
-- installation's visible range (the `visible_to` column, now a rules
-- object: everyone, departments, members, deny lists) is evaluated against
-- them at each call.
CREATE TABLE departments (
    tenant      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    parent      TEXT,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
);
