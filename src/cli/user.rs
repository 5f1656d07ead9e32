//! `latchkey user …`: the people who sign in.

use crate::admin::Change;
use crate::domain::audit::{AuditEvent, InTransaction};
use clap::{Args, Subcommand};
use secrecy::SecretString;
use serde::Serialize;

use super::role::list;
use super::{CliError, Context, or_dash, read_password_stdin};
use crate::admin::role as admin_role;
use crate::admin::user::{self as admin_user, NewUser, UserView};
use crate::clock::format_rfc3339;
use crate::domain::grant::SignOut;
use crate::domain::password::hash_new_password;
use crate::domain::user::{User, UserId, normalize_username};

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

fn names(items: &[String]) -> Vec<&str> {
    items.iter().map(String::as_str).collect()
}

/// `user show`: the user with their effective roles (as tokens carry them), the roles they hold
/// directly, and their groups.
#[derive(Serialize)]
struct UserDetail<'a> {
    #[serde(flatten)]
    user: UserView<'a>,
    roles: &'a [String],
    direct_roles: &'a [String],
    groups: &'a [String],
}

fn describe(u: &User) -> String {
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

/// Check the password policy against the user's own details (OWASP ASVS §2.1.1, §2.1.7) and hash
/// off the async runtime: argon2id is deliberately slow.
async fn hash(password: SecretString, user_inputs: &[Option<&str>]) -> Result<String, CliError> {
    let inputs: Vec<String> = user_inputs
        .iter()
        .flatten()
        .map(|s| (*s).to_owned())
        .collect();
    tokio::task::spawn_blocking(move || {
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        hash_new_password(&password, &inputs)
    })
    .await
    .map_err(|_| CliError::Invalid("password hashing was interrupted".into()))?
    .map_err(|e| CliError::Invalid(e.to_string()))
}

async fn find(ctx: &Context, username: &str) -> Result<User, CliError> {
    let normalized = normalize_username(username).map_err(|e| CliError::Invalid(e.0))?;
    ctx.store
        .find_user_by_username(&normalized)
        .await?
        .ok_or_else(|| CliError::Invalid(format!("no user named '{normalized}'")))
}

fn gone(id: &UserId) -> CliError {
    CliError::Invalid(format!("user {id} was deleted meanwhile"))
}

/// Run a user command.
pub async fn run(ctx: &Context, command: UserCommand) -> Result<(), CliError> {
    let now = ctx.clock.now();
    match command {
        UserCommand::Create(args) => {
            let checked = admin_user::check(
                ctx.store.as_ref(),
                &NewUser {
                    username: args.username,
                    email: args.email,
                    name: args.name,
                },
            )
            .await?;
            let inputs = checked.password_inputs();
            let inputs: Vec<Option<&str>> = inputs.iter().map(|i| Some(i.as_str())).collect();
            let password_hash = hash(read_password_stdin()?, &inputs).await?;
            let user = checked.into_user(password_hash, now);
            ctx.store.create_user(&user).await?;
            changed(
                ctx,
                &user,
                "created",
                (
                    "user",
                    serde_json::to_value(UserView::from(&user)).unwrap_or_default(),
                ),
            )
            .await?;
            ctx.print(&UserView::from(&user), || describe(&user));
            Ok(())
        }
        UserCommand::List => {
            let users = ctx.store.list_users().await?;
            let views: Vec<UserView> = users.iter().map(UserView::from).collect();
            ctx.print(&views, || {
                let mut text = format!(
                    "{:<24} {:<24} {:<30} {}\n",
                    "USER_ID", "USERNAME", "EMAIL", "DISABLED"
                );
                for u in &users {
                    text.push_str(&format!(
                        "{:<24} {:<24} {:<30} {}\n",
                        u.user_id,
                        u.username,
                        or_dash(u.email.as_deref()),
                        u.disabled
                    ));
                }
                text
            });
            Ok(())
        }
        UserCommand::Show { username } => {
            let user = find(ctx, &username).await?;
            let authorization = ctx.store.find_authorization(&user.user_id).await?;
            let roles: Vec<String> = authorization.roles.iter().map(|r| r.to_string()).collect();
            let direct: Vec<String> = authorization
                .direct_roles
                .iter()
                .map(|r| r.to_string())
                .collect();
            let groups: Vec<String> = authorization.groups.iter().map(|g| g.to_string()).collect();
            ctx.print(
                &UserDetail {
                    user: UserView::from(&user),
                    roles: &roles,
                    direct_roles: &direct,
                    groups: &groups,
                },
                || {
                    format!(
                        "{}roles:    {}\ndirect:   {}\ngroups:   {}\n",
                        describe(&user),
                        list(&names(&roles)),
                        list(&names(&direct)),
                        list(&names(&groups)),
                    )
                },
            );
            Ok(())
        }
        UserCommand::AddRole { username, role } => {
            let role = admin_role::parse_name(&role)?;
            let user =
                admin_role::user_role(ctx.store.as_ref(), &username, &role, Change::Add).await?;
            changed(ctx, &user, "role_added", ("role", role.as_str().into())).await?;
            ctx.print(
                &serde_json::json!({ "username": user.username, "added_role": role.as_str() }),
                || format!("{} now has role {role}", user.username),
            );
            Ok(())
        }
        UserCommand::RemoveRole { username, role } => {
            let role = admin_role::parse_name(&role)?;
            let user =
                admin_role::user_role(ctx.store.as_ref(), &username, &role, Change::Remove).await?;
            changed(ctx, &user, "role_removed", ("role", role.as_str().into())).await?;
            ctx.print(
                &serde_json::json!({ "username": user.username, "removed_role": role.as_str() }),
                || format!("{} no longer has role {role}", user.username),
            );
            Ok(())
        }
        UserCommand::SetPassword { username, .. } => {
            let user = find(ctx, &username).await?;
            let password_hash = hash(
                read_password_stdin()?,
                &[
                    Some(&user.username),
                    user.email.as_deref(),
                    user.name.as_deref(),
                ],
            )
            .await?;
            // That the password changed, never the password; committed with the change.
            let event = change_of(ctx, &user, "password_set");
            let signed_out = ctx
                .store
                .set_user_password(
                    &user.user_id,
                    &password_hash,
                    now,
                    keep_until(ctx, now),
                    InTransaction::done(&event),
                )
                .await?
                .ok_or_else(|| gone(&user.user_id))?;
            crate::audit::log(&event);
            report(
                ctx,
                &user,
                Some(("password_changed", true)),
                signed_out,
                "password changed",
            );
            Ok(())
        }
        UserCommand::Disable { username } => {
            let user = find(ctx, &username).await?;
            let event = change_of(ctx, &user, "disabled");
            let signed_out = ctx
                .store
                .disable_user(
                    &user.user_id,
                    now,
                    keep_until(ctx, now),
                    InTransaction::done(&event),
                )
                .await?
                .ok_or_else(|| gone(&user.user_id))?;
            crate::audit::log(&event);
            report(ctx, &user, Some(("disabled", true)), signed_out, "disabled");
            Ok(())
        }
        UserCommand::Enable { username } => {
            let user = find(ctx, &username).await?;
            if !ctx.store.enable_user(&user.user_id, now).await? {
                return Err(gone(&user.user_id));
            }
            changed(ctx, &user, "enabled", ("disabled", false.into())).await?;
            ctx.print(
                &serde_json::json!({ "username": user.username, "disabled": false }),
                || format!("enabled {}", user.username),
            );
            Ok(())
        }
        UserCommand::RevokeSessions { username } => {
            let user = find(ctx, &username).await?;
            let event = change_of(ctx, &user, "sessions_revoked");
            let signed_out = ctx
                .store
                .revoke_user_sessions(
                    &user.user_id,
                    now,
                    keep_until(ctx, now),
                    InTransaction::done(&event),
                )
                .await?
                .ok_or_else(|| gone(&user.user_id))?;
            crate::audit::log(&event);
            report(ctx, &user, None, signed_out, "signed out");
            Ok(())
        }
        UserCommand::Delete { username } => {
            let user = find(ctx, &username).await?;
            if !ctx.store.delete_user(&user.user_id).await? {
                return Err(gone(&user.user_id));
            }
            changed(
                ctx,
                &user,
                "deleted",
                ("username", user.username.clone().into()),
            )
            .await?;
            ctx.print(&serde_json::json!({ "deleted": user.username }), || {
                format!("deleted user {}", user.username)
            });
            Ok(())
        }
    }
}

/// An operator's change to `user`, for the audit trail.
fn change_of(ctx: &Context, user: &User, action: &str) -> AuditEvent {
    ctx.change("user", action, &user.username)
        .user(user.user_id.to_string())
}

/// Record an operator's change to `user` in the audit trail, with one `detail` field.
async fn changed(
    ctx: &Context,
    user: &User,
    action: &str,
    (key, value): (&str, serde_json::Value),
) -> Result<(), CliError> {
    ctx.record(change_of(ctx, user, action).with(key, value))
        .await
}

/// How long grant revocations are kept: until every token they cover has expired.
fn keep_until(ctx: &Context, now: i64) -> i64 {
    now.saturating_add(ctx.settings.lifetimes.revocation_retention())
}

/// Print what a command that signs a user out everywhere did.
fn report(ctx: &Context, user: &User, flag: Option<(&str, bool)>, signed_out: SignOut, done: &str) {
    let mut json = serde_json::json!({
        "username": user.username,
        "sessions": signed_out.sessions,
        "grants": signed_out.grants,
        "authorization_codes": signed_out.authorization_codes,
    });
    if let Some((name, value)) = flag {
        json[name] = value.into();
    }
    ctx.print(&json, || {
        format!(
            "{done}: {}; ended {} browser sessions, revoked {} grants, voided {} unredeemed authorization codes",
            user.username,
            signed_out.sessions,
            signed_out.grants,
            signed_out.authorization_codes
        )
    });
}
