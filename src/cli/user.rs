//! `latchkey user …`: the people who sign in.

use clap::{Args, Subcommand};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::role::{list, strs};
use super::view::{self, shown};
use super::{CliError, Context, Local, Via, or_dash, read_password_stdin, remote};
use crate::admin::role as admin_role;
use crate::admin::user::{
    self as admin_user, NewUser, SignOutKind, UserView, revocations_kept_until,
};
use crate::admin::{Change, find_user};
use crate::clock::format_rfc3339;
use crate::domain::audit::{AuditEvent, InTransaction};
use crate::domain::grant::SignOut;
use crate::domain::password::hash_new_password;
use crate::domain::role::RoleName;
use crate::domain::user::{User, UserId, normalize_username};
use crate::paths::{
    ADMIN_USER_DISABLE_PATH, ADMIN_USER_ENABLE_PATH, ADMIN_USER_MFA_RESET_PATH,
    ADMIN_USER_PASSWORD_PATH, ADMIN_USER_PATH, ADMIN_USER_REVOKE_SESSIONS_PATH,
    ADMIN_USER_ROLE_PATH, ADMIN_USERS_PATH,
};

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create(CreateArgs),
    /// List users.
    List,
    /// Show one user.
    Show {
        /// The username.
        username: String,
    },
    /// Set a user's password, read from standard input, and sign them out everywhere.
    SetPassword {
        /// The username.
        username: String,
        /// Read the password from standard input (required: never pass it as an argument).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Stop a user from signing in, and sign them out everywhere.
    Disable {
        /// The username.
        username: String,
    },
    /// Let a disabled user sign in again.
    Enable {
        /// The username.
        username: String,
    },
    /// Sign a user out everywhere without changing their password: end their browser sessions,
    /// revoke their grants (refresh and access tokens) and void their unredeemed authorization codes.
    RevokeSessions {
        /// The username.
        username: String,
    },
    /// Delete a user and everything issued to them.
    Delete {
        /// The username.
        username: String,
    },
    /// Give a user a role directly (tokens issued from now on carry it).
    AddRole {
        /// The username.
        username: String,
        /// The role name.
        role: String,
    },
    /// Take a directly held role from a user (roles through a group stay).
    RemoveRole {
        /// The username.
        username: String,
        /// The role name.
        role: String,
    },
    /// A user's second factors.
    Mfa {
        #[command(subcommand)]
        command: MfaCommand,
    },
}

/// `user mfa …`.
#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// Remove a user's second factors (authenticator app and recovery codes), for a user who lost
    /// them: they enrol again at their next sign-in that needs two factors.
    Reset {
        /// The username.
        username: String,
    },
}

/// `user create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Sign-in name (case-insensitive).
    #[arg(long)]
    username: String,
    /// Email address (released with the `email` scope, marked verified).
    #[arg(long)]
    email: Option<String>,
    /// Full name (released with the `profile` scope).
    #[arg(long)]
    name: Option<String>,
    /// Read the password from standard input (required: never pass it as an argument).
    #[arg(long, required = true)]
    password_stdin: bool,
}

fn describe(u: &view::User) -> String {
    format!(
        "user_id:  {}\nusername: {}\nemail:    {}\nname:     {}\ndisabled: {}\ncreated:  {}\n",
        u.user_id,
        u.username,
        or_dash(u.email.as_deref()),
        or_dash(u.name.as_deref()),
        u.disabled,
        format_rfc3339(u.created_at)
    )
}

/// The text of `user list`.
fn table(users: &[view::User]) -> String {
    let mut text = format!(
        "{:<24} {:<24} {:<30} {}\n",
        "USER_ID", "USERNAME", "EMAIL", "DISABLED"
    );
    for u in users {
        text.push_str(&format!(
            "{:<24} {:<24} {:<30} {}\n",
            u.user_id,
            u.username,
            or_dash(u.email.as_deref()),
            u.disabled
        ));
    }
    text
}

/// Check the password policy against the user's own details (OWASP ASVS §2.1.1, §2.1.7) and hash
/// off the async runtime: argon2id is deliberately slow.
async fn hash(password: SecretString, inputs: Vec<String>) -> Result<String, CliError> {
    tokio::task::spawn_blocking(move || {
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        hash_new_password(&password, &inputs)
    })
    .await
    .map_err(|_| CliError::Invalid("password hashing was interrupted".into()))?
    .map_err(|e| CliError::Invalid(e.to_string()))
}

async fn find(local: &Local, username: &str) -> Result<User, CliError> {
    Ok(find_user(local.store.as_ref(), username).await?)
}

fn gone(id: &UserId) -> CliError {
    CliError::Invalid(format!("user {id} was deleted meanwhile"))
}

/// `/admin/v1/users/{username}` and the paths under it.
fn user_path(template: &str, username: &str) -> Result<String, CliError> {
    remote::path(template, &[username])
}

/// Run a user command.
pub async fn run(ctx: &Context, command: UserCommand) -> Result<(), CliError> {
    match command {
        UserCommand::Create(args) => {
            let new = NewUser {
                username: args.username,
                email: args.email,
                name: args.name,
            };
            let user: view::User = match &ctx.via {
                Via::Local(local) => {
                    let checked = admin_user::check(local.store.as_ref(), &new).await?;
                    let password_hash =
                        hash(read_password_stdin()?, checked.password_inputs()).await?;
                    let user = checked.into_user(password_hash, local.clock.now());
                    local.store.create_user(&user).await?;
                    let view = UserView::from(&user);
                    changed(
                        local,
                        &user,
                        "created",
                        ("user", serde_json::to_value(&view).unwrap_or_default()),
                    )
                    .await?;
                    shown(&view)?
                }
                Via::Server(server) => {
                    let password = read_password_stdin()?;
                    // The password travels only in this body, over https or loopback (remote.rs).
                    let body = serde_json::json!({
                        "username": new.username,
                        "email": new.email,
                        "name": new.name,
                        "password": password.expose_secret(),
                    });
                    server
                        .call(Method::POST, ADMIN_USERS_PATH, Some(&body))
                        .await?
                }
            };
            ctx.print(&user, || describe(&user));
            Ok(())
        }
        UserCommand::List => {
            let users: Vec<view::User> = match &ctx.via {
                Via::Local(local) => {
                    let users = local.store.list_users().await?;
                    shown(&users.iter().map(UserView::from).collect::<Vec<_>>())?
                }
                Via::Server(server) => server.get(ADMIN_USERS_PATH).await?,
            };
            ctx.print(&users, || table(&users));
            Ok(())
        }
        UserCommand::Show { username } => {
            let detail: view::UserWithRoles = match &ctx.via {
                Via::Local(local) => {
                    let user = find(local, &username).await?;
                    let authorization = local.store.find_authorization(&user.user_id).await?;
                    let strings =
                        |roles: &[RoleName]| roles.iter().map(|r| r.to_string()).collect();
                    view::UserWithRoles {
                        user: shown(&UserView::from(&user))?,
                        roles: strings(&authorization.roles),
                        direct_roles: strings(&authorization.direct_roles),
                        groups: authorization.groups.iter().map(|g| g.to_string()).collect(),
                        second_factors: admin_user::second_factors(
                            local.store.as_ref(),
                            &user.user_id,
                        )
                        .await?,
                    }
                }
                Via::Server(server) => server.get(&user_path(ADMIN_USER_PATH, &username)?).await?,
            };
            ctx.print(&detail, || {
                let factors = &detail.second_factors;
                format!(
                    "{}roles:    {}\ndirect:   {}\ngroups:   {}\nmfa:      {}\n",
                    describe(&detail.user),
                    list(&strs(&detail.roles)),
                    list(&strs(&detail.direct_roles)),
                    list(&strs(&detail.groups)),
                    describe_factors(factors),
                )
            });
            Ok(())
        }
        UserCommand::Mfa {
            command: MfaCommand::Reset { username },
        } => {
            let reset: admin_user::MfaReset = match &ctx.via {
                Via::Local(local) => {
                    let user = find(local, &username).await?;
                    // The removal and its audit event commit together.
                    let event = change_of(local, &user, "mfa_reset");
                    let removed = local
                        .store
                        .reset_second_factors(&user.user_id, InTransaction::done(&event))
                        .await?;
                    if removed {
                        crate::audit::log(&event);
                    }
                    admin_user::MfaReset {
                        username: user.username,
                        removed,
                    }
                }
                Via::Server(server) => {
                    let path = user_path(ADMIN_USER_MFA_RESET_PATH, &username)?;
                    server.call(Method::POST, &path, None).await?
                }
            };
            ctx.print(&reset, || {
                if reset.removed {
                    format!("removed the second factors of {}", reset.username)
                } else {
                    format!("{} had no second factor", reset.username)
                }
            });
            Ok(())
        }
        UserCommand::AddRole { username, role } => {
            let (username, role) = change_role(ctx, &username, &role, Change::Add).await?;
            ctx.print(
                &serde_json::json!({ "username": username, "added_role": role.as_str() }),
                || format!("{username} now has role {role}"),
            );
            Ok(())
        }
        UserCommand::RemoveRole { username, role } => {
            let (username, role) = change_role(ctx, &username, &role, Change::Remove).await?;
            ctx.print(
                &serde_json::json!({ "username": username, "removed_role": role.as_str() }),
                || format!("{username} no longer has role {role}"),
            );
            Ok(())
        }
        UserCommand::SetPassword { username, .. } => {
            let done = match &ctx.via {
                Via::Local(local) => {
                    let user = find(local, &username).await?;
                    let password_hash = hash(
                        read_password_stdin()?,
                        admin_user::password_inputs_of(&user),
                    )
                    .await?;
                    let now = local.clock.now();
                    // That the password changed, never the password; committed with the change.
                    let event = change_of(local, &user, "password_set");
                    let signed_out = local
                        .store
                        .set_user_password(
                            &user.user_id,
                            &password_hash,
                            now,
                            keep_until(local, now),
                            InTransaction::done(&event),
                        )
                        .await?
                        .ok_or_else(|| gone(&user.user_id))?;
                    crate::audit::log(&event);
                    signed_out_view(&user, signed_out)
                }
                Via::Server(server) => {
                    let password = read_password_stdin()?;
                    let body = serde_json::json!({ "password": password.expose_secret() });
                    let path = user_path(ADMIN_USER_PASSWORD_PATH, &username)?;
                    server.call(Method::PUT, &path, Some(&body)).await?
                }
            };
            report(
                ctx,
                Some(("password_changed", true)),
                &done,
                "password changed",
            );
            Ok(())
        }
        UserCommand::Disable { username } => {
            let done = sign_out(ctx, &username, SignOutKind::Disable).await?;
            report(ctx, Some(("disabled", true)), &done, "disabled");
            Ok(())
        }
        UserCommand::Enable { username } => {
            let username = match &ctx.via {
                Via::Local(local) => {
                    let user = find(local, &username).await?;
                    if !local
                        .store
                        .enable_user(&user.user_id, local.clock.now())
                        .await?
                    {
                        return Err(gone(&user.user_id));
                    }
                    changed(local, &user, "enabled", ("disabled", false.into())).await?;
                    user.username
                }
                Via::Server(server) => {
                    #[derive(Deserialize)]
                    struct Enabled {
                        username: String,
                    }
                    let path = user_path(ADMIN_USER_ENABLE_PATH, &username)?;
                    let enabled: Enabled = server.call(Method::POST, &path, None).await?;
                    enabled.username
                }
            };
            ctx.print(
                &serde_json::json!({ "username": username, "disabled": false }),
                || format!("enabled {username}"),
            );
            Ok(())
        }
        UserCommand::RevokeSessions { username } => {
            let done = sign_out(ctx, &username, SignOutKind::RevokeSessions).await?;
            report(ctx, None, &done, "signed out");
            Ok(())
        }
        UserCommand::Delete { username } => {
            let username = match &ctx.via {
                Via::Local(local) => {
                    let user = find(local, &username).await?;
                    if !local
                        .store
                        .delete_user(&user.user_id, local.clock.now())
                        .await?
                    {
                        return Err(gone(&user.user_id));
                    }
                    changed(
                        local,
                        &user,
                        "deleted",
                        ("username", user.username.clone().into()),
                    )
                    .await?;
                    user.username
                }
                Via::Server(server) => {
                    server
                        .call_done(Method::DELETE, &user_path(ADMIN_USER_PATH, &username)?)
                        .await?;
                    // The name as stored, as the local command prints it.
                    normalize_username(&username).map_err(|e| CliError::Invalid(e.0))?
                }
            };
            ctx.print(&serde_json::json!({ "deleted": username }), || {
                format!("deleted user {username}")
            });
            Ok(())
        }
    }
}

/// Give the user `username` the role `role` directly, or take it; the user's name and the role.
async fn change_role(
    ctx: &Context,
    username: &str,
    role: &str,
    change: Change,
) -> Result<(String, RoleName), CliError> {
    let role = admin_role::parse_name(role)?;
    match &ctx.via {
        Via::Local(local) => {
            let user = admin_role::user_role(local.store.as_ref(), username, &role, change).await?;
            let action = change.action("role");
            changed(local, &user, &action, ("role", role.as_str().into())).await?;
            Ok((user.username, role))
        }
        Via::Server(server) => {
            #[derive(Deserialize)]
            struct Linked {
                username: String,
            }
            let path = remote::path(ADMIN_USER_ROLE_PATH, &[username, role.as_str()])?;
            let linked: Linked = server.call(remote::link(change), &path, None).await?;
            Ok((linked.username, role))
        }
    }
}

/// An operator's change to `user`, for the audit trail.
fn change_of(local: &Local, user: &User, action: &str) -> AuditEvent {
    local
        .change("user", action, &user.username)
        .user(user.user_id.to_string())
}

/// Record an operator's change to `user` in the audit trail, with one `detail` field.
async fn changed(
    local: &Local,
    user: &User,
    action: &str,
    (key, value): (&str, serde_json::Value),
) -> Result<(), CliError> {
    local
        .record(change_of(local, user, action).with(key, value))
        .await
}

/// How long grant revocations are kept: until every token they cover has expired.
fn keep_until(local: &Local, now: i64) -> i64 {
    revocations_kept_until(now, local.settings.lifetimes.revocation_retention())
}

/// Sign `username` out everywhere (`kind`), on the database or through the server.
async fn sign_out(
    ctx: &Context,
    username: &str,
    kind: SignOutKind,
) -> Result<view::SignedOut, CliError> {
    match &ctx.via {
        Via::Local(local) => {
            let user = find(local, username).await?;
            let now = local.clock.now();
            let event = change_of(local, &user, kind.action());
            let signed_out = admin_user::sign_out(
                local.store.as_ref(),
                &user.user_id,
                kind,
                now,
                local.settings.lifetimes.revocation_retention(),
                InTransaction::done(&event),
            )
            .await?
            .ok_or_else(|| gone(&user.user_id))?;
            crate::audit::log(&event);
            Ok(signed_out_view(&user, signed_out))
        }
        Via::Server(server) => {
            let route = match kind {
                SignOutKind::Disable => ADMIN_USER_DISABLE_PATH,
                SignOutKind::RevokeSessions => ADMIN_USER_REVOKE_SESSIONS_PATH,
            };
            let path = user_path(route, username)?;
            server.call(Method::POST, &path, None).await
        }
    }
}

/// What signing `user` out everywhere ended, as the admin API answers it.
fn signed_out_view(user: &User, done: SignOut) -> view::SignedOut {
    view::SignedOut {
        username: user.username.clone(),
        sessions: done.sessions,
        grants: done.grants,
        authorization_codes: done.authorization_codes,
    }
}

/// Print what a command that signs a user out everywhere did.
fn report(ctx: &Context, flag: Option<(&str, bool)>, done: &view::SignedOut, what: &str) {
    let mut json = serde_json::json!({
        "username": done.username,
        "sessions": done.sessions,
        "grants": done.grants,
        "authorization_codes": done.authorization_codes,
    });
    if let Some((name, value)) = flag {
        json[name] = value.into();
    }
    ctx.print(&json, || {
        format!(
            "{what}: {}; ended {} browser sessions, revoked {} grants, voided {} unredeemed authorization codes",
            done.username, done.sessions, done.grants, done.authorization_codes
        )
    });
}

/// `user show`'s `mfa:` line: the factors, and the recovery codes left.
fn describe_factors(factors: &admin_user::SecondFactors) -> String {
    if !factors.any() {
        return "none".to_owned();
    }
    let mut parts = Vec::new();
    if factors.totp {
        parts.push("authenticator app".to_owned());
    }
    match factors.passkeys {
        0 => {}
        1 => parts.push("1 passkey".to_owned()),
        n => parts.push(format!("{n} passkeys")),
    }
    parts.push(format!("{} recovery codes left", factors.recovery_codes));
    parts.join(", ")
}
