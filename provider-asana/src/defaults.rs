//! Asana's public endpoints, written once: the defaults of the configuration and of the client.

/// The consent page (`authorization_url`).
pub const DEFAULT_AUTHORIZATION_URL: &str = "https://app.asana.com/-/oauth_authorize";

/// The token endpoint (`token_url`).
pub const DEFAULT_TOKEN_URL: &str = "https://app.asana.com/-/oauth_token";

/// The revocation endpoint (`revocation_url`).
pub const DEFAULT_REVOCATION_URL: &str = "https://app.asana.com/-/oauth_revoke";

/// The REST API base (`api_base_url`).
pub const DEFAULT_API_BASE_URL: &str = "https://app.asana.com/api/1.0";
