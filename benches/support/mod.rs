//! The two sides (ours and the baseline) of every figure in `BENCHMARKS.md`, shared by the
//! criterion benches (`benches/figures.rs`) and the side-by-side runner (`examples/perf.rs`).
//!
//! | module | figures |
//! | --- | --- |
//! | [`token`] | 1. token hot path |
//! | [`refresh`] | 2. refresh storm, 3. cross-process refresh |
//! | [`client`] | 4. client overhead, 5. pagination |
//! | [`stores`] | 6. SQLite and file stores |

pub mod client;
pub mod refresh;
pub mod server;
pub mod stores;
pub mod token;

use std::time::{Duration, SystemTime};

use integrations::{AuthManager, CredentialStore, EnvSource, OAuth2Token};

/// The provider every figure uses.
pub const PROVIDER: &str = "asana";
/// The subject every figure uses.
pub const SUBJECT: &str = "bench-user";
/// The refresh token stored with every credential (the server accepts any).
pub const REFRESH_TOKEN: &str = "bench-refresh-token";
/// The access token stored as valid for an hour.
pub const VALID_ACCESS_TOKEN: &str = "bench-valid-access-token";
/// The OAuth client id configured for the provider.
pub const CLIENT_ID: &str = "bench-client-id";
/// The OAuth client secret configured for the provider.
pub const CLIENT_SECRET: &str = "bench-client-secret";
/// The timeout of every request a baseline sends (ours uses the client's default, 30 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An [`AuthManager`] whose Asana provider talks to the local server at `server_url`.
pub fn manager(server_url: &str, store: impl CredentialStore + 'static) -> AuthManager {
    AuthManager::builder()
        .env(EnvSource::empty())
        .store(store)
        .configure(
            PROVIDER,
            [
                ("client_id", CLIENT_ID.to_string()),
                ("client_secret", CLIENT_SECRET.to_string()),
                ("token_url", format!("{server_url}/oauth/token")),
                ("api_base_url", format!("{server_url}/api/1.0")),
            ],
        )
        .build()
        .expect("the Asana provider is configured")
}

/// A refreshable token valid for an hour.
pub fn valid_token() -> OAuth2Token {
    token(
        VALID_ACCESS_TOKEN,
        SystemTime::now() + Duration::from_secs(3600),
    )
}

/// A refreshable token that expired a few seconds ago.
pub fn expired_token() -> OAuth2Token {
    token(
        "bench-expired-access-token",
        SystemTime::now() - Duration::from_secs(5),
    )
}

fn token(access: &str, expires_at: SystemTime) -> OAuth2Token {
    let mut token = OAuth2Token::bearer(access);
    token.refresh_token = Some(REFRESH_TOKEN.into());
    token.expires_at = Some(expires_at);
    token
}
