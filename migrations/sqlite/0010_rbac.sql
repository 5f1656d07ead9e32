-- Role-based scopes: for an API created `--rbac`, a caller receives one of its scopes only if one of
-- its effective roles grants it.
ALTER TABLE apis ADD COLUMN rbac INTEGER NOT NULL DEFAULT 0;

CREATE TABLE role_scopes (
    role_name TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    scope     TEXT NOT NULL REFERENCES scopes (name) ON DELETE CASCADE,
    PRIMARY KEY (role_name, scope)
);
CREATE INDEX role_scopes_scope ON role_scopes (scope);
