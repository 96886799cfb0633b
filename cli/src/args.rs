//! The command line: global options, subcommands, and the help texts (exit codes, environment).

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// Printed after `--help`: exit codes, environment, defaults.
const AFTER_HELP: &str = concat!(
    "Exit codes:
  0  success
  1  other failure (store or I/O error, login timed out, unexpected state)
  2  usage: bad arguments, invalid --params JSON, unknown entity or action, invalid params
  3  configuration: provider not configured, invalid ASANA_* value, non-loopback redirect URI,
     bad --store, encryption key problems
  4  authorization needed: no credentials, credentials need re-authorization, token rejected,
     consent denied (run `integrations login ...` as the message says)
  5  remote: Asana or the network failed or refused the request (5xx, rate limit, timeout,
     4xx from the API); `retryable` in --json output says whether retrying can help

With --json every command prints JSON on stdout, errors too: {\"error\": {\"kind\", \"exit_code\",
\"message\", \"retryable\"}}. Without it, errors are one line on stderr.

Environment:
  INTEGRATIONS_STORE           the store, as --store (sqlite:PATH or file:PATH)
  INTEGRATIONS_CONFIG          a TOML configuration file with an [asana] section
  INTEGRATIONS_ENCRYPTION_KEY  base64 of 32 bytes: encrypts stored credentials at rest
  INTEGRATIONS_PROVIDERS       provider definition files (TOML), separated like PATH; or
                               `providers = [...]` in the configuration file
  {ID}_CLIENT_ID, {ID}_CLIENT_SECRET, {ID}_REDIRECT_URI, {ID}_DEFAULT_SCOPE, {ID}_*_URL
                               the same for every other provider (GITHUB_, GOOGLE_, SLACK_, ...)
  ASANA_CLIENT_ID, ASANA_CLIENT_SECRET
                               the Asana OAuth app (needed by `login`, refresh and `logout`)
  ASANA_REDIRECT_URI           the app's redirect URI; `login` listens on it, so it must be
                               http://127.0.0.1:PORT/PATH or http://localhost:PORT/PATH
                               (default ",
    "http://127.0.0.1:8765/callback",
    ")
  ASANA_ACCESS_TOKEN           a personal access token used when a subject has no credentials
  INTEGRATIONS_APP_CLIENT_ID, INTEGRATIONS_APP_CLIENT_SECRET
                               the application's credentials at a hosted service
                               (`execute --hosted URL`)
  ASANA_AUTHORIZATION_URL, ASANA_TOKEN_URL, ASANA_REVOCATION_URL, ASANA_API_BASE_URL,
  ASANA_DEFAULT_SCOPE, ASANA_WORKSPACE_GID
                               endpoints and defaults (see the README)
  RUST_LOG                     tracing filter, instead of -v

Default store: SQLite at <data dir>/integrations/credentials.db (Linux ~/.local/share,
macOS ~/Library/Application Support, Windows %APPDATA%). The hosted service (`serve`, `apps`)
keeps its data in the directory <data dir>/integrations/service unless given --store DIR, or
in a PostgreSQL database shared by any number of instances with --store postgres://..."
);

/// `integrations`: connect SaaS accounts (Asana) and use them from the command line.
#[derive(Debug, Parser)]
#[command(
    name = "integrations",
    version,
    about = "Connect SaaS accounts (Asana) and use them from the command line",
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// Where credentials are stored: sqlite:PATH or file:PATH
    /// [default: SQLite in the platform's data directory]
    #[arg(
        long,
        global = true,
        env = "INTEGRATIONS_STORE",
        value_name = "sqlite:PATH|file:PATH"
    )]
    pub store: Option<String>,

    /// A TOML configuration file (one [asana] section), instead of INTEGRATIONS_CONFIG
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Whose credentials to use: any id of your choosing (a user, a team, an agent)
    #[arg(
        long,
        global = true,
        default_value = "default",
        value_name = "SUBJECT",
        value_parser = clap::builder::NonEmptyStringValueParser::new()
    )]
    pub subject: String,

    /// Machine-readable JSON on stdout, errors included
    #[arg(long, global = true)]
    pub json: bool,

    /// Log to stderr: -v info, -vv debug, -vvv trace
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the registered providers, whether each is configured, and where each value comes from
    Providers,

    /// Connect an account: OAuth in the browser, or a personal access token with --with-token
    #[command(after_help = concat!(
        "The authorize URL is printed on its own line on stdout. `login` listens on the host and port of \
         ASANA_REDIRECT_URI (default ",
        "http://127.0.0.1:8765/callback",
        "), which must be registered as a redirect URI of your Asana app; it checks the returned \
         state, exchanges the code (with PKCE) and stores the credentials under the subject.\n\n\
         --with-token needs no OAuth app and works for asana and every provider described by a \
         definition (github, hubspot, ... and your own): it reads the token (an Asana or GitHub \
         personal access token, a HubSpot private app token) from standard input, checks it with \
         the provider's \"who am I\" call when its definition has one (a rejected token exits 4 \
         and nothing is stored), and stores it under the subject without a refresh token or an \
         expiry, e.g. `printf %s \"$TOKEN\" | integrations login github --with-token`."
    ))]
    Login(LoginArgs),

    /// Show who the subject's credentials belong to
    Whoami(ProviderArg),

    /// Print a valid access token on stdout (refreshed if needed), e.g. for $(integrations token asana)
    Token(ProviderArg),

    /// Run one action of the provider's catalog (see `integrations catalog asana`)
    #[command(
        after_help = "With --hosted URL the action runs through a hosted service \
         (`integrations serve`, or any API of the same shape) on a connector the application created \
         there, instead of with the subject's stored credentials; the store is not opened. The \
         application's credentials come from the environment:
  INTEGRATIONS_APP_CLIENT_ID      the application's client id
  INTEGRATIONS_APP_CLIENT_SECRET  the application's client secret
--customer NAME uses the customer's only Asana connector; --connector ID names one. The URL must \
be https (http only on 127.0.0.1, ::1, localhost)."
    )]
    Execute(ExecuteArgs),

    /// List the entities and actions `execute` offers, with their params
    Catalog(CatalogArgs),

    /// Serve the catalog as MCP tools on standard input and output, for an MCP client
    #[command(
        after_help = "An MCP client (Claude Desktop, Cursor ...) starts this command and \
        talks to it over stdin and stdout; logs go to stderr. The tools act with the subject's \
        stored credentials (see `integrations login`), refreshed as needed. By default there are \
        two tools, `describe` and `execute`; with --tools, one tool per selected action instead."
    )]
    Mcp(McpArgs),

    /// Inspect stored credentials (never prints a secret)
    Credentials {
        /// What to do with them.
        #[command(subcommand)]
        command: CredentialsCommand,
    },

    /// Revoke the subject's grant at the provider, then delete the stored credentials
    Logout(LogoutArgs),

    /// Send an authenticated request to the provider's API and print the answer's body
    #[command(
        after_help = "The subject's token goes only to the provider's API base URL \
         ({ID}_API_BASE_URL), with the headers the provider requires; a 401 refreshes the token \
         and retries once when it has a refresh token (a token from `login --with-token` or an \
         app-level token is sent once). A JSON body is pretty-printed; any other body is written \
         byte for byte (on a terminal, without control characters but with its tabs and line \
         breaks). Exit code 0 on a 2xx answer, 5 on any other status (the message names it). \
         With --json the answer is one document, {\"provider\", \"status\", \"headers\", \"body\"}; \
         for a status other than 2xx that document is the error, carrying the same members."
    )]
    Request(RequestArgs),

    /// Run the hosted-execution service: a multi-tenant HTTP API (Airbyte's hosted agent API)
    #[command(after_help = SERVE_AFTER_HELP)]
    Serve(ServeArgs),

    /// Manage the applications (tenants) of the hosted service, in its store, without HTTP
    #[command(
        after_help = "Apart from `reencrypt`, the commands read no connector credentials, so they \
         need no encryption key; `delete` deletes the application's connectors with their \
         credentials. They may run while `integrations serve` runs on the same --store."
    )]
    Apps {
        /// The service's store, for every `apps` command.
        #[command(flatten)]
        store: ServiceStoreArgs,
        /// What to do with them.
        #[command(subcommand)]
        command: AppsCommand,
    },
}

/// Printed after `serve --help`.
const SERVE_AFTER_HELP: &str = "Applications are created with `integrations apps create NAME` \
(with the same --store); each trades its client_id and client_secret for a service token at \
POST /api/v1/account/applications/token, then creates connectors for its customers and executes \
actions on them (see the README, \"Hosted execution\").

The service's own Asana app (client id and secret, which refresh OAuth connectors that bring no \
app of their own) and Asana's URLs come from the environment (ASANA_CLIENT_ID, \
ASANA_CLIENT_SECRET, ASANA_API_BASE_URL, ...) or the [asana] section of --config, as for the \
other commands. Consent flows send customers back to PUBLIC_URL/api/v1/oauth/callback: register \
it as a redirect URI of that Asana app (and of applications' own apps).

Connector credentials are encrypted at rest with INTEGRATIONS_ENCRYPTION_KEY (base64 of 32 random \
bytes, e.g. from `openssl rand -base64 32`); without it the service refuses to start unless \
--insecure-no-encryption is given. SIGTERM or Ctrl-C stops it: it stops accepting connections and \
exits 0 once the requests in flight are answered. Logs go to stderr (info by default, with one \
line per request: method, route, status and duration; the MCP SDK's rmcp at warn; RUST_LOG or -v \
to change).";

/// Where the hosted service keeps its data, shared by `serve` and `apps`.
#[derive(Debug, Args)]
pub struct ServiceStoreArgs {
    /// The directory of the service's data (credentials.db, service.db), created if missing, or
    /// a postgres:// URL of a database that several instances share; not sqlite:PATH or
    /// file:PATH [default: <data dir>/integrations/service]
    // Same id as the global --store, so that clap does not add that one here (nor, as this one
    // is global too, to the `apps` subcommands) and help shows only this one. clap still copies
    // the global's value into this one when it is not given, the value of INTEGRATIONS_STORE
    // included: the service's store is a directory or a database URL, not the command line's
    // sqlite:PATH|file:PATH, so `service` takes the value only when it came from the command
    // line, and INTEGRATIONS_STORE does not apply.
    #[arg(id = "store", long = "store", value_name = "DIR|URL", global = true)]
    pub store: Option<String>,
}

/// `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on, HOST:PORT (port 0 picks a free one)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// The URL clients and Asana reach the service at (consent-flow redirects, /mcp's allowed
    /// Host and Origin) [default: http://ADDR, the address listened on; none when ADDR is all
    /// addresses (0.0.0.0, [::]): consent flows are then refused]
    #[arg(long, value_name = "URL")]
    pub public_url: Option<url::Url>,

    /// A Host (HOST or HOST:PORT) /mcp accepts, replacing the defaults: the public URL's host,
    /// and loopback names when listening on loopback or all addresses (repeat for several)
    #[arg(long = "mcp-allowed-host", value_name = "HOST")]
    pub mcp_allowed_hosts: Vec<String>,

    /// A browser Origin /mcp accepts (https://app.example.com:443, http://localhost:*),
    /// replacing the defaults: the public URL's origin, and loopback origins when listening on
    /// loopback or all addresses (repeat for several)
    #[arg(long = "mcp-allowed-origin", value_name = "ORIGIN")]
    pub mcp_allowed_origins: Vec<String>,

    /// Store connector credentials in plaintext when INTEGRATIONS_ENCRYPTION_KEY is not set
    /// (tests and demos only)
    #[arg(long)]
    pub insecure_no_encryption: bool,

    /// The service's store.
    #[command(flatten)]
    pub store: ServiceStoreArgs,

    /// With a postgres:// store: how many pooled connections this instance opens at most; it
    /// keeps one more for notifications, so N instances need N × (this + 1) of the server's
    /// max_connections, plus room for `apps` commands [default: 16]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=10_000))]
    pub pool_size: Option<u16>,

    /// How many days audit entries are kept; older ones are deleted while the service serves
    /// (0 keeps them for ever) [default: 365]
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub audit_retention_days: Option<u32>,

    /// How many calls to providers (executes, MCP tool calls) each application may have in
    /// flight at this instance; one more is answered 429 [default: 64]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight: Option<u32>,

    /// How many service tokens (application and scoped) each application may hold at once,
    /// scoped tokens being issued only below nine tenths of it; one more is answered 429 until
    /// the first expires or is revoked [default: 10000]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
    pub max_service_tokens: Option<u32>,

    /// Run consent flows only through each application's own OAuth app (PUT
    /// /api/v1/oauth/credentials), never the service's: for applications that do not trust
    /// each other
    #[arg(long)]
    pub no_service_app_consent: bool,
}

/// `apps ...`.
#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Register an application; prints its client_id and client_secret (the secret only this once)
    Create {
        /// Its name, e.g. acme
        name: String,
        /// An origin its consent flows may redirect to, e.g. https://app.example.com (plain http
        /// only on localhost, 127.0.0.1 or [::1]; repeat for several)
        #[arg(long = "redirect-origin", value_name = "URL")]
        redirect_origins: Vec<String>,
    },
    /// Id, name, client id, redirect origins and creation time of every application (never a
    /// secret)
    List,
    /// Give the application a new client secret, printed once; the old one and every service
    /// token issued with it stop working at once
    RotateSecret {
        /// The application's id (see `integrations apps list`)
        id: String,
    },
    /// End every service token of the application scoped to one customer (signed out
    /// everywhere, or a token leaked); the application's own tokens and other customers' keep
    /// working
    RevokeTokens {
        /// The application's id (see `integrations apps list`)
        id: String,
        /// The customer whose tokens end (its customer_name, workspace_name or external_user_id)
        #[arg(long)]
        customer: String,
    },
    /// Delete the application with its service tokens, connectors and their credentials
    Delete {
        /// The application's id (see `integrations apps list`)
        id: String,
    },
    /// Re-encrypt everything the service keeps under the primary INTEGRATIONS_ENCRYPTION_KEY
    ///
    /// Connectors' credentials, applications' own OAuth client secrets and pending consent flows
    /// sealed under a key in INTEGRATIONS_ENCRYPTION_OLD_KEYS (or stored before the service had a
    /// key) are sealed again under the primary key; prints how many of each. Run it once every
    /// instance runs with the new key as its primary key; after it, the old key can go. It can
    /// run while the service serves, on a directory or a postgres:// store. If any value does not
    /// open with the configured keys, nothing is changed.
    Reencrypt,
}

/// The methods `request` sends.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum HttpMethod {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

/// `request`.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The provider, e.g. github
    pub provider: String,
    /// The HTTP method
    #[arg(value_enum, ignore_case = true)]
    pub method: HttpMethod,
    /// The path below the provider's API base URL, e.g. /user
    pub path: String,
    /// A JSON body to send
    #[arg(long, value_name = "JSON")]
    pub data: Option<String>,
    /// A request header (repeat for more); it replaces the provider's header of that name
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
}

/// A provider id.
#[derive(Debug, Args)]
pub struct ProviderArg {
    /// The provider, e.g. asana
    pub provider: String,
}

/// `login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The provider, e.g. asana
    pub provider: String,

    /// Scopes to request (repeat, or separate with commas) [default: the configured default scope]
    #[arg(
        long = "scope",
        value_name = "SCOPE",
        value_delimiter = ',',
        conflicts_with = "with_token"
    )]
    pub scopes: Vec<String>,

    /// Do not open a browser; only print the URL
    #[arg(long, conflicts_with = "with_token")]
    pub no_browser: bool,

    /// Give up waiting for the browser after this many seconds
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..=86_400),
        conflicts_with = "with_token"
    )]
    pub timeout: u64,

    /// Read a token (e.g. a personal access token) from standard input, check it, and store it;
    /// for asana and every provider described by a definition, without an OAuth app
    #[arg(long)]
    pub with_token: bool,
}

/// `execute`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("hosted_target").args(["customer", "connector"])))]
pub struct ExecuteArgs {
    /// The provider, e.g. asana
    pub provider: String,
    /// The entity, e.g. tasks
    pub entity: String,
    /// The action, e.g. list
    pub action: String,
    /// The params as a JSON object, e.g. '{"project": "1201"}'
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub params: String,
    /// Run through the hosted service at this URL, as the application of
    /// INTEGRATIONS_APP_CLIENT_ID and INTEGRATIONS_APP_CLIENT_SECRET
    #[arg(long, value_name = "URL", requires = "hosted_target")]
    pub hosted: Option<url::Url>,
    /// With --hosted: the customer whose Asana connector to use
    #[arg(long, value_name = "NAME", requires = "hosted")]
    pub customer: Option<String>,
    /// With --hosted: the id of the connector to use
    #[arg(long, value_name = "ID", requires = "hosted")]
    pub connector: Option<String>,
}

/// `catalog`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// The provider, e.g. asana
    pub provider: String,
    /// Show only this entity, with the params of each action
    pub entity: Option<String>,
}

/// `mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// The provider, e.g. asana
    pub provider: String,
    /// Hide and refuse every action that changes data
    #[arg(long)]
    pub read_only: bool,
    /// One tool per action whose entity.action matches one of these patterns (comma-separated,
    /// * for any part), e.g. 'tasks.*,*.list', instead of `describe` and `execute`
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub tools: Vec<String>,
}

/// `credentials ...`.
#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Provider, subject, source, status and expiry of everything stored
    ///
    /// A record that cannot be read (corrupt, tampered with, or encrypted with another key) is
    /// listed as `unreadable`, with a warning on stderr that says how to delete it; the exit code
    /// stays 0.
    List {
        /// Only this provider's credentials
        #[arg(long)]
        provider: Option<String>,
    },
    /// Encrypt every record under the primary key of INTEGRATIONS_ENCRYPTION_KEY
    ///
    /// Re-encrypts records written under an old key (INTEGRATIONS_ENCRYPTION_OLD_KEYS), written
    /// before encryption was turned on, or sealed by an earlier release, and prints how many. Run
    /// it once after setting a key on a store that already holds credentials, and after moving to
    /// a new key, before dropping the old one.
    Rotate,
}

/// `logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The provider, e.g. asana
    pub provider: String,
    /// Only delete the stored credentials; do not revoke the grant at the provider (works for a
    /// damaged record, and for a provider that is no longer registered)
    #[arg(long)]
    pub local: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::app::DEFAULT_REDIRECT_URI;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_documents_the_default_redirect_uri() {
        assert!(AFTER_HELP.contains(DEFAULT_REDIRECT_URI));
        let mut command = Cli::command();
        let login = command
            .find_subcommand_mut("login")
            .expect("login exists")
            .render_long_help()
            .to_string();
        assert!(login.contains(DEFAULT_REDIRECT_URI), "{login}");
    }
}
