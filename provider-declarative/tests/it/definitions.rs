//! Users' own definition files: found through the config file or `INTEGRATIONS_PROVIDERS`,
//! configured like Asana (code > env > the config file's section > defaults), and refused with
//! the file, the line and the field when broken.

use std::path::{Path, PathBuf};

use auth_core::config::EnvSource;
use auth_core::provider::{RevocationRequest, RevocationScope};
use auth_core::{AuthError, AuthManager, ConfigError, ConfigSource, Credentials};
use provider_declarative::DeclarativeProvider;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::fakes::{Fake, SUBJECT, form};

const ACME: &str = r#"
[[providers]]
id = "acme"
display_name = "Acme"
authorization_url = "https://acme.example/oauth/authorize"
token_url = "https://acme.example/oauth/token"
api_base_url = "https://api.acme.example"
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn env(pairs: &[(&str, &str)]) -> EnvSource {
    EnvSource::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn build_error(pairs: &[(&str, &str)]) -> ConfigError {
    match AuthManager::builder().env(env(pairs)).build().unwrap_err() {
        AuthError::Config(e) => e,
        other => panic!("not a configuration error: {other:?}"),
    }
}

#[test]
fn the_smallest_definition_works_with_its_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "acme.toml", ACME);
    let auth = AuthManager::builder()
        .env(env(&[
            ("INTEGRATIONS_PROVIDERS", file.to_str().unwrap()),
            ("ACME_CLIENT_ID", "id-1"),
            ("ACME_CLIENT_SECRET", "secret-1"),
        ]))
        .build()
        .unwrap();
    let provider = auth.provider("acme").unwrap();
    assert_eq!(provider.display_name(), "Acme");
    let settings = provider.oauth2_settings().unwrap();
    assert!(settings.pkce);
    assert_eq!(
        settings.client_auth,
        auth_core::provider::ClientAuthMethod::RequestBody
    );
    assert_eq!(
        settings.token_response_format,
        auth_core::provider::BodyFormat::Json
    );
    assert_eq!(settings.revocation_url, None);
    let api = provider.api(&Default::default()).unwrap();
    assert_eq!(api.base_url.as_str(), "https://api.acme.example/");
    let declarative = (provider.as_ref() as &dyn std::any::Any)
        .downcast_ref::<DeclarativeProvider>()
        .unwrap();
    assert!(declarative.definition().whoami.is_none());
    assert_eq!(declarative.definition().origin, file.display().to_string());
}

/// GitHub's and HubSpot's revocations are not RFC 7009: each built-in says its request, and
/// GitHub's URL names the configured client.
#[test]
fn github_and_hubspot_revoke_with_their_own_requests() {
    let auth = AuthManager::builder()
        .env(env(&[
            ("GITHUB_CLIENT_ID", "Iv1.a/b"),
            ("GITHUB_CLIENT_SECRET", "secret-1"),
            ("HUBSPOT_CLIENT_ID", "hs-1"),
            ("HUBSPOT_CLIENT_SECRET", "secret-2"),
            ("LINEAR_CLIENT_ID", "lin-1"),
            ("LINEAR_CLIENT_SECRET", "secret-3"),
        ]))
        .build()
        .unwrap();
    let settings = |id: &str| {
        auth.provider(id)
            .unwrap()
            .oauth2_settings()
            .unwrap()
            .clone()
    };
    let github = settings("github");
    assert_eq!(
        github.revocation_url.unwrap().as_str(),
        "https://api.github.com/applications/Iv1.a%2Fb/token"
    );
    assert_eq!(
        github.revocation_request,
        RevocationRequest::DeleteWithAccessToken
    );
    assert_eq!(github.revocation_scope, RevocationScope::Token);
    let hubspot = settings("hubspot");
    assert_eq!(
        hubspot.revocation_url.unwrap().as_str(),
        "https://api.hubapi.com/oauth/v1/refresh-tokens"
    );
    assert_eq!(
        hubspot.revocation_request,
        RevocationRequest::DeleteRefreshTokenInPath
    );
    assert_eq!(hubspot.revocation_scope, RevocationScope::Token);
    let linear = settings("linear");
    assert_eq!(linear.revocation_request, RevocationRequest::Rfc7009);
    assert_eq!(linear.revocation_scope, RevocationScope::Grant);
}

/// A configured URL names the definition's placeholders as its template does, anywhere: a GitHub
/// Enterprise host's revocation URL gets the client id, an unknown name is refused, and a
/// Salesforce token URL gets its login host.
#[test]
fn a_configured_url_names_the_client_and_the_placeholders() {
    let pairs = |revocation| {
        [
            ("GITHUB_CLIENT_ID", "Iv1.a/b"),
            ("GITHUB_CLIENT_SECRET", "secret-1"),
            ("GITHUB_REVOCATION_URL", revocation),
        ]
    };
    let auth = AuthManager::builder()
        .env(env(&pairs(
            "https://ghe.example/api/v3/applications/{client_id}/token",
        )))
        .build()
        .unwrap();
    let github = auth
        .provider("github")
        .unwrap()
        .oauth2_settings()
        .unwrap()
        .clone();
    assert_eq!(
        github.revocation_url.unwrap().as_str(),
        "https://ghe.example/api/v3/applications/Iv1.a%2Fb/token"
    );
    let err = build_error(&pairs("https://ghe.example/applications/{client}/token"));
    assert!(
        matches!(&err, ConfigError::Invalid { field, origin, .. }
            if field == "revocation_url" && *origin != ConfigSource::Default),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("unknown placeholder `{client}`"),
        "{err}"
    );
    // In the host and the query too (where the URL parser keeps the braces).
    let auth = AuthManager::builder()
        .env(env(&[
            ("SALESFORCE_CLIENT_ID", "sf-1"),
            ("SALESFORCE_CLIENT_SECRET", "secret-4"),
            ("SALESFORCE_LOGIN_HOST", "acme.my.salesforce.com"),
            (
                "SALESFORCE_TOKEN_URL",
                "https://{login_host}/services/oauth2/token?host={login_host}",
            ),
        ]))
        .build()
        .unwrap();
    let salesforce = auth.provider("salesforce").unwrap();
    assert_eq!(
        salesforce.oauth2_settings().unwrap().token_url.as_str(),
        "https://acme.my.salesforce.com/services/oauth2/token?host=acme.my.salesforce.com"
    );
}

/// `{client_id}` is the revocation URL's alone; an unknown revocation request is refused.
#[test]
fn the_client_id_fills_the_revocation_url_only_and_revocation_requests_are_named() {
    let with = |field: &str| {
        ACME.replace(
            "token_url = \"https://acme.example/oauth/token\"",
            &format!("token_url = \"https://acme.example/oauth/token\"\n{field}"),
        )
    };
    for (text, expected) in [
        (
            ACME.replace("oauth/token", "{client_id}/token"),
            "unknown placeholder `{client_id}`",
        ),
        (
            with("revocation_request = \"delete_everything\""),
            "unknown variant `delete_everything`",
        ),
        (
            with("revocation_scope = \"account\""),
            "unknown variant `account`",
        ),
    ] {
        let err = provider_declarative::parse(&text, "acme.toml").unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
    let text = with("revocation_url = \"https://acme.example/apps/{client_id}/grant\"");
    assert_eq!(
        provider_declarative::parse(&text, "acme.toml").unwrap()[0]
            .revocation_url
            .as_deref(),
        Some("https://acme.example/apps/{client_id}/grant")
    );
    // The request's name before it could delete a single token still reads.
    let text = with(
        "revocation_request = \"delete_grant_with_access_token\"\nrevocation_scope = \"token\"",
    );
    let parsed = &provider_declarative::parse(&text, "acme.toml").unwrap()[0];
    assert_eq!(
        parsed.revocation_request,
        RevocationRequest::DeleteWithAccessToken
    );
    assert_eq!(parsed.revocation_scope, RevocationScope::Token);
}

#[test]
fn the_config_file_lists_definitions_and_configures_them_below_env_and_code() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("defs")).unwrap();
    write(&dir.path().join("defs"), "acme.toml", ACME);
    let config = write(
        dir.path(),
        "integrations.toml",
        "providers = [\"defs/acme.toml\"]\n\n[acme]\nclient_id = \"file-id\"\nclient_secret = \"file-secret\"\ntoken_url = \"https://file.acme.example/token\"\nauthorization_url = \"https://file.acme.example/authorize\"\n",
    );
    let auth = AuthManager::builder()
        .env(env(&[
            ("INTEGRATIONS_CONFIG", config.to_str().unwrap()),
            ("ACME_TOKEN_URL", "https://env.acme.example/token"),
            ("ACME_TOKEN_AUTH_METHOD", "client_secret_basic"),
            ("ACME_DEFAULT_SCOPE", "read,write"),
        ]))
        .configure(
            "acme",
            [("authorization_url", "https://code.acme.example/authorize")],
        )
        .build()
        .unwrap();
    let settings = auth
        .provider("acme")
        .unwrap()
        .oauth2_settings()
        .cloned()
        .unwrap();
    assert_eq!(settings.client_id, "file-id");
    assert_eq!(
        settings.token_url.as_str(),
        "https://env.acme.example/token"
    );
    assert_eq!(
        settings.authorization_url.as_str(),
        "https://code.acme.example/authorize"
    );
    assert_eq!(
        settings.client_auth,
        auth_core::provider::ClientAuthMethod::BasicAuth
    );
    assert_eq!(settings.default_scopes, ["read", "write"]);
    let status = auth
        .provider_statuses()
        .iter()
        .find(|s| s.id == "acme")
        .unwrap();
    let origin = |field: &str| {
        status
            .sources
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, o)| o.clone())
    };
    assert_eq!(
        origin("client_id"),
        Some(ConfigSource::File(config.display().to_string()))
    );
    assert_eq!(
        origin("token_url"),
        Some(ConfigSource::Env("ACME_TOKEN_URL".into()))
    );
    assert_eq!(origin("authorization_url"), Some(ConfigSource::Code));
    assert_eq!(origin("api_base_url"), Some(ConfigSource::Default));
}

#[test]
fn an_unconfigured_definition_is_listed_with_its_prefixed_keys() {
    let auth = AuthManager::builder()
        .env(EnvSource::empty())
        .build()
        .unwrap();
    let github = auth
        .provider_statuses()
        .iter()
        .find(|s| s.id == "github")
        .unwrap();
    assert!(!github.configured);
    assert_eq!(github.display_name, "GitHub");
    assert!(
        github
            .sources
            .iter()
            .any(|(field, origin)| field == "token_url" && *origin == ConfigSource::Default),
        "{:?}",
        github.sources
    );
    let missing = github.missing.as_deref().unwrap();
    assert!(missing.contains("GITHUB_CLIENT_ID"), "{missing}");
    assert!(missing.contains("GITHUB_CLIENT_SECRET"), "{missing}");
    assert!(auth.provider("github").is_err());
}

#[test]
fn a_client_id_without_a_secret_names_the_key_to_set() {
    let err = AuthManager::builder()
        .env(EnvSource::empty())
        .configure("github", [("client_id", "id-only")])
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "github: missing `client_secret`; set GITHUB_CLIENT_SECRET or pass `client_secret` in code or in the [github] section of the config file"
    );
}

#[test]
fn placeholders_are_filled_from_configuration() {
    let auth = AuthManager::builder()
        .env(env(&[
            ("MICROSOFT_CLIENT_ID", "id"),
            ("MICROSOFT_CLIENT_SECRET", "secret"),
            ("MICROSOFT_TENANT", "contoso.onmicrosoft.com"),
            ("SALESFORCE_CLIENT_ID", "id"),
            ("SALESFORCE_CLIENT_SECRET", "secret"),
        ]))
        .build()
        .unwrap();
    let microsoft = auth
        .provider("microsoft")
        .unwrap()
        .oauth2_settings()
        .cloned()
        .unwrap();
    assert_eq!(
        microsoft.token_url.as_str(),
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    let salesforce = auth
        .provider("salesforce")
        .unwrap()
        .oauth2_settings()
        .cloned()
        .unwrap();
    assert_eq!(
        salesforce.authorization_url.as_str(),
        "https://login.salesforce.com/services/oauth2/authorize"
    );
}

/// Writes `text` as a definition file, builds a manager with it, and returns the error.
fn refused(text: &str) -> (ConfigError, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "broken.toml", text);
    let err = build_error(&[("INTEGRATIONS_PROVIDERS", file.to_str().unwrap())]);
    (err, file)
}

fn assert_definition_error(err: &ConfigError, file: &Path, line: usize, field: &str, reason: &str) {
    match err {
        ConfigError::Definition {
            path,
            line: l,
            field: f,
            reason: r,
        } => {
            assert_eq!(path, &file.display().to_string(), "{err}");
            assert_eq!((*l, f.as_str()), (line, field), "{err}");
            assert!(r.contains(reason), "{err}");
        }
        other => panic!("not a definition error: {other:?}"),
    }
}

#[test]
fn a_missing_url_is_refused_with_the_file_line_and_field() {
    let (err, file) = refused(
        "# Acme\n[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\n",
    );
    assert_definition_error(
        &err,
        &file,
        2,
        "providers[0].token_url",
        "missing field `token_url`",
    );
    assert!(
        err.to_string().starts_with(&format!(
            "provider definition {}, line 2: `providers[0].token_url`",
            file.display()
        )),
        "{err}"
    );
}

#[test]
fn an_unknown_placeholder_is_refused_where_it_is_used() {
    let (err, file) = refused(
        "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://{subdomain}.acme.example/a\"\ntoken_url = \"https://{subdomian}.acme.example/t\"\nplaceholders = { subdomain = \"www\" }\n",
    );
    assert_definition_error(
        &err,
        &file,
        5,
        "providers[0].token_url",
        "unknown placeholder `{subdomian}`",
    );
}

#[test]
fn a_bad_placeholder_name_is_refused_at_its_own_line() {
    let head = "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\ntoken_url = \"https://acme.example/t\"\n";
    let reason = "a placeholder is lower-case ASCII letters, digits and `_`, and not the name of a standard field";
    let (err, file) = refused(&format!(
        "{head}\n[providers.placeholders]\ntenant = \"common\"\nclient_secret = \"x\"\n"
    ));
    assert_definition_error(
        &err,
        &file,
        9,
        "providers[0].placeholders.client_secret",
        reason,
    );
    let (err, file) = refused(&format!("{head}placeholders = {{ Tenant = \"common\" }}\n"));
    assert_definition_error(&err, &file, 6, "providers[0].placeholders.Tenant", reason);
}

#[test]
fn a_bad_format_value_is_refused_naming_the_choices() {
    let (err, file) = refused(
        "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\ntoken_url = \"https://acme.example/t\"\n\n[providers.token_response]\nformat = \"xml\"\n",
    );
    assert_definition_error(
        &err,
        &file,
        8,
        "providers[0].token_response.format",
        "unknown variant `xml`, expected `form` or `json`",
    );
}

#[test]
fn an_empty_bare_token_prefix_is_refused() {
    let (err, file) = refused(
        "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\ntoken_url = \"https://acme.example/t\"\nbare_token_prefixes = [\"key_\", \" \"]\n",
    );
    assert_definition_error(
        &err,
        &file,
        6,
        "providers[0].bare_token_prefixes",
        "not empty",
    );
}

#[test]
fn an_empty_rejected_token_code_is_refused() {
    let (err, file) = refused(
        "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\ntoken_url = \"https://acme.example/t\"\napi_base_url = \"https://api.acme.example\"\n\n[providers.whoami]\npath = \"/me\"\nrejected_token_codes = [\"invalid_auth\", \"\"]\n",
    );
    assert_definition_error(
        &err,
        &file,
        10,
        "providers[0].whoami.rejected_token_codes",
        "not empty",
    );
}

/// A who-am-I path starting with `//` would name another host (a network-path reference): it is
/// refused at load, at its line and field.
#[test]
fn a_whoami_path_naming_another_host_is_refused() {
    let (err, file) = refused(
        "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\ntoken_url = \"https://acme.example/t\"\napi_base_url = \"https://api.acme.example\"\n\n[providers.whoami]\npath = \"//evil.example/me\"\n",
    );
    assert_definition_error(
        &err,
        &file,
        9,
        "providers[0].whoami.path",
        "a path below the API base URL, starting with a single `/`",
    );
}

/// A header the client could not send, or one it sets itself, is refused where it is written,
/// not found by every request failing.
#[test]
fn api_headers_are_refused_when_invalid_or_set_by_the_client() {
    let with = |headers: &str| {
        format!(
            "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\ntoken_url = \"https://acme.example/t\"\n\n[providers.api_headers]\n\"User-Agent\" = \"integrations\"\n{headers}\n"
        )
    };
    let name =
        "a header name is ASCII letters, digits and any of !#$%&'*+-.^_`|~, e.g. `User-Agent`";
    let value = "a header value holds no control character (line breaks included) but tabs";
    let reserved =
        "the client sets this header itself (the token, cookies, the request's framing); remove it";
    for (headers, field, reason) in [
        ("\"X Team\" = \"1\"", "providers[0].api_headers", name),
        ("\"X-Team:\" = \"1\"", "providers[0].api_headers", name),
        (
            "X-Team = \"canary-value\\r\\nX-Evil: 1\"",
            "providers[0].api_headers.X-Team",
            value,
        ),
        (
            "X-Team = \"a\\u0000b\"",
            "providers[0].api_headers.X-Team",
            value,
        ),
        (
            "Authorization = \"Bearer canary-value\"",
            "providers[0].api_headers.Authorization",
            reserved,
        ),
        (
            "cookie = \"a=b\"",
            "providers[0].api_headers.cookie",
            reserved,
        ),
        (
            "Host = \"api.acme.example\"",
            "providers[0].api_headers.Host",
            reserved,
        ),
    ] {
        let (err, file) = refused(&with(headers));
        assert_definition_error(&err, &file, 9, field, reason);
        assert!(!format!("{err} {err:?}").contains("canary"), "{err}");
    }
    let definitions =
        provider_declarative::parse(&with("X-Team = \"a\\tb c\""), "acme.toml").unwrap();
    assert_eq!(
        definitions[0].api_headers,
        [
            ("User-Agent".to_string(), "integrations".to_string()),
            ("X-Team".to_string(), "a\tb c".to_string())
        ]
    );
}

#[test]
fn an_unknown_field_is_refused_by_its_name() {
    let (err, file) = refused(
        "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\ntoken_url = \"https://acme.example/t\"\nclient_secret = \"oops\"\n",
    );
    assert_definition_error(
        &err,
        &file,
        6,
        "providers[0].client_secret",
        "unknown field `client_secret`",
    );
    assert!(!err.to_string().contains("oops"), "{err}");
}

#[test]
fn bad_toml_and_a_file_without_providers_are_refused_with_their_line() {
    let (err, file) = refused("[[providers]]\nid = \"acme\"\ndisplay_name = Acme\n");
    assert_definition_error(&err, &file, 3, "(TOML syntax)", "");
    let (err, file) = refused("# nothing here\n");
    assert_definition_error(&err, &file, 1, "providers", "missing field `providers`");
    let (err, file) = refused("[[provider]]\nid = \"acme\"\n");
    assert_definition_error(&err, &file, 1, "provider", "unknown field `provider`");
}

#[test]
fn insecure_endpoints_bad_ids_pointers_and_duplicates_are_refused() {
    let base = "display_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\n";
    let (err, file) = refused(&format!(
        "[[providers]]\nid = \"acme\"\n{base}token_url = \"http://acme.example/t\"\n"
    ));
    assert_definition_error(&err, &file, 5, "providers[0].token_url", "must be https");
    let (err, file) = refused(&format!(
        "[[providers]]\nid = \"Acme CRM\"\n{base}token_url = \"https://acme.example/t\"\n"
    ));
    assert_definition_error(&err, &file, 2, "providers[0].id", "lower-case");
    let (err, file) = refused(&format!(
        "[[providers]]\nid = \"acme\"\n{base}token_url = \"https://acme.example/t\"\n[providers.token_response]\nuser_id = \"user.id\"\n"
    ));
    assert_definition_error(
        &err,
        &file,
        7,
        "providers[0].token_response.user_id",
        "JSON pointer",
    );
    let one =
        format!("[[providers]]\nid = \"acme\"\n{base}token_url = \"https://acme.example/t\"\n");
    let (err, file) = refused(&format!("{one}{one}"));
    assert_definition_error(&err, &file, 7, "providers[1].id", "same id");
}

#[test]
fn a_missing_definition_file_or_a_bad_providers_list_is_a_file_error() {
    let err = build_error(&[("INTEGRATIONS_PROVIDERS", "/nonexistent/defs.toml")]);
    assert!(
        matches!(&err, ConfigError::DefinitionFile { path, .. } if path == "/nonexistent/defs.toml"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "cannot read provider definition file /nonexistent/defs.toml: no such file; check the path"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "c.toml", "providers = \"defs.toml\"\n");
    let err = build_error(&[("INTEGRATIONS_CONFIG", config.to_str().unwrap())]);
    assert!(
        matches!(&err, ConfigError::File { reason, .. } if reason.contains("list of paths")),
        "{err:?}"
    );
}

/// A top-level key of the config file that is neither a provider's section nor `providers`
/// fails the build, naming it, instead of being ignored: a misspelled `[asna]` or `[GitHub]`, or
/// `provider` for `providers`.
#[test]
fn a_misspelled_section_of_the_config_file_fails_the_build() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        (
            "[gihtub]\nclient_id = \"id\"\nclient_secret = \"s\"\n",
            "gihtub",
        ),
        ("[GitHub]\nclient_id = \"id\"\n", "GitHub"),
        ("provider = [\"defs.toml\"]\n", "provider"),
    ] {
        let config = write(dir.path(), "c.toml", text);
        let err = build_error(&[("INTEGRATIONS_CONFIG", config.to_str().unwrap())]);
        match &err {
            ConfigError::UnknownSection {
                path,
                key: found,
                known,
            } => {
                assert_eq!(
                    (path.as_str(), found.as_str()),
                    (config.to_str().unwrap(), key)
                );
                assert!(known.contains("github, google"), "{known}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    // A provider's section and the definitions list are read.
    let config = write(
        dir.path(),
        "c.toml",
        "providers = []\n[github]\nclient_id = \"id\"\nclient_secret = \"s\"\n",
    );
    let auth = AuthManager::builder()
        .env(env(&[("INTEGRATIONS_CONFIG", config.to_str().unwrap())]))
        .build()
        .unwrap();
    assert!(auth.provider("github").is_ok());
}

/// The config file that lists definition files is reported with why it cannot be read, in plain
/// words, and a syntax error with where it is but not what the line holds.
#[test]
fn a_config_file_that_cannot_be_read_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let broken = write(
        dir.path(),
        "broken.toml",
        "providers = []\n[github]\nclient_secret = \"canary-secret\" oops\n",
    );
    for (path, why) in [
        (dir.path(), "it is a directory; name a file"),
        (&missing, "no such file; check the path"),
        (
            &broken,
            "not valid TOML at line 3, column 33; check its syntax",
        ),
    ] {
        let loader = auth_core::config::ConfigLoader::new().with_file(path);
        let err = provider_declarative::definitions(&loader).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot read config file {}: {why}", path.display())
        );
    }
}

#[test]
fn a_file_can_replace_a_builtin_definition() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "github.toml",
        "[[providers]]\nid = \"github\"\ndisplay_name = \"GitHub Enterprise\"\nauthorization_url = \"https://ghe.example/login/oauth/authorize\"\ntoken_url = \"https://ghe.example/login/oauth/access_token\"\napi_base_url = \"https://ghe.example/api/v3\"\n",
    );
    let auth = AuthManager::builder()
        .env(env(&[
            ("INTEGRATIONS_PROVIDERS", file.to_str().unwrap()),
            ("GITHUB_CLIENT_ID", "id"),
            ("GITHUB_CLIENT_SECRET", "secret"),
        ]))
        .build()
        .unwrap();
    let github = auth.provider("github").unwrap();
    assert_eq!(github.display_name(), "GitHub Enterprise");
    assert_eq!(
        github.oauth2_settings().unwrap().token_url.as_str(),
        "https://ghe.example/login/oauth/access_token"
    );
}

/// The client secret, the access token and the refresh token are all used (the API rejects the
/// token, the refresh that follows fails, and both answers echo what they were sent), and none of
/// them reaches the error or `Debug` output.
#[tokio::test]
async fn no_secret_reaches_debug_output_or_errors() {
    let fake = Fake::start("slack", None, Some("/api")).await;
    let pairs = fake.env.iter().map(|(key, value)| match key.as_str() {
        "SLACK_CLIENT_SECRET" => (key.clone(), "canary-client-secret".to_string()),
        _ => (key.clone(), value.clone()),
    });
    let auth = AuthManager::builder()
        .env(EnvSource::from_pairs(pairs))
        .build()
        .unwrap();
    let mut token = auth_core::OAuth2Token::bearer("canary-token");
    token.refresh_token = Some("canary-refresh-token".into());
    auth.store_credentials("slack", SUBJECT, &Credentials::new(token))
        .await
        .unwrap();
    // The API rejects the token, and the refresh token was revoked: both answers echo them.
    Mock::given(method("POST"))
        .and(path("/api/auth.test"))
        .and(header("authorization", "Bearer canary-token"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                json!({"ok": false, "error": "invalid_auth", "token": "canary-token"}),
            ),
        )
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "The refresh token canary-refresh-token was revoked"}),
        ))
        .expect(1)
        .mount(&fake.server)
        .await;

    let provider = auth.provider("slack").unwrap();
    let session = auth.session(SUBJECT).await.unwrap();
    let request = session
        .request("slack")
        .unwrap()
        .method(reqwest::Method::POST)
        .path("/auth.test");
    let printed = format!(
        "{provider:?} {:?} {auth:?} {session:?} {request:?}",
        provider.oauth2_settings()
    );
    assert!(!printed.contains("canary"), "{printed}");
    let err = request.send().await.unwrap_err();
    assert!(
        matches!(&err, AuthError::NeedsReauthorization { provider, subject, reason }
            if provider == "slack" && subject == SUBJECT
                && reason == "invalid_grant: The refresh token [REDACTED] was revoked"),
        "{err:?}"
    );
    let printed = format!("{err} {err:?}");
    assert!(!printed.contains("canary"), "{printed}");
    let refresh = fake
        .server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/token")
        .unwrap();
    let fields = form(&refresh);
    assert_eq!(fields["refresh_token"], "canary-refresh-token");
    assert_eq!(fields["client_secret"], "canary-client-secret");
}

/// `read_paths` lists the paths whose GET only reads; `*` stands for one or more characters
/// other than `/`, and a percent-encoded path never matches.
#[test]
fn read_paths_say_which_gets_only_read() {
    let head = "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\ntoken_url = \"https://acme.example/t\"\n";
    let parse = |extra: &str| {
        provider_declarative::parse(&format!("{head}{extra}"), "acme.toml")
            .unwrap()
            .remove(0)
    };
    let every = parse("");
    assert_eq!(every.read_paths, None);
    assert!(every.reads("/anything%2Fat/all"));
    let listed = parse("read_paths = [\"/*.list\", \"/v1/*/items\", \"/auth.test\"]\n");
    for (path, reads) in [
        ("/conversations.list", true),
        ("/users.profile.list", true),
        ("/.list", false),
        ("/a/b.list", false),
        ("/conversations.list2", false),
        ("/v1/x/items", true),
        ("/v1//items", false),
        ("/v1/x/y/items", false),
        ("/auth.test", true),
        ("/auth.tests", false),
        ("/auth%2Etest", false),
        ("/chat.postMessage", false),
        ("/chat.postMessage%3F.list", false),
        ("/", false),
    ] {
        assert_eq!(listed.reads(path), reads, "{path}");
    }
    let reason = "a path below the API base URL, starting with `/`, of ASCII letters, digits and `/._~-`, `*` standing for one or more characters but `/`, e.g. `/*.list`";
    for bad in ["\"*.list\"", "\"/\"", "\"/a?b\"", "\"/a%2Fb\""] {
        let (err, file) = refused(&format!("{head}read_paths = [\"/ok\", {bad}]\n"));
        assert_definition_error(&err, &file, 6, "providers[0].read_paths", reason);
    }
}

/// An authorize parameter the flow sets itself is refused where the definition writes it, not
/// by every consent flow failing.
#[test]
fn authorize_params_that_repeat_the_flow_s_own_are_refused() {
    let head = "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\ntoken_url = \"https://acme.example/t\"\nscope_param = \"user_scope\"\n";
    let reason = "the flow sets this parameter itself (response_type, client_id, redirect_uri, state, code_challenge, code_challenge_method and the scope parameter): remove it";
    for name in ["state", "response_type", "user_scope"] {
        let (err, file) = refused(&format!(
            "{head}\n[providers.authorize_params]\nprompt = \"consent\"\n{name} = \"x\"\n"
        ));
        assert_definition_error(
            &err,
            &file,
            10,
            &format!("providers[0].authorize_params.{name}"),
            reason,
        );
    }
    // `scope` is the scope parameter only where the definition says so.
    let parsed = provider_declarative::parse(
        &format!("{head}\n[providers.authorize_params]\nscope = \"openid\"\n"),
        "acme.toml",
    )
    .unwrap();
    assert_eq!(
        parsed[0].authorize_params,
        [("scope".to_string(), "openid".to_string())]
    );
}
