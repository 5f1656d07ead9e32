//! The one `impl Store` of a backend, gathered noun by noun.

/// Implement [`Store`](crate::store::Store) for `$store` with the methods gathered so far, after
/// each noun in the list has added its own: each noun's module (named by its path) has a
/// `methods!` macro that appends its methods and hands the rest of the list back here. (One
/// `#[async_trait]` impl must see every method written out, so the nouns pass their methods along
/// instead of expanding in place.)
macro_rules! collect {
    ($store:ty; [$($methods:tt)*]; [$($noun:ident)::+] $([$($nouns:ident)::+])*) => {
        $($noun)::+::methods! { $store; [$($methods)*]; $([$($nouns)::+])* }
    };
    ($store:ty; [$($methods:tt)*];) => {
        const _: () = {
            use async_trait::async_trait;

            use crate::domain::attempt::{AttemptCounter, Reservation};
            use crate::domain::client::{Client, ClientId, SealedSecret};
            use crate::domain::grant::{
                AuthorizationCode, Grant, GrantId, Housekeeping, ReferenceToken, NewRefreshToken, Redemption,
                RefreshTokenState, RevocationCursor, RevocationSink, Rotation, SignOut,
            };
            use crate::domain::group::{Group, GroupName};
            use crate::domain::role::{
                Assignment, Authorization, GroupContents, Role, RoleHolders, RoleName,
            };
            use crate::domain::scope::Scope;
            use crate::domain::secret::TokenHash;
            use crate::domain::user::{User, UserId};
            use crate::domain::api::{Api, Audience};
            use crate::store::{SigningKeyRecord, Store, StoreError};

            #[async_trait]
            impl Store for $store {
                $($methods)*
            }
        };
    };
}
pub(crate) use collect;
