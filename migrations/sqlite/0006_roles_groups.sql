-- Roles and groups (RFC 9068 §2.2.3.1): a user's effective roles are their own plus their groups';
-- service clients hold roles too. Roles are global for now (a nullable API audience comes later).

CREATE TABLE roles (
    name        TEXT PRIMARY KEY NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE groups (
    name       TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE user_roles (
    user_id   TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    role_name TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_name)
);
CREATE INDEX user_roles_role ON user_roles (role_name);

CREATE TABLE client_roles (
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    role_name TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    PRIMARY KEY (client_id, role_name)
);
CREATE INDEX client_roles_role ON client_roles (role_name);

CREATE TABLE group_members (
    group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    PRIMARY KEY (group_name, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE group_roles (
    group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
    role_name  TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    PRIMARY KEY (group_name, role_name)
);
CREATE INDEX group_roles_role ON group_roles (role_name);

-- The scopes that release `roles` and `groups` in ID tokens and UserInfo; an operator's own scope of
-- the same name becomes builtin (kept description).
INSERT INTO scopes (name, description, builtin, created_at) VALUES
    ('roles', 'See your roles', TRUE, 0),
    ('groups', 'See your groups', TRUE, 0)
ON CONFLICT (name) DO UPDATE SET builtin = TRUE;
