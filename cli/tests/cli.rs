//! End-to-end tests of the `integrations` binary against the Asana testkit.
//!
//! Each test starts a `MockAsana` whose registered redirect URI is a free loopback port, runs the
//! built binary with a cleared environment that points at the mock and at a temporary SQLite
//! store, and plays the browser itself: it reads the authorize URL from the child's stdout, asks
//! the mock for the consent redirect, and GETs that redirect from the child's listener.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use integrations_mcp::testing::{call_tool, structured_error, structured_ok};
use provider_asana_testkit::{MockAsana, MockAsanaBuilder, seed};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const BIN: &str = env!("CARGO_BIN_EXE_integrations");
/// How long any one child may run.
const CHILD_TIMEOUT: Duration = Duration::from_secs(30);

/// A mock Asana, a temporary directory (HOME and the store), and the child's environment.
struct Harness {
    mock: MockAsana,
    dir: tempfile::TempDir,
    port: u16,
    env: Vec<(String, String)>,
    /// When set, the child runs under `ulimit -n` of this many open files.
    open_files_limit: Option<u32>,
}

/// A finished child.
#[derive(Debug)]
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self:?}"))
    }

    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "{self:?}");
        self
    }
}

/// A `login` in progress: the authorize URL it printed, and the rest of its output to come.
struct Login {
    child: Child,
    url: String,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .expect("local address")
        .port()
}

impl Harness {
    async fn start() -> Self {
        Self::with(MockAsana::builder()).await
    }

    async fn with(builder: MockAsanaBuilder) -> Self {
        Self::on_port(builder, free_port()).await
    }

    /// A mock whose registered redirect URI is `http://127.0.0.1:{port}/callback`.
    async fn on_port(builder: MockAsanaBuilder, port: u16) -> Self {
        let mock = builder
            .redirect_uri(format!("http://127.0.0.1:{port}/callback"))
            .start()
            .await;
        let dir = tempfile::tempdir().expect("temporary directory");
        let env = vec![
            ("ASANA_CLIENT_ID".into(), mock.client_id().to_string()),
            (
                "ASANA_CLIENT_SECRET".into(),
                mock.client_secret().to_string(),
            ),
            ("ASANA_AUTHORIZATION_URL".into(), mock.authorization_url()),
            ("ASANA_TOKEN_URL".into(), mock.token_url()),
            ("ASANA_REVOCATION_URL".into(), mock.revocation_url()),
            ("ASANA_API_BASE_URL".into(), mock.api_base_url()),
            ("ASANA_REDIRECT_URI".into(), mock.redirect_uri().to_string()),
            (
                "INTEGRATIONS_STORE".into(),
                format!("sqlite:{}", dir.path().join("c.db").display()),
            ),
            ("HOME".into(), dir.path().display().to_string()),
        ];
        Self {
            mock,
            dir,
            port,
            env,
            open_files_limit: None,
        }
    }

    fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
    }

    fn remove_env(&mut self, key: &str) {
        self.env.retain(|(k, _)| k != key);
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = match self.open_files_limit {
            None => Command::new(BIN),
            Some(limit) => {
                let mut sh = Command::new("/bin/sh");
                sh.arg("-c")
                    .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                    .arg(BIN);
                sh
            }
        };
        command
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    async fn run(&self, args: &[&str]) -> Outcome {
        let child = self.command(args).spawn().expect("start the binary");
        wait(child).await
    }

    async fn run_with_stdin(&self, args: &[&str], input: &str) -> Outcome {
        let mut command = self.command(args);
        command.stdin(Stdio::piped());
        let mut child = command.spawn().expect("start the binary");
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(input.as_bytes())
            .await
            .expect("write stdin");
        drop(stdin);
        wait(child).await
    }

    /// Starts `login` and reads its stdout up to the authorize URL.
    async fn start_login(&self, args: &[&str]) -> Login {
        let mut child = self.command(args).spawn().expect("start the binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let stderr = tokio::spawn(read_all(stderr));
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(CHILD_TIMEOUT, async {
            match lines.next_line().await.expect("read stdout") {
                Some(line) => line,
                None => panic!("login printed nothing on stdout"),
            }
        })
        .await
        .expect("the authorize URL in time");
        let stdout = tokio::spawn(async move {
            let mut rest = String::new();
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                rest.push_str(&line);
                rest.push('\n');
            }
            rest
        });
        Login {
            child,
            url,
            stdout,
            stderr,
        }
    }

    /// Plays the browser: consent at the mock, then follow its redirect to the CLI's listener.
    async fn browse(&self, authorize_url: &str) -> (u16, String) {
        let callback = self
            .mock
            .consent(authorize_url)
            .await
            .expect("the mock consents");
        assert!(
            callback
                .as_str()
                .starts_with(&format!("http://127.0.0.1:{}/callback?", self.port)),
            "{callback}"
        );
        get(callback.as_str()).await
    }

    /// A whole OAuth login of `subject`.
    async fn login(&self, subject: &str) -> Outcome {
        let login = self
            .start_login(&["login", "asana", "--no-browser", "--subject", subject])
            .await;
        let (status, page) = self.browse(&login.url).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Logged in to Asana"), "{page}");
        login.finish().await
    }

    fn store_path(&self) -> PathBuf {
        self.dir.path().join("c.db")
    }

    /// Writes `payload` as `provider`/`subject`'s record straight into the (unencrypted) store,
    /// as no command of the CLI would: `what` says what it plants.
    async fn plant(&self, provider: &str, subject: &str, payload: &[u8], what: &str) {
        use integrations::auth_core::{CredentialRecord, Payload, PutMode};
        use integrations::{CredentialStore, SqliteCredentialStore};
        let store = SqliteCredentialStore::builder(self.store_path())
            .unencrypted()
            .open()
            .await
            .expect("open the store");
        store
            .put(
                CredentialRecord::new(provider, subject, Payload::new(payload.to_vec())),
                PutMode::Create,
            )
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        store.into_inner().close().await.expect("close the store");
    }
}

impl Login {
    async fn finish(mut self) -> Outcome {
        let status = tokio::time::timeout(CHILD_TIMEOUT, self.child.wait())
            .await
            .expect("login exits in time")
            .expect("wait for login");
        Outcome {
            code: status.code().unwrap_or(-1),
            stdout: self.stdout.await.expect("stdout task"),
            stderr: self.stderr.await.expect("stderr task"),
        }
    }
}

async fn read_all(mut pipe: impl tokio::io::AsyncRead + Unpin) -> String {
    let mut text = String::new();
    pipe.read_to_string(&mut text).await.expect("read pipe");
    text
}

async fn wait(child: Child) -> Outcome {
    let output = tokio::time::timeout(CHILD_TIMEOUT, child.wait_with_output())
        .await
        .expect("the binary exits in time")
        .expect("wait for the binary");
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::Client::builder()
        .timeout(CHILD_TIMEOUT)
        .build()
        .expect("http client")
        .get(url)
        .send()
        .await
        .expect("GET");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// The access token the mock accepts? (`GET /users/me` with it.)
async fn mock_accepts(mock: &MockAsana, token: &str) -> bool {
    reqwest::Client::builder()
        .timeout(CHILD_TIMEOUT)
        .build()
        .expect("http client")
        .get(format!("{}/users/me", mock.api_base_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /users/me")
        .status()
        .is_success()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn oauth_login_then_whoami_execute_token_list_and_logout() {
    let h = Harness::start().await;

    // login: the URL alone on the first stdout line, then who logged in.
    let login = h
        .start_login(&["login", "asana", "--no-browser", "--scope", "default"])
        .await;
    assert!(
        login.url.starts_with(&h.mock.authorization_url()),
        "{}",
        login.url
    );
    assert_eq!(
        query_param(&login.url, "redirect_uri").as_deref(),
        Some(h.mock.redirect_uri())
    );
    assert_eq!(
        query_param(&login.url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(query_param(&login.url, "scope").as_deref(), Some("default"));
    let (status, page) = h.browse(&login.url).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Connected as Greg Sanchez &lt;gsanchez@example.com&gt;"),
        "{page}"
    );
    let out = login.finish().await;
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        format!(
            "Logged in to Asana as Greg Sanchez <gsanchez@example.com> (subject `default`); credentials stored in sqlite:{}\n",
            h.store_path().display()
        )
    );
    // No key is configured: login says so once, at default verbosity.
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("INTEGRATIONS_ENCRYPTION_KEY"))
        .collect();
    assert_eq!(
        warnings,
        [format!(
            "warning: the credentials are stored unencrypted in sqlite:{}; set INTEGRATIONS_ENCRYPTION_KEY (base64 of 32 random bytes) to encrypt them at rest",
            h.store_path().display()
        )],
        "{out:?}"
    );
    assert_eq!(h.mock.token_requests_for("authorization_code"), 1);

    // whoami, as text and as JSON.
    let out = h.run(&["whoami", "asana"]).await;
    out.assert_code(0);
    assert!(
        out.stdout.starts_with(&format!(
            "Greg Sanchez <gsanchez@example.com> (gid {})\nworkspaces: Acme Corp, Personal Projects\n",
            seed::ME_GID
        )),
        "{out:?}"
    );
    let me = h.run(&["--json", "whoami", "asana"]).await.json();
    assert_eq!(me["user"]["gid"], seed::ME_GID);
    assert_eq!(me["source"], "stored");
    assert_eq!(me["subject"], "default");

    // execute: the first tasks of the seeded Backlog project.
    let params = format!(
        r#"{{"project": "{}", "limit": 3, "opt_fields": ["name"]}}"#,
        seed::BACKLOG_PROJECT_GID
    );
    let listed = h
        .run(&[
            "execute", "asana", "tasks", "list", "--params", &params, "--json",
        ])
        .await;
    listed.assert_code(0);
    let listed = listed.json();
    let names: Vec<&str> = listed["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["Backlog task 001", "Backlog task 002", "Backlog task 003"]
    );

    // Invalid params are refused before any request.
    let api_before = h.mock.api_requests();
    let out = h
        .run(&[
            "execute",
            "asana",
            "tasks",
            "list",
            "--params",
            r#"{"bogus": 1}"#,
        ])
        .await;
    out.assert_code(2);
    assert!(
        out.stderr
            .starts_with("error: invalid params for tasks.list: unknown param `bogus`"),
        "{out:?}"
    );
    assert_eq!(h.mock.api_requests(), api_before, "nothing was sent");

    // token: the stored token is fresh, so no refresh.
    let out = h.run(&["token", "asana"]).await;
    out.assert_code(0);
    assert_eq!(out.stderr, "");
    let first = out.stdout.trim().to_string();
    assert_eq!(out.stdout, format!("{first}\n"), "only the token on stdout");
    assert!(mock_accepts(&h.mock, &first).await);
    assert_eq!(h.mock.token_requests_for("refresh_token"), 0);

    // The token expires at Asana before its stated expiry: whoami gets a 401, refreshes once,
    // retries, and the refreshed token is stored for the next process.
    h.mock.expire_access_tokens();
    h.run(&["whoami", "asana"]).await.assert_code(0);
    assert_eq!(h.mock.token_requests_for("refresh_token"), 1);
    let out = h.run(&["token", "asana"]).await;
    out.assert_code(0);
    let second = out.stdout.trim().to_string();
    assert_ne!(second, first);
    assert!(mock_accepts(&h.mock, &second).await);
    assert_eq!(h.mock.token_requests_for("refresh_token"), 1);

    // credentials list: provider, subject, source, status, expiry; never a secret.
    let out = h.run(&["credentials", "list"]).await;
    out.assert_code(0);
    let mut lines = out.stdout.lines();
    assert_eq!(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec![
            "PROVIDER", "SUBJECT", "SOURCE", "STATUS", "EXPIRES", "REFRESH", "SCOPES"
        ])
    );
    let row: Vec<&str> = lines.next().expect("one row").split_whitespace().collect();
    assert_eq!(&row[..4], ["asana", "default", "stored", "active"]);
    assert_eq!(row[7], "yes", "{row:?}");
    assert_eq!(lines.next(), None);
    let listed = h.run(&["credentials", "list", "--json"]).await;
    for text in [&out.stdout, &out.stderr, &listed.stdout] {
        assert!(!text.contains(&second), "no access token in {text}");
        assert!(!text.contains(&first), "no old access token in {text}");
        assert!(!text.contains(h.mock.client_secret()));
    }
    assert_eq!(
        out.stderr,
        format!(
            "Credentials in sqlite:{} (not encrypted: set INTEGRATIONS_ENCRYPTION_KEY (base64 of 32 random bytes) to encrypt them):\n",
            h.store_path().display()
        )
    );
    let listed = listed.json();
    assert_eq!(listed["encrypted"], false);
    assert_eq!(
        listed["store"],
        format!("sqlite:{}", h.store_path().display())
    );
    let entry = &listed["credentials"][0];
    assert_eq!(entry["provider"], "asana");
    assert_eq!(entry["subject"], "default");
    assert_eq!(entry["source"], "stored");
    assert_eq!(entry["status"], "active");
    assert_eq!(entry["has_refresh_token"], true);
    assert!(
        entry["expires_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(listed["credentials"].as_array().map(Vec::len), Some(1));

    // logout: revoked at Asana once, deleted locally.
    let out = h.run(&["logout", "asana"]).await;
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        "Logged out asana/default: the grant was revoked at asana and the stored credentials deleted.\n"
    );
    assert_eq!(h.mock.revocations(), 1);
    assert!(!mock_accepts(&h.mock, &second).await, "the grant is gone");
    let listed = h.run(&["credentials", "list", "--json"]).await.json();
    assert_eq!(listed["credentials"], Value::Array(Vec::new()));

    // And now the subject needs to log in again.
    let out = h.run(&["whoami", "asana"]).await;
    out.assert_code(4);
    assert_eq!(
        out.stderr,
        "error: no credentials for asana/default: run `integrations login asana`\n"
    );
}

/// Waits until a token issued now for one second is inside its refresh margin (half its
/// lifetime).
async fn within_the_margin_of_a_one_second_token() {
    tokio::time::sleep(Duration::from_millis(600)).await;
}

#[tokio::test]
async fn token_refreshes_when_the_stored_token_is_about_to_expire() {
    // Tokens live one second: past half of it, inside the expiry margin, so `token` refreshes.
    let h = Harness::with(MockAsana::builder().token_lifetime(1)).await;
    h.login("bob").await.assert_code(0);
    assert_eq!(h.mock.token_requests_for("refresh_token"), 0);

    within_the_margin_of_a_one_second_token().await;
    let first = h.run(&["token", "asana", "--subject", "bob"]).await;
    first.assert_code(0);
    assert_eq!(h.mock.token_requests_for("refresh_token"), 1);
    within_the_margin_of_a_one_second_token().await;
    let second = h
        .run(&["--json", "token", "asana", "--subject", "bob"])
        .await;
    second.assert_code(0);
    assert_eq!(h.mock.token_requests_for("refresh_token"), 2);
    let second = second.json();
    assert_eq!(second["source"], "stored");
    assert_eq!(second["subject"], "bob");
    assert!(second["expires_at"].as_str().is_some());
    let second = second["access_token"]
        .as_str()
        .expect("a token")
        .to_string();
    assert_ne!(first.stdout.trim(), second);
    assert!(!first.stdout.trim().is_empty());

    // With -vv the logs go to stderr; stdout still holds only the token.
    let third = h.run(&["token", "asana", "--subject", "bob", "-vv"]).await;
    third.assert_code(0);
    assert_eq!(third.stdout.lines().count(), 1, "{third:?}");
    assert!(third.stderr.contains("DEBUG"), "{third:?}");
    for token in [first.stdout.trim(), second.as_str(), third.stdout.trim()] {
        assert!(!third.stderr.contains(token), "no token in the logs");
    }
}

#[tokio::test]
async fn login_with_token_reads_stdin_checks_it_and_stores_it() {
    let mut h = Harness::start().await;
    let store = h.dir.path().join("creds.json");
    h.set_env("INTEGRATIONS_STORE", &format!("file:{}", store.display()));
    h.set_env(
        "INTEGRATIONS_ENCRYPTION_KEY",
        "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
    );

    let pat = h.mock.personal_access_token().to_string();
    let me_before = h.mock.requests_to("GET", "/api/1.0/users/me");
    let out = h
        .run_with_stdin(
            &["login", "asana", "--with-token", "--subject", "pat-user"],
            &format!("{pat}\n"),
        )
        .await;
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        format!(
            "Logged in to Asana as Greg Sanchez <gsanchez@example.com> (subject `pat-user`); credentials stored in file:{}\n",
            store.display()
        )
    );
    assert!(
        !out.stderr.contains("INTEGRATIONS_ENCRYPTION_KEY"),
        "a key is set: no warning about clear text: {out:?}"
    );
    assert_eq!(
        h.mock.requests_to("GET", "/api/1.0/users/me") - me_before,
        1,
        "checked once"
    );
    let document = std::fs::read_to_string(&store).expect("the file store");
    assert!(document.contains("pat-user"), "{document}");
    assert!(!document.contains(&pat), "encrypted at rest: {document}");

    let listed = h.run(&["credentials", "list", "--json"]).await.json();
    assert_eq!(listed["encrypted"], true);
    let entry = &listed["credentials"][0];
    assert_eq!(entry["subject"], "pat-user");
    assert_eq!(entry["has_refresh_token"], false);
    assert_eq!(entry["expires_at"], Value::Null);
    assert!(!listed.to_string().contains(&pat));

    let me = h
        .run(&["whoami", "asana", "--subject", "pat-user", "--json"])
        .await
        .json();
    assert_eq!(me["user"]["name"], seed::ME_NAME);
    assert_eq!(me["source"], "stored");

    // A personal access token has no grant to revoke: logout only deletes it.
    let out = h
        .run(&["logout", "asana", "--subject", "pat-user", "--json"])
        .await;
    out.assert_code(0);
    let out = out.json();
    assert_eq!(out["logged_out"], true);
    assert_eq!(out["revoked"], false);
    assert_eq!(h.mock.revocations(), 0);
    let listed = h.run(&["credentials", "list", "--json"]).await.json();
    assert_eq!(listed["credentials"], Value::Array(Vec::new()));

    // A token Asana rejects is not stored.
    let out = h
        .run_with_stdin(
            &["login", "asana", "--with-token", "--subject", "bad"],
            "not-a-token",
        )
        .await;
    out.assert_code(4);
    assert!(
        out.stderr
            .starts_with("error: Asana rejected the token read from standard input"),
        "{out:?}"
    );
    let listed = h.run(&["credentials", "list", "--json"]).await.json();
    assert_eq!(listed["credentials"], Value::Array(Vec::new()));

    // Nothing on stdin is a usage error.
    let out = h
        .run_with_stdin(&["login", "asana", "--with-token"], "")
        .await;
    out.assert_code(2);
    assert!(
        out.stderr.starts_with("error: no token on standard input"),
        "{out:?}"
    );
}

#[tokio::test]
async fn login_ignores_a_foreign_state_and_reports_a_denial() {
    let h = Harness::start().await;

    // A request with another state (a stale tab, another page) is refused and the login waits on.
    let login = h
        .start_login(&["login", "asana", "--no-browser", "--subject", "carol"])
        .await;
    let (status, page) = get(&format!(
        "http://127.0.0.1:{}/callback?code=stolen&state=not-this-login",
        h.port
    ))
    .await;
    assert_eq!(status, 400);
    assert!(page.contains("does not belong to the login"), "{page}");
    let (status, _) = get(&format!("http://127.0.0.1:{}/favicon.ico", h.port)).await;
    assert_eq!(status, 404);
    assert_eq!(
        h.mock.token_requests(),
        0,
        "the foreign code was not exchanged"
    );
    let (status, _) = h.browse(&login.url).await;
    assert_eq!(status, 200);
    let out = login.finish().await;
    out.assert_code(0);
    assert!(
        out.stderr.contains(
            "note: ignored a request to the redirect URI: its state does not match this login"
        ),
        "{out:?}"
    );
    assert_eq!(h.mock.token_requests_for("authorization_code"), 1);

    // The user denies access: the tab says so and the CLI exits with the authorization code.
    h.mock.deny_next_authorizations(1);
    let login = h
        .start_login(&["login", "asana", "--no-browser", "--subject", "dave"])
        .await;
    let (status, page) = h.browse(&login.url).await;
    assert_eq!(status, 403);
    assert!(page.contains("Access was not granted"), "{page}");
    let out = login.finish().await;
    out.assert_code(4);
    assert!(
        out.stderr.ends_with(
            "error: Asana did not grant access (access_denied: the user denied the request): run `integrations login asana --subject dave` again and approve the request\n"
        ),
        "{out:?}"
    );
    let listed = h.run(&["credentials", "list", "--json"]).await.json();
    let subjects: Vec<&str> = listed["credentials"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["subject"].as_str())
        .collect();
    assert_eq!(subjects, ["carol"]);
}

#[tokio::test]
async fn login_times_out_and_json_mode_prints_the_url_as_json() {
    let h = Harness::start().await;
    let login = h
        .start_login(&["login", "asana", "--no-browser", "--timeout", "1", "--json"])
        .await;
    let first: Value = serde_json::from_str(&login.url).expect("a JSON line");
    assert!(
        first["authorize_url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&h.mock.authorization_url())),
        "{first}"
    );
    let out = login.finish().await;
    out.assert_code(1);
    let error: Value = serde_json::from_str(out.stdout.trim()).expect("a JSON error");
    assert_eq!(error["error"]["kind"], "other");
    assert_eq!(error["error"]["exit_code"], 1);
    assert_eq!(
        error["error"]["message"],
        "no redirect from Asana within 1s: run `integrations login asana` again (with --timeout SECONDS to wait longer)"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn login_opens_the_browser_with_the_url() {
    use std::os::unix::fs::PermissionsExt;

    let mut h = Harness::start().await;
    let bin = h.dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin dir");
    let opened = h.dir.path().join("opened-url");
    let environment = h.dir.path().join("opener-env");
    let script = bin.join("xdg-open");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nenv > '{}'\nprintf '%s' \"$1\" > '{}'\n",
            environment.display(),
            opened.display()
        ),
    )
    .expect("write the fake xdg-open");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    h.set_env("PATH", &format!("{}:/usr/bin:/bin", bin.display()));
    // Secrets the CLI reads, a secret of a provider it does not know, and what a browser needs.
    let key = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
    let old_key = "old:ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA=";
    let secrets = [
        ("INTEGRATIONS_ENCRYPTION_KEY", key),
        ("INTEGRATIONS_ENCRYPTION_OLD_KEYS", old_key),
        ("ASANA_ACCESS_TOKEN", "pat-canary-one"),
        ("ASANA_PERSONAL_ACCESS_TOKEN", "pat-canary-two"),
        ("ASANA_TOKEN", "pat-canary-three"),
        ("GITHUB_CLIENT_SECRET", "github-secret-canary"),
        ("SLACK_REFRESH_TOKEN", "slack-refresh-canary"),
    ];
    for (name, value) in secrets {
        h.set_env(name, value);
    }
    h.set_env("DISPLAY", ":7");
    h.set_env("XDG_ACTIVATION_TOKEN", "focus-please");

    let login = h.start_login(&["login", "asana"]).await;
    let url = poll_file(&opened).await;
    assert_eq!(url, login.url);
    let (status, _) = h.browse(&url).await;
    assert_eq!(status, 200);
    login.finish().await.assert_code(0);

    let environment = std::fs::read_to_string(&environment).expect("the opener's environment");
    let names: Vec<&str> = environment
        .lines()
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .collect();
    for (name, value) in secrets {
        assert!(!names.contains(&name), "{name} reached the opener");
        assert!(
            !environment.contains(value),
            "{name}'s value reached the opener"
        );
    }
    assert!(!names.contains(&"ASANA_CLIENT_SECRET"), "{environment}");
    assert!(
        !environment.contains(h.mock.client_secret()),
        "{environment}"
    );
    for kept in [
        "DISPLAY=:7",
        "XDG_ACTIVATION_TOKEN=focus-please",
        "ASANA_CLIENT_ID=",
    ] {
        assert!(environment.contains(kept), "{kept} missing: {environment}");
    }
}

#[cfg(target_os = "linux")]
async fn poll_file(path: &Path) -> String {
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.is_empty()
        {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{} was never written", path.display());
}

#[tokio::test]
async fn errors_are_one_line_with_distinct_exit_codes() {
    let mut h = Harness::start().await;

    // No credentials: the authorization code and the command to run.
    let out = h.run(&["whoami", "asana", "--subject", "alice"]).await;
    out.assert_code(4);
    assert_eq!(
        out.stderr,
        "error: no credentials for asana/alice: run `integrations login asana --subject alice`\n"
    );
    assert_eq!(out.stdout, "");
    let out = h
        .run(&["--json", "--subject", "alice", "token", "asana"])
        .await;
    out.assert_code(4);
    let error = out.json();
    assert_eq!(error["error"]["kind"], "authorization");
    assert_eq!(error["error"]["exit_code"], 4);
    assert_eq!(
        error["error"]["message"],
        "no credentials for asana/alice: run `integrations login asana --subject alice`"
    );

    // Usage: invalid JSON, unknown entity or action, unknown provider, clap's own errors.
    let out = h
        .run(&["execute", "asana", "tasks", "list", "--params", "{project:"])
        .await;
    out.assert_code(2);
    assert!(
        out.stderr
            .starts_with("error: --params is not valid JSON ("),
        "{out:?}"
    );
    assert_eq!(out.stderr.lines().count(), 1);
    let out = h.run(&["execute", "asana", "taskz", "list"]).await;
    out.assert_code(2);
    assert!(
        out.stderr
            .starts_with("error: unknown entity `taskz`; available entities: tasks, project_tasks"),
        "{out:?}"
    );
    let out = h.run(&["execute", "asana", "teams", "delete"]).await;
    out.assert_code(2);
    assert_eq!(
        out.stderr,
        "error: entity `teams` has no action `delete`; available actions: get, create, update (see `integrations catalog asana`)\n"
    );
    let out = h.run(&["whoami", "gitlab"]).await;
    out.assert_code(2);
    assert_eq!(
        out.stderr,
        "error: unknown provider `gitlab`; registered providers: asana, github, google, hubspot, linear, microsoft, notion, salesforce, slack\n"
    );
    h.run(&["execute", "asana", "tasks"]).await.assert_code(2);
    let out = h.run(&["--json", "frobnicate"]).await;
    out.assert_code(2);
    assert_eq!(
        out.json(),
        json!({"error": {"kind": "usage", "exit_code": 2, "message": "unrecognized subcommand 'frobnicate'", "retryable": false}})
    );
    // A missing argument is named, without clap's usage lines.
    let out = h.run(&["--json", "whoami"]).await;
    out.assert_code(2);
    assert_eq!(
        out.json(),
        json!({"error": {"kind": "usage", "exit_code": 2, "message": "the following required arguments were not provided: <PROVIDER>", "retryable": false}})
    );
    assert_eq!(out.stderr, "");
    assert_eq!(h.mock.api_requests(), 0);

    // Configuration: a store spec, a redirect URI the CLI cannot listen on, OAuth without an app.
    let out = h
        .run(&["--store", "postgres://db", "credentials", "list"])
        .await;
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        "error: --store is `postgres://db`: use sqlite:PATH or file:PATH, e.g. sqlite:./credentials.db\n"
    );
    h.set_env("ASANA_REDIRECT_URI", "https://app.example.com/callback");
    let out = h.run(&["login", "asana", "--no-browser"]).await;
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        "error: the redirect URI https://app.example.com/callback (from env ASANA_REDIRECT_URI) is not a loopback http URI: `integrations login` receives the redirect itself, so set ASANA_REDIRECT_URI to http://127.0.0.1:PORT/PATH or http://localhost:PORT/PATH registered with your app, or unset it to use http://127.0.0.1:8765/callback\n"
    );
    assert_eq!(h.mock.authorizations(), 0);
    for key in [
        "ASANA_CLIENT_ID",
        "ASANA_CLIENT_SECRET",
        "ASANA_REDIRECT_URI",
    ] {
        h.remove_env(key);
    }
    // Nothing configured and nothing stored: log in (`--with-token` needs no configuration).
    let out = h.run(&["whoami", "asana"]).await;
    out.assert_code(4);
    assert_eq!(
        out.stderr,
        "error: no credentials for asana/default: run `integrations login asana`\n"
    );
    // A personal access token alone configures Asana, but not for an OAuth login.
    h.set_env("ASANA_ACCESS_TOKEN", seed_pat());
    let out = h.run(&["login", "asana", "--no-browser"]).await;
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        "error: `integrations login asana` needs an OAuth app: set ASANA_CLIENT_ID and ASANA_CLIENT_SECRET in the environment or the [asana] section of INTEGRATIONS_CONFIG (with a personal access token instead, run `integrations login asana --with-token`)\n"
    );

    // Remote: Asana rate-limits for longer than a call may wait (so it fails at once), or says
    // the object does not exist.
    let mut h = Harness::start().await;
    h.set_env("ASANA_ACCESS_TOKEN", seed_pat());
    h.mock.rate_limit_next(1, Some(3600));
    let out = h.run(&["--json", "whoami", "asana"]).await;
    out.assert_code(5);
    let error = out.json();
    assert_eq!(error["error"]["kind"], "remote");
    assert_eq!(error["error"]["retryable"], true);
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("rate limited by Asana")),
        "{error}"
    );
    let out = h
        .run(&[
            "execute",
            "asana",
            "tasks",
            "get",
            "--params",
            r#"{"task_gid": "999"}"#,
        ])
        .await;
    out.assert_code(5);
    assert!(
        out.stderr
            .starts_with("error: Asana GET /api/1.0/tasks/999 (HTTP 404)"),
        "{out:?}"
    );
    assert_eq!(out.stderr.lines().count(), 1);

    // The app-level token stands in for a subject without credentials, and that is said.
    let out = h.run(&["whoami", "asana"]).await;
    out.assert_code(0);
    assert_eq!(
        out.stderr,
        "note: asana/default has no stored credentials; using the app-level token (env ASANA_ACCESS_TOKEN)\n"
    );
    assert!(
        out.stdout
            .ends_with("subject `default`, credentials: app_token\n"),
        "{out:?}"
    );
}

/// `integrations` with no command is a usage error: exit 2, the usage on stderr and nothing on
/// stdout, so that a script that forgot the command does not read help as output. That holds
/// with no argument at all (clap shows the whole help) as with one given through the
/// environment (`INTEGRATIONS_STORE`: clap says a command is missing).
#[tokio::test]
async fn no_command_is_a_usage_error_with_nothing_on_stdout() {
    let mut h = Harness::start().await;
    let out = h.run(&[]).await;
    out.assert_code(2);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("Usage: integrations"), "{out:?}");
    h.remove_env("INTEGRATIONS_STORE");
    let out = h.run(&[]).await;
    out.assert_code(2);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("Usage: integrations"), "{out:?}");
    assert!(out.stderr.contains("Commands:"), "the whole help: {out:?}");
}

#[tokio::test]
async fn providers_say_where_each_value_comes_from_and_never_print_secrets() {
    let mut h = Harness::start().await;
    let out = h.run(&["providers", "--json"]).await;
    out.assert_code(0);
    assert!(!out.stdout.contains(h.mock.client_secret()));
    let asana = &out.json()["providers"][0];
    assert_eq!(asana["id"], "asana");
    assert_eq!(asana["configured"], true);
    assert_eq!(asana["oauth2"], true);
    assert_eq!(asana["app_token"], false);
    assert_eq!(asana["sources"]["client_id"], "env:ASANA_CLIENT_ID");
    assert_eq!(asana["sources"]["client_secret"], "env:ASANA_CLIENT_SECRET");
    assert_eq!(asana["sources"]["token_url"], "env:ASANA_TOKEN_URL");
    assert_eq!(asana["login_redirect_uri"], h.mock.redirect_uri());
    assert_eq!(asana["login_redirect_uri_is_default"], false);

    // Without ASANA_REDIRECT_URI, login uses the documented default.
    h.remove_env("ASANA_REDIRECT_URI");
    let out = h.run(&["providers"]).await;
    out.assert_code(0);
    assert!(
        out.stdout.contains(
            "redirect_uri       integrations CLI default (http://127.0.0.1:8765/callback)"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .starts_with("asana (Asana): configured (OAuth app)\n")
    );
    let asana = &h.run(&["providers", "--json"]).await.json()["providers"][0];
    assert_eq!(
        asana["login_redirect_uri"],
        "http://127.0.0.1:8765/callback"
    );
    assert_eq!(asana["login_redirect_uri_is_default"], true);

    // Without an OAuth app Asana is set up for stored tokens only: not configured for OAuth,
    // naming what to set, in text and in JSON.
    h.remove_env("ASANA_CLIENT_ID");
    h.remove_env("ASANA_CLIENT_SECRET");
    let oauth = "set ASANA_CLIENT_ID and ASANA_CLIENT_SECRET in the environment or the [asana] section of INTEGRATIONS_CONFIG";
    let out = h.run(&["providers"]).await;
    out.assert_code(0);
    assert_eq!(
        out.stdout.lines().next(),
        Some(format!("asana (Asana): not configured for OAuth: {oauth}; stored tokens and `integrations login asana --with-token` work without it").as_str())
    );
    let asana = &h.run(&["providers", "--json"]).await.json()["providers"][0];
    assert_eq!(
        (
            &asana["configured"],
            &asana["oauth2"],
            &asana["app_token"],
            &asana["missing"]
        ),
        (&json!(false), &json!(false), &json!(false), &json!(oauth))
    );
    assert_eq!(asana["login_redirect_uri"], Value::Null);
    // A client id alone: only the secret is named, with where the id came from.
    h.set_env("GITHUB_CLIENT_ID", "client-1");
    let github = "its client id is set (env GITHUB_CLIENT_ID) but not its secret: set GITHUB_CLIENT_SECRET in the environment or the [github] section of INTEGRATIONS_CONFIG";
    let out = h.run(&["providers"]).await;
    out.assert_code(0);
    assert!(
        out.stdout.contains(&format!("\ngithub (GitHub): not configured for OAuth: {github}; stored tokens and `integrations login github --with-token` work without it\n")),
        "{}",
        out.stdout
    );
    let listed = h.run(&["providers", "--json"]).await.json();
    assert_eq!(listed["providers"][1]["id"], "github");
    assert_eq!(listed["providers"][1]["missing"], github);
    // The app-level token alone: configured, and still not for OAuth.
    h.set_env("ASANA_ACCESS_TOKEN", seed_pat());
    let out = h.run(&["providers"]).await;
    assert_eq!(
        out.stdout.lines().next(),
        Some(
            format!(
                "asana (Asana): configured (app-level token); not configured for OAuth: {oauth}"
            )
            .as_str()
        )
    );
    let asana = &h.run(&["providers", "--json"]).await.json()["providers"][0];
    assert_eq!(
        (&asana["configured"], &asana["oauth2"], &asana["app_token"]),
        (&json!(true), &json!(false), &json!(true))
    );

    // A definition's values come from that definition, a file of the user's or a built-in one,
    // not from a built-in default; Asana's defaults are its own.
    let file = h.dir.path().join("acme.toml");
    std::fs::write(
        &file,
        "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\ntoken_url = \"https://acme.example/t\"\n",
    )
    .unwrap();
    h.set_env("INTEGRATIONS_PROVIDERS", file.to_str().unwrap());
    h.set_env("ACME_CLIENT_ID", "acme-client");
    let out = h.run(&["providers"]).await;
    out.assert_code(0);
    let acme = out
        .stdout
        .split("\nasana (Asana)")
        .next()
        .expect("acme is listed first");
    let from = format!("the definition in {}", file.display());
    assert_eq!(
        acme,
        format!(
            "acme (Acme): not configured for OAuth: its client id is set (env ACME_CLIENT_ID) but not its secret: set ACME_CLIENT_SECRET in the environment or the [acme] section of INTEGRATIONS_CONFIG; stored tokens and `integrations login acme --with-token` work without it
  FIELD              SOURCE
  client_id          env ACME_CLIENT_ID
  authorization_url  {from}
  token_url          {from}
  token_auth_method  {from}"
        )
    );
    let listed = h.run(&["providers", "--json"]).await.json();
    let from = format!("definition:{}", file.display());
    assert_eq!(
        listed["providers"][0]["sources"],
        json!({
            "client_id": "env:ACME_CLIENT_ID",
            "authorization_url": from,
            "token_url": from,
            "token_auth_method": from,
        })
    );
    assert_eq!(
        listed["providers"][2]["sources"]["token_url"],
        "definition:built-in:github"
    );
    assert_eq!(
        listed["providers"][1]["sources"]["token_auth_method"],
        "default"
    );
    assert!(
        out.stdout
            .contains("\n  token_url          the built-in github definition\n"),
        "{}",
        out.stdout
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_default_store_is_sqlite_in_the_data_directory() {
    let mut h = Harness::start().await;
    h.remove_env("INTEGRATIONS_STORE");
    let listed = h.run(&["credentials", "list", "--json"]).await.json();
    let expected = h
        .dir
        .path()
        .join(".local/share/integrations/credentials.db");
    assert_eq!(listed["store"], format!("sqlite:{}", expected.display()));
    assert!(expected.exists());
}

/// INTEGRATIONS_STORE names the command line's store: `apps` and `serve` keep to the service's
/// default directory unless given --store (clap copies the variable into their --store).
#[tokio::test]
async fn integrations_store_does_not_apply_to_apps_and_serve() {
    let h = Harness::start().await;
    let service = h.dir.path().join(".local/share/integrations/service");
    let shown = service.display().to_string();

    let out = h.run(&["apps", "list", "--json"]).await;
    out.assert_code(0);
    assert_eq!(out.json(), json!({"applications": [], "store": shown}));
    let out = h.run(&["apps", "create", "acme"]).await;
    let (id, _, _) = printed_credentials(&out);
    assert_eq!(
        out.stderr,
        format!(
            "Application `acme` created in {shown}. Keep the client secret now: the service stores only its hash, so it cannot be shown again; `integrations apps rotate-secret {id}` replaces it.\n"
        )
    );
    assert!(service.join("service.db").exists(), "{out:?}");
    assert!(
        !h.dir.path().join("sqlite:").exists(),
        "no directory named after the variable"
    );

    // `serve` names the store it would use before it binds anything.
    let out = h
        .run(&["serve", "--insecure-no-encryption", "--pool-size", "4"])
        .await;
    out.assert_code(2);
    assert_eq!(
        out.stderr,
        format!(
            "error: --pool-size applies to a postgres:// store; {shown} is a directory of SQLite files\n"
        )
    );
    // A retention past a hundred years is refused as usage, before anything is bound.
    let out = h
        .run(&[
            "serve",
            "--insecure-no-encryption",
            "--audit-retention-days",
            "36501",
        ])
        .await;
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("invalid value '36501' for '--audit-retention-days <DAYS>'"),
        "{}",
        out.stderr
    );
}

/// A store value that is no `sqlite:`/`file:` spec is echoed without the password it may carry.
#[tokio::test]
async fn a_bad_store_value_is_shown_without_its_password() {
    const CANARY: &str = "hunter2canaryStorePw";
    let mut h = Harness::start().await;
    h.set_env(
        "INTEGRATIONS_STORE",
        &format!("postgres://svc:{CANARY}@db.example.com:5432/x"),
    );
    let out = h.run(&["token", "asana"]).await;
    assert_no_secret(&out, CANARY);
    out.assert_code(3);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "error: INTEGRATIONS_STORE is `postgres://svc:***@db.example.com:5432/x`: use sqlite:PATH or file:PATH, e.g. sqlite:./credentials.db\n"
    );

    h.remove_env("INTEGRATIONS_STORE");
    let store = format!("host=db user=svc password={CANARY} dbname=x");
    let out = h
        .run(&["credentials", "list", "--json", "--store", &store])
        .await;
    assert_no_secret(&out, CANARY);
    out.assert_code(3);
    assert_eq!(
        out.json()["error"]["message"],
        "--store is `host=db user=svc password=*** dbname=x`: use sqlite:PATH or file:PATH, e.g. sqlite:./credentials.db"
    );

    // `apps` and `serve` take a directory or a postgres:// URL: a value with another scheme is a
    // usage error, shown without its user information, and no directory is made of it.
    let run_in_dir = |args: &[&str]| {
        let mut command = h.command(args);
        command.current_dir(h.dir.path());
        wait(command.spawn().expect("start the binary"))
    };
    let mysql = format!("mysql://svc:{CANARY}@db.example.com/x");
    let out = run_in_dir(&["apps", "list", "--store", &mysql]).await;
    assert_no_secret(&out, CANARY);
    out.assert_code(2);
    assert_eq!(
        out.stderr,
        "error: --store is `mysql://***@db.example.com/x`: `serve` and `apps` keep the service's data in a directory or a postgres:// database, not in a mysql: store; pass a directory (./NAME for a name with a colon) or a postgres:// URL\n"
    );
    let out = run_in_dir(&[
        "serve",
        "--insecure-no-encryption",
        "--store",
        "sqlite:./svc.db",
        "--json",
    ])
    .await;
    out.assert_code(2);
    assert_eq!(
        out.json()["error"]["message"],
        "--store is `sqlite:./svc.db`: `serve` and `apps` keep the service's data in a directory or a postgres:// database, not in a sqlite: store (sqlite:PATH and file:PATH name the credential store of the other commands); pass a directory (./NAME for a name with a colon) or a postgres:// URL"
    );
    assert!(!h.dir.path().join("mysql:").exists());
    assert!(!h.dir.path().join("sqlite:.").exists());

    // Their help describes that --store, not the other commands' sqlite:PATH|file:PATH.
    for command in [
        &["apps", "--help"][..],
        &["apps", "list", "--help"],
        &["serve", "--help"],
    ] {
        let out = h.run(command).await;
        out.assert_code(0);
        assert!(
            out.stdout.contains("--store <DIR|URL>"),
            "{command:?}: {}",
            out.stdout
        );
        assert!(
            !out.stdout.contains("<sqlite:PATH|file:PATH>"),
            "{command:?}: {}",
            out.stdout
        );
    }
}

#[tokio::test]
async fn catalog_lists_entities_and_the_params_of_one() {
    let h = Harness::start().await;
    let out = h.run(&["catalog", "asana"]).await;
    out.assert_code(0);
    assert!(
        out.stdout.starts_with("tasks\n  list      "),
        "{}",
        out.stdout
    );
    let out = h.run(&["catalog", "asana", "tasks"]).await;
    out.assert_code(0);
    assert!(
        out.stdout.contains("      task_gid (string, required): "),
        "{}",
        out.stdout
    );
    let json = h.run(&["catalog", "asana", "--json"]).await.json();
    let entities = json["entities"].as_array().expect("entities");
    assert!(
        entities
            .iter()
            .any(|e| e["entity"] == "workspace_memberships")
    );
    assert_eq!(entities[0]["actions"][0]["params_schema"]["type"], "object");
    let out = h.run(&["catalog", "asana", "nope"]).await;
    out.assert_code(2);
}

/// The personal access token every mock accepts.
fn seed_pat() -> &'static str {
    provider_asana_testkit::PERSONAL_ACCESS_TOKEN
}

#[tokio::test]
async fn a_revoked_grant_asks_for_a_new_login() {
    let h = Harness::start().await;
    h.login("erin").await.assert_code(0);

    // The user disconnects the app in Asana: the access token gets 401, the refresh invalid_grant.
    h.mock.revoke_all_grants();
    let out = h.run(&["whoami", "asana", "--subject", "erin"]).await;
    out.assert_code(4);
    assert!(
        out.stderr
            .starts_with("error: the credentials of asana/erin need re-authorization ("),
        "{out:?}"
    );
    assert!(
        out.stderr
            .ends_with("): run `integrations login asana --subject erin`\n"),
        "{out:?}"
    );
    assert_eq!(h.mock.token_requests_for("refresh_token"), 1);

    // The credentials are kept, marked; the next command fails the same way without a request.
    let listed = h.run(&["credentials", "list", "--json"]).await.json();
    assert_eq!(listed["credentials"][0]["status"], "needs_reauthorization");
    let out = h.run(&["credentials", "list"]).await;
    assert!(out.stdout.contains("needs re-authorization"), "{out:?}");
    h.run(&["token", "asana", "--subject", "erin"])
        .await
        .assert_code(4);
    assert_eq!(h.mock.token_requests_for("refresh_token"), 1);

    // Logging in again replaces them.
    h.login("erin").await.assert_code(0);
    h.run(&["whoami", "asana", "--subject", "erin"])
        .await
        .assert_code(0);
}

#[tokio::test]
async fn login_uses_the_default_redirect_uri_when_none_is_configured() {
    if std::net::TcpListener::bind("127.0.0.1:8765").is_err() {
        eprintln!("skipped: port 8765 of the default redirect URI is in use on this machine");
        return;
    }
    let mut h = Harness::on_port(MockAsana::builder(), 8765).await;
    assert_eq!(h.mock.redirect_uri(), "http://127.0.0.1:8765/callback");
    h.remove_env("ASANA_REDIRECT_URI");
    let login = h
        .start_login(&["login", "asana", "--no-browser", "--subject", "frank"])
        .await;
    assert_eq!(
        query_param(&login.url, "redirect_uri").as_deref(),
        Some("http://127.0.0.1:8765/callback")
    );
    // The mock checks that the token request sends the same redirect URI.
    let (status, page) = h.browse(&login.url).await;
    assert_eq!(status, 200, "{page}");
    login.finish().await.assert_code(0);
    assert_eq!(h.mock.token_requests_for("authorization_code"), 1);
}

#[tokio::test]
async fn token_fails_and_says_so_when_the_refreshed_credentials_cannot_be_saved() {
    // Tokens live one second: past half of it, inside the expiry margin, so `token` refreshes.
    let mut h = Harness::with(MockAsana::builder().token_lifetime(1)).await;
    let store = h.dir.path().join("c.json");
    h.set_env("INTEGRATIONS_STORE", &format!("file:{}", store.display()));
    h.login("grace").await.assert_code(0);
    within_the_margin_of_a_one_second_token().await;
    h.mock.set_latency(Duration::from_millis(500));

    let child = h
        .command(&["token", "asana", "--subject", "grace"])
        .spawn()
        .expect("start the binary");
    // Once the refresh request is in (the lease is taken), another process holds the store's lock
    // for longer than the write budget.
    let started = std::time::Instant::now();
    while h.mock.token_requests_for("refresh_token") == 0 {
        assert!(started.elapsed() < CHILD_TIMEOUT, "no refresh request");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let lock = std::fs::File::options()
        .write(true)
        .open(h.dir.path().join("c.json.lock"))
        .expect("open the store's lock file");
    lock.lock().expect("hold the store's lock");
    let out = wait(child).await;
    lock.unlock().expect("release the store's lock");

    out.assert_code(1);
    assert_eq!(out.stdout, "", "no token that could not be saved");
    assert!(
        out.stderr.starts_with(
            "error: asana: the token of `grace` was refreshed but the new credentials could not be saved to the store ("
        ),
        "{out:?}"
    );
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert_eq!(h.mock.token_requests_for("refresh_token"), 1);
}

/// A login whose credentials cannot be stored (another process holds the file store's lock past
/// the write budget) fails, and gives back the grant it got: nothing could use it, and Asana's
/// revocation ends that grant's tokens only.
#[tokio::test]
async fn a_login_whose_credentials_cannot_be_stored_revokes_its_grant() {
    let mut h = Harness::start().await;
    let store = h.dir.path().join("c.json");
    h.set_env("INTEGRATIONS_STORE", &format!("file:{}", store.display()));
    let login = h.start_login(&["login", "asana", "--no-browser"]).await;
    let lock = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(h.dir.path().join("c.json.lock"))
        .expect("open the store's lock file");
    lock.lock().expect("hold the store's lock");
    let callback = h.mock.consent(&login.url).await.expect("the mock consents");
    let (out, _) = tokio::join!(login.finish(), get(callback.as_str()));
    lock.unlock().expect("release the store's lock");

    out.assert_code(1);
    assert!(
        out.stderr
            .contains("another writer held the store's lock (`"),
        "{out:?}"
    );
    assert_eq!(h.mock.token_requests_for("authorization_code"), 1);
    assert_eq!(h.mock.revocations(), 1, "{out:?}");
}

#[tokio::test]
async fn a_damaged_record_is_reported_and_logout_local_deletes_it() {
    let h = Harness::start().await;
    h.plant(
        "asana",
        "heidi",
        br#"{"access_token":"at","refresh_token":"rt","expires_at":1e30}"#,
        "plant a damaged record",
    )
    .await;
    let expected = "error: the stored credentials of asana/heidi are damaged (`expires_at` is not a Unix timestamp) and cannot be used: run `integrations login asana --subject heidi` to replace them, or `integrations logout asana --subject heidi --local` to delete them\n";
    for command in [
        &["token", "asana", "--subject", "heidi"][..],
        &["whoami", "asana", "--subject", "heidi"],
        &["logout", "asana", "--subject", "heidi"],
    ] {
        let out = h.run(command).await;
        out.assert_code(4);
        assert_eq!(out.stderr, expected, "{command:?}");
    }

    let out = h
        .run(&["logout", "asana", "--local", "--subject", "heidi"])
        .await;
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        "Logged out asana/heidi: the stored credentials were deleted; not revoked: --local.\n"
    );
    let listed = h.run(&["credentials", "list", "--json"]).await.json();
    assert_eq!(listed["credentials"], Value::Array(Vec::new()));
    let out = h
        .run(&["logout", "asana", "--local", "--subject", "heidi"])
        .await;
    out.assert_code(0);
    assert!(
        out.stdout
            .starts_with("No stored credentials for asana/heidi in "),
        "{out:?}"
    );
}

#[tokio::test]
async fn a_store_file_open_to_other_users_is_restricted_and_the_user_told() {
    use std::os::unix::fs::PermissionsExt;
    let h = Harness::start().await;
    let pat = h.mock.personal_access_token().to_string();
    h.run_with_stdin(&["login", "asana", "--with-token"], &pat)
        .await
        .assert_code(0);
    let path = h.store_path();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let out = h.run(&["credentials", "list"]).await;
    out.assert_code(0);
    assert!(
        out.stderr.contains(
            "the credential store's file was open to other users; it is now readable by its owner only (if others could read it, consider logging in again)"
        ),
        "{out:?}"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = h.run(&["credentials", "list"]).await;
    again.assert_code(0);
    assert!(
        !again.stderr.contains("open to other users"),
        "nothing to say once restricted: {again:?}"
    );
}

#[tokio::test]
async fn logout_local_deletes_the_record_of_a_provider_no_longer_registered() {
    let h = Harness::start().await;
    h.plant(
        "acme",
        "default",
        br#"{"access_token":"at","expires_at":1e30}"#,
        "store a damaged record of a provider that is not registered",
    )
    .await;
    let listed = h.run(&["credentials", "list"]).await;
    listed.assert_code(0);
    assert_eq!(
        listed.stderr.lines().last(),
        Some(
            "warning: acme/default cannot be read: it is damaged (`expires_at` is not a Unix timestamp): delete it with `integrations logout acme --local`, then log in again"
        ),
        "{listed:?}"
    );
    let out = h.run(&["logout", "acme"]).await;
    out.assert_code(2);
    assert!(
        out.stderr
            .starts_with("error: unknown provider `acme`; registered providers: "),
        "{out:?}"
    );

    let out = h.run(&["logout", "acme", "--local"]).await;
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        "Logged out acme/default: the stored credentials were deleted; not revoked: --local.\n"
    );
    let listed = h.run(&["credentials", "list", "--json"]).await.json();
    assert_eq!(listed["credentials"], Value::Array(Vec::new()));
}

/// Without the OAuth app, `logout` cannot revoke a grant (credentials with a refresh token): it
/// refuses with the configuration code and deletes nothing. Credentials without a refresh token
/// hold no grant and are still deleted.
#[tokio::test]
async fn logout_without_the_oauth_app_keeps_a_grant_it_cannot_revoke() {
    let mut h = Harness::start().await;
    h.login("alice").await.assert_code(0);
    h.plant(
        "asana",
        "legacy",
        br#"{"access_token":"legacy-at"}"#,
        "store credentials without a refresh token",
    )
    .await;
    h.remove_env("ASANA_CLIENT_ID");
    h.remove_env("ASANA_CLIENT_SECRET");

    let out = h.run(&["logout", "asana", "--subject", "alice"]).await;
    out.assert_code(3);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "error: cannot revoke the grant of asana/alice: the asana OAuth app is not configured, so nothing was deleted; set ASANA_CLIENT_ID and ASANA_CLIENT_SECRET in the environment or the [asana] section of INTEGRATIONS_CONFIG, or run `integrations logout asana --subject alice --local` to delete the credentials without revoking them\n"
    );
    let out = h
        .run(&["logout", "asana", "--subject", "alice", "--json"])
        .await;
    out.assert_code(3);
    assert_eq!(out.json()["error"]["kind"], "configuration");
    assert_eq!(h.mock.revocations(), 0);
    let listed = h.run(&["credentials", "list", "--json"]).await.json();
    let subjects: Vec<&str> = listed["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["subject"].as_str())
        .collect();
    assert_eq!(subjects, ["alice", "legacy"], "{listed}");

    // A GitHub OAuth app's token is its grant, refresh token or not.
    h.plant(
        "github",
        "alice",
        br#"{"access_token":"gho-oauth-app-token"}"#,
        "store a GitHub OAuth app's token",
    )
    .await;
    let out = h.run(&["logout", "github", "--subject", "alice"]).await;
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        "error: cannot revoke the grant of github/alice: the github OAuth app is not configured, so nothing was deleted; set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET in the environment or the [github] section of INTEGRATIONS_CONFIG, or run `integrations logout github --subject alice --local` to delete the credentials without revoking them\n"
    );
    h.run(&["logout", "github", "--subject", "alice", "--local"])
        .await
        .assert_code(0);

    let out = h.run(&["logout", "asana", "--subject", "legacy"]).await;
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        "Logged out asana/legacy: the stored credentials were deleted; not revoked: the credentials have no grant to revoke (a personal access token is revoked in the provider's developer settings).\n"
    );
    let out = h
        .run(&["logout", "asana", "--subject", "alice", "--local"])
        .await;
    out.assert_code(0);
    let listed = h.run(&["credentials", "list", "--json"]).await.json();
    assert_eq!(listed["credentials"], Value::Array(Vec::new()));
    assert_eq!(h.mock.revocations(), 0);
}

/// `n` `token` processes at once on one expired stored token, over the store `store`: exactly one
/// refresh reaches the token endpoint, and every process prints the token it returned.
async fn processes_share_one_refresh(store: &str, n: usize) {
    let mut h = Harness::with(MockAsana::builder().token_lifetime(1)).await;
    let path = h.dir.path().join(store);
    h.set_env("INTEGRATIONS_STORE", &format!("{store}:{}", path.display()));
    h.login("carol").await.assert_code(0);
    within_the_margin_of_a_one_second_token().await;
    h.mock.set_token_lifetime(3600);
    h.mock.set_latency(Duration::from_millis(50));

    let children: Vec<_> = (0..n)
        .map(|_| {
            h.command(&["token", "asana", "--subject", "carol"])
                .spawn()
                .expect("start the binary")
        })
        .collect();
    let mut outcomes = Vec::with_capacity(n);
    for child in children {
        outcomes.push(wait(child).await);
    }

    assert_eq!(
        h.mock.token_requests_for("refresh_token"),
        1,
        "{store}, {n}"
    );
    let first = outcomes[0].stdout.trim().to_string();
    assert!(
        mock_accepts(&h.mock, &first).await,
        "the refreshed token works"
    );
    for outcome in &outcomes {
        outcome.assert_code(0);
        assert_eq!(outcome.stdout.trim(), first, "{outcome:?}");
    }
}

#[tokio::test]
async fn twenty_and_fifty_processes_refresh_once_over_sqlite() {
    processes_share_one_refresh("sqlite", 20).await;
    processes_share_one_refresh("sqlite", 50).await;
}

#[tokio::test]
async fn twenty_and_fifty_processes_refresh_once_over_a_file() {
    processes_share_one_refresh("file", 20).await;
    processes_share_one_refresh("file", 50).await;
}

/// Whether `text` holds a control character other than a newline.
fn has_controls(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n')
}

#[tokio::test]
async fn login_errors_carry_no_secret_and_no_escape_sequence() {
    let h = Harness::start().await;
    // A token endpoint that echoes the request into its error, behind escape sequences.
    Mock::given(method("POST"))
        .and(path("/-/oauth_token"))
        .respond_with(|req: &wiremock::Request| {
            let body = String::from_utf8_lossy(&req.body).into_owned();
            ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "error": "invalid_request",
                "error_description": format!("\u{1b}[31mno\r {body}\u{1b}]0;pwned\u{7}"),
            }))
        })
        .with_priority(1)
        .mount(h.mock.server())
        .await;

    for json in [false, true] {
        let args: &[&str] = if json {
            &["login", "asana", "--no-browser", "--json"]
        } else {
            &["login", "asana", "--no-browser", "-vvv"]
        };
        let login = h.start_login(args).await;
        let url = if json {
            let line: Value = serde_json::from_str(&login.url).expect("a JSON line");
            line["authorize_url"].as_str().expect("the URL").to_string()
        } else {
            login.url.clone()
        };
        let callback = h.mock.consent(&url).await.expect("the mock consents");
        let code = query_param(callback.as_str(), "code").expect("a code");
        let (status, page) = get(callback.as_str()).await;
        assert_eq!(status, 502, "{page}");
        assert!(page.contains("Login failed"), "{page}");
        let out = login.finish().await;
        out.assert_code(5);
        let token_request = h
            .mock
            .received_requests()
            .await
            .into_iter()
            .rev()
            .find(|r| r.url.path() == "/-/oauth_token")
            .expect("the exchange");
        let verifier = url::form_urlencoded::parse(&token_request.body)
            .find(|(k, _)| k == "code_verifier")
            .map(|(_, v)| v.into_owned())
            .expect("a verifier");
        let message = if json {
            out.json()["error"]["message"]
                .as_str()
                .expect("a message")
                .to_string()
        } else {
            out.stderr
                .lines()
                .last()
                .expect("an error line")
                .to_string()
        };
        assert!(
            message.contains("code=[REDACTED]&")
                && message.contains("code_verifier=[REDACTED]&")
                && message.contains("client_secret=[REDACTED]"),
            "{message}"
        );
        assert!(message.contains(": no grant_type="), "{message}");
        for text in [&page, &out.stdout, &out.stderr] {
            for secret in [h.mock.client_secret(), &code, &verifier] {
                assert!(!text.contains(secret), "`{secret}` in {text}");
            }
            assert!(!has_controls(text), "{text:?}");
            assert!(!text.contains("[31m") && !text.contains("pwned"), "{text}");
        }
    }
}

#[tokio::test]
async fn provider_text_is_shown_without_control_characters() {
    let mut h = Harness::start().await;
    let login = h
        .start_login(&["login", "asana", "--no-browser", "--subject", "gina"])
        .await;
    let state = query_param(&login.url, "state").expect("a state");
    let (status, page) = get(&format!(
        "http://127.0.0.1:{}/callback?state={state}&error=access%1B%5B2J_denied&error_description=%1B%5D0%3Bpwned%07go%0Daway%E2%80%AE%C2%9B31m+{}",
        h.port,
        h.mock.client_secret()
    ))
    .await;
    assert_eq!(status, 403);
    assert!(
        page.contains("Asana answered: access_denied: goaway [REDACTED]."),
        "{page}"
    );
    let out = login.finish().await;
    out.assert_code(4);
    assert!(
        out.stderr.ends_with(
            "error: Asana did not grant access (access_denied: goaway [REDACTED]): run `integrations login asana --subject gina` again and approve the request\n"
        ),
        "{out:?}"
    );
    assert!(!has_controls(&out.stderr) && !has_controls(&page));

    // Names from the API, printed as text.
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": {
                "gid": "42",
                "name": "\u{1b}]0;pwned\u{7}Greg\u{1b}[2J Sanchez",
                "workspaces": [{"gid": "7", "name": "Acme\r\u{9b}1m Corp"}],
            }})),
        )
        .with_priority(1)
        .mount(h.mock.server())
        .await;
    h.set_env("ASANA_ACCESS_TOKEN", seed_pat());
    let out = h.run(&["whoami", "asana"]).await;
    out.assert_code(0);
    assert!(
        out.stdout
            .starts_with("Greg Sanchez (gid 42)\nworkspaces: Acme Corp\n"),
        "{out:?}"
    );
    assert!(!has_controls(&out.stdout), "{out:?}");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn idle_connections_cannot_stall_the_login_listener() {
    use tokio::net::TcpStream;
    use tokio::time::Instant;

    let mut h = Harness::start().await;
    // A low open-file limit (macOS defaults to 256): without a cap, a few hundred idle sockets
    // used up the listener's descriptors and the redirect was never accepted.
    h.open_files_limit = Some(128);
    let login = h
        .start_login(&["login", "asana", "--no-browser", "--subject", "hank"])
        .await;
    let connect = || TcpStream::connect(("127.0.0.1", h.port));

    // A request that was answered does not keep its connection open.
    let mut answered = connect().await.expect("connect");
    answered
        .write_all(b"GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("send a request");
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        answered.read_to_string(&mut response),
    )
    .await
    .expect("the connection is closed after the answer")
    .expect("read the answer");
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert!(response.contains("connection: close"), "{response}");

    // A connection that stops in the middle of its request head is closed after the header-read
    // timeout.
    let mut idle = connect().await.expect("connect");
    idle.write_all(b"GET /callback?state=")
        .await
        .expect("send half a request line");
    let started = Instant::now();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(20), idle.read(&mut byte))
        .await
        .expect("the listener closes an idle connection");
    assert_eq!(read.unwrap_or(0), 0, "closed without an answer");
    assert!(started.elapsed() < Duration::from_secs(15));

    // Three hundred idle connections, then the real redirect: it is served at once, not after
    // idle ones time out (5 s) and free their descriptors.
    let mut flood = Vec::new();
    for _ in 0..300 {
        flood.push(connect().await.expect("connect"));
    }
    let started = Instant::now();
    let (status, page) = h.browse(&login.url).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    login.finish().await.assert_code(0);
    drop(flood);
}

#[tokio::test]
async fn credentials_list_flags_an_unreadable_record_and_lists_the_rest() {
    let mut h = Harness::start().await;
    let pat = h.mock.personal_access_token().to_string();
    // Edits the record of `subject` in the file store's document.
    let tamper = |path: &Path, subject: &str, edit: &dyn Fn(&mut Value)| {
        let mut document: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("the file store"))
                .expect("JSON");
        let record = document["records"]
            .as_array_mut()
            .expect("records")
            .iter_mut()
            .find(|r| r["subject"] == subject)
            .expect("the record");
        edit(record);
        std::fs::write(path, document.to_string()).expect("write the file store");
    };

    // A payload that is not credentials (no key), then a tampered ciphertext (with a key).
    let plain = h.dir.path().join("plain.json");
    let sealed = h.dir.path().join("sealed.json");
    for (store, key) in [
        (&plain, None),
        (
            &sealed,
            Some("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="),
        ),
    ] {
        h.set_env("INTEGRATIONS_STORE", &format!("file:{}", store.display()));
        match key {
            Some(key) => h.set_env("INTEGRATIONS_ENCRYPTION_KEY", key),
            None => h.remove_env("INTEGRATIONS_ENCRYPTION_KEY"),
        }
        for subject in ["bob", "carol", "dave"] {
            h.run_with_stdin(
                &["login", "asana", "--with-token", "--subject", subject],
                &pat,
            )
            .await
            .assert_code(0);
        }
        tamper(store, "carol", &|record| match key {
            None => record["payload"] = serde_json::json!({"not": "credentials"}),
            Some(_) => {
                // The sealed payload's envelope; a character near its end is in the tag.
                let sealed = record["payload_base64"]
                    .as_str()
                    .expect("a sealed payload")
                    .to_string();
                let at = sealed.trim_end_matches('=').len() - 3;
                let flipped = if &sealed[at..=at] == "A" { "B" } else { "A" };
                record["payload_base64"] =
                    Value::String(format!("{}{flipped}{}", &sealed[..at], &sealed[at + 1..]));
            }
        });

        let out = h.run(&["credentials", "list"]).await;
        out.assert_code(0);
        let rows: Vec<Vec<&str>> = out
            .stdout
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect())
            .collect();
        let statuses: Vec<(&str, &str)> = rows.iter().map(|r| (r[1], r[3])).collect();
        assert_eq!(
            statuses,
            [
                ("bob", "active"),
                ("carol", "unreadable"),
                ("dave", "active")
            ],
            "{out:?}"
        );
        assert!(
            out.stderr.contains("warning: asana/carol cannot be read: "),
            "{out:?}"
        );
        assert!(
            out.stderr
                .contains("delete it with `integrations logout asana --subject carol --local`"),
            "{out:?}"
        );

        let listed = h.run(&["credentials", "list", "--json"]).await;
        listed.assert_code(0);
        let listed = listed.json();
        let entries = listed["credentials"].as_array().expect("credentials");
        let subjects: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| {
                (
                    e["subject"].as_str().unwrap_or_default(),
                    e["status"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            subjects,
            [
                ("bob", "active"),
                ("carol", "unreadable"),
                ("dave", "active")
            ]
        );
        let reason = entries[1]["reason"].as_str().expect("a reason");
        assert!(
            reason.contains("asana") && reason.contains("carol"),
            "{reason}"
        );
        for text in [&out.stdout, &out.stderr, &listed.to_string()] {
            assert!(!text.contains(&pat), "{text}");
        }
    }
}

#[tokio::test]
async fn credentials_stored_before_a_key_was_set_are_refused_until_rotate() {
    let mut h = Harness::start().await;
    h.login("dora").await.assert_code(0);
    // Without a key there is nothing to rotate to: the variable to set is named.
    let out = h.run(&["credentials", "rotate"]).await;
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        "error: no encryption key is set, so there is nothing to encrypt the stored credentials under: set INTEGRATIONS_ENCRYPTION_KEY to base64 of 32 random bytes (make one with `openssl rand -base64 32`, and keep it: credentials encrypted under it cannot be read without it), then run `integrations credentials rotate` again\n"
    );
    h.set_env(
        "INTEGRATIONS_ENCRYPTION_KEY",
        "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
    );
    // `credentials list` says what to run, once each.
    let listed = h.run(&["credentials", "list"]).await;
    listed.assert_code(0);
    let why = "it is stored unencrypted although an encryption key is set, so it is not used: if it was stored before the key was set, run `integrations credentials rotate`; otherwise someone else put it there: delete it with `integrations logout asana --subject dora --local`, then log in again";
    assert_eq!(
        listed.stderr.lines().last(),
        Some(format!("warning: asana/dora cannot be read: {why}").as_str())
    );
    let listed = h.run(&["credentials", "list", "--json"]).await.json();
    assert_eq!(listed["credentials"][0]["reason"], why);

    let refused = h.run(&["token", "asana", "--subject", "dora"]).await;
    refused.assert_code(3);
    assert!(
        refused.stderr.contains("stored unencrypted")
            && refused
                .stderr
                .contains("run `integrations credentials rotate`")
            && refused
                .stderr
                .contains("run `integrations logout asana --subject dora --local`"),
        "{refused:?}"
    );

    let rotated = h.run(&["--json", "credentials", "rotate"]).await;
    rotated.assert_code(0);
    assert_eq!(rotated.json(), serde_json::json!({"rewritten": 1}));

    let token = h.run(&["token", "asana", "--subject", "dora"]).await;
    token.assert_code(0);
    assert!(
        mock_accepts(&h.mock, token.stdout.trim()).await,
        "{token:?}"
    );
    let bytes = std::fs::read(h.store_path()).expect("the database");
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains(token.stdout.trim()),
        "the token is encrypted now"
    );

    let again = h.run(&["credentials", "rotate"]).await;
    again.assert_code(0);
    assert_eq!(
        again.stdout,
        "0 record(s) re-encrypted under the primary key\n"
    );

    // Under another key, the record names its key and the variables that configure keys.
    h.set_env(
        "INTEGRATIONS_ENCRYPTION_KEY",
        "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",
    );
    let out = h.run(&["token", "asana", "--subject", "dora"]).await;
    out.assert_code(3);
    let key_id = out
        .stderr
        .split('`')
        .nth(1)
        .expect("the record's key id")
        .to_string();
    assert_eq!(
        out.stderr,
        format!(
            "error: credentials for asana/dora are encrypted with key `{key_id}`, which is not configured: set INTEGRATIONS_ENCRYPTION_KEY to that key, or add it to INTEGRATIONS_ENCRYPTION_OLD_KEYS\n"
        )
    );
    let listed = h.run(&["credentials", "list"]).await;
    listed.assert_code(0);
    assert_eq!(
        listed.stderr.lines().last(),
        Some(format!("warning: asana/dora cannot be read: credentials for asana/dora are encrypted with key `{key_id}`, which is not configured: set INTEGRATIONS_ENCRYPTION_KEY to that key, or add it to INTEGRATIONS_ENCRYPTION_OLD_KEYS; otherwise delete it with `integrations logout asana --subject dora --local`, then log in again").as_str())
    );
}

/// A declarative provider's fake: its token endpoint and API on one wiremock server, and the
/// harness's env pointing `{ID}_*` at it with the harness's redirect port.
async fn declarative_fake(h: &mut Harness, id: &str, revocation: bool) -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    let prefix = id.to_ascii_uppercase();
    let uri = server.uri();
    let mut pairs = vec![
        (format!("{prefix}_CLIENT_ID"), "client-1".to_string()),
        (
            format!("{prefix}_CLIENT_SECRET"),
            "client-secret-canary".to_string(),
        ),
        (
            format!("{prefix}_AUTHORIZATION_URL"),
            format!("{uri}/authorize"),
        ),
        (format!("{prefix}_TOKEN_URL"), format!("{uri}/token")),
        (format!("{prefix}_API_BASE_URL"), format!("{uri}/api")),
        (
            format!("{prefix}_REDIRECT_URI"),
            format!("http://127.0.0.1:{}/callback", h.port),
        ),
    ];
    if revocation {
        pairs.push((format!("{prefix}_REVOCATION_URL"), format!("{uri}/revoke")));
    }
    for (key, value) in pairs {
        h.set_env(&key, &value);
    }
    server
}

#[tokio::test]
async fn a_redirect_port_in_use_names_the_providers_own_redirect_uri_key() {
    let mut h = Harness::start().await;
    let _fake = declarative_fake(&mut h, "github", false).await;
    let taken = std::net::TcpListener::bind(("127.0.0.1", h.port)).expect("take the port");
    let in_use = std::net::TcpListener::bind(("127.0.0.1", h.port))
        .expect_err("the port is taken")
        .to_string();
    for (provider, key) in [
        ("github", "GITHUB_REDIRECT_URI"),
        ("asana", "ASANA_REDIRECT_URI"),
    ] {
        let out = h.run(&["login", provider, "--no-browser"]).await;
        out.assert_code(1);
        assert_eq!(
            out.stderr,
            format!(
                "error: cannot listen on 127.0.0.1:{port} for the redirect to http://127.0.0.1:{port}/callback: {in_use}; stop whatever uses that port, or set {key} to another loopback URI registered with your app\n",
                port = h.port
            ),
            "{provider}"
        );
    }
    drop(taken);
}

/// Form fields of a request.
fn form_of(request: &wiremock::Request) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// Plays the browser for a declarative provider: the provider "redirects" to the CLI's
/// listener with `code` and the state of the authorize URL.
async fn consent(h: &Harness, login: &Login, code: &str) -> (u16, String) {
    let state = query_param(&login.url, "state").expect("the authorize URL has a state");
    get(&format!(
        "http://127.0.0.1:{}/callback?code={code}&state={state}",
        h.port
    ))
    .await
}

#[tokio::test]
async fn github_end_to_end_login_whoami_token_request_and_logout() {
    let mut h = Harness::start().await;
    let server = declarative_fake(&mut h, "github", true).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(|request: &wiremock::Request| {
            let fields = form_of(request);
            let json_wanted = request
                .headers
                .get("accept")
                .is_some_and(|v| v == "application/json");
            if fields.get("code").map(String::as_str) != Some("gh-code") || !json_wanted {
                return ResponseTemplate::new(200).set_body_json(serde_json::json!({
                    "error": "bad_verification_code",
                    "error_description": "The code passed is incorrect or expired."
                }));
            }
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "access_token": "gho_at1", "token_type": "bearer", "scope": "read:user"
            }))
        })
        .mount(&server)
        .await;
    let api = |body: Value| {
        move |request: &wiremock::Request| {
            let authorized = request
                .headers
                .get("authorization")
                .is_some_and(|v| v == "Bearer gho_at1");
            if !request.headers.contains_key("user-agent") {
                ResponseTemplate::new(403)
                    .set_body_string("Please make sure your request has a User-Agent header")
            } else if !authorized {
                ResponseTemplate::new(401)
                    .set_body_json(serde_json::json!({"message": "Bad credentials"}))
            } else {
                ResponseTemplate::new(200).set_body_json(body.clone())
            }
        }
    };
    Mock::given(method("GET"))
        .and(path("/api/user"))
        .respond_with(api(serde_json::json!({"id": 583231, "login": "octocat"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/user/repos"))
        .and(wiremock::matchers::body_json(
            serde_json::json!({"name": "hello"}),
        ))
        .respond_with(api(serde_json::json!({"id": 1, "name": "hello"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/missing"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(serde_json::json!({"message": "Not Found"})),
        )
        .mount(&server)
        .await;

    let login = h.start_login(&["login", "github", "--no-browser"]).await;
    assert!(
        login
            .url
            .starts_with(&format!("{}/authorize?", server.uri())),
        "{}",
        login.url
    );
    assert_eq!(
        query_param(&login.url, "scope").as_deref(),
        Some("read:user")
    );
    let (status, page) = consent(&h, &login, "gh-code").await;
    assert_eq!(status, 200, "{page}");
    let out = login.finish().await;
    out.assert_code(0);
    assert!(out.stdout.contains("Logged in to GitHub"), "{out:?}");

    let out = h.run(&["whoami", "github", "--json"]).await;
    out.assert_code(0);
    assert_eq!(out.json()["user_id"], "583231");
    assert_eq!(out.json()["user"]["login"], "octocat");
    let out = h.run(&["whoami", "github"]).await;
    out.assert_code(0);
    assert!(out.stdout.starts_with("octocat (id 583231)\n"), "{out:?}");

    let out = h.run(&["token", "github"]).await;
    out.assert_code(0);
    assert_eq!(out.stdout, "gho_at1\n");

    let out = h
        .run(&[
            "request",
            "github",
            "post",
            "/user/repos",
            "--data",
            r#"{"name": "hello"}"#,
        ])
        .await;
    out.assert_code(0);
    assert_eq!(out.stdout, "{\n  \"id\": 1,\n  \"name\": \"hello\"\n}\n");

    Mock::given(method("GET"))
        .and(path("/api/user/starred"))
        .and(wiremock::matchers::header("if-none-match", "\"etag-1\""))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-remaining", "4999")
                .set_body_json(serde_json::json!([])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let out = h
        .run(&[
            "request",
            "github",
            "GET",
            "/user/starred",
            "-H",
            "If-None-Match: \"etag-1\"",
            "--json",
        ])
        .await;
    out.assert_code(0);
    assert_eq!(out.json()["status"], 200);
    assert_eq!(out.json()["headers"]["x-ratelimit-remaining"], "4999");
    let out = h
        .run(&["request", "github", "GET", "/user", "-H", "Authorization"])
        .await;
    out.assert_code(2);
    assert!(
        out.stderr.contains("--header takes `NAME: VALUE`"),
        "{out:?}"
    );
    let out = h
        .run(&["request", "github", "GET", "/user", "-H", "Cookie: c=1"])
        .await;
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("the request header `cookie` is the client's own and cannot be set"),
        "{out:?}"
    );

    let out = h.run(&["request", "github", "GET", "/missing"]).await;
    out.assert_code(5);
    assert_eq!(out.stdout, "{\n  \"message\": \"Not Found\"\n}\n");
    assert_eq!(
        out.stderr,
        "error: github answered HTTP 404 to GET /missing\n"
    );
    // With --json, one document: the error, carrying the answer's status, headers and body.
    let out = h
        .run(&["request", "github", "GET", "/missing", "--json"])
        .await;
    out.assert_code(5);
    assert_eq!(out.stderr, "");
    let mut document = out.json();
    let headers = document["error"]
        .as_object_mut()
        .and_then(|error| error.remove("headers"))
        .expect("the answer's headers");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        document,
        json!({"error": {
            "kind": "remote",
            "exit_code": 5,
            "message": "github answered HTTP 404 to GET /missing",
            "retryable": false,
            "provider": "github",
            "status": 404,
            "body": {"message": "Not Found"},
        }})
    );

    let out = h
        .run(&["request", "github", "GET", "https://evil.example/steal"])
        .await;
    out.assert_code(2);
    assert_eq!(
        out.stderr,
        "error: github: cannot send the request: the path must start with a single `/` and be relative to the API base URL\n"
    );
    let out = h
        .run(&[
            "request",
            "github",
            "POST",
            "/user/repos",
            "--data",
            "{oops",
        ])
        .await;
    out.assert_code(2);

    // GitHub's grant deletion: DELETE with the client's Basic auth and the access token.
    Mock::given(method("DELETE"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let out = h.run(&["logout", "github"]).await;
    out.assert_code(0);
    assert!(
        out.stdout.contains("the grant was revoked at github"),
        "{out:?}"
    );
    let deleted = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "DELETE")
        .unwrap();
    assert!(deleted.headers.contains_key("authorization"));
    let body: serde_json::Value = serde_json::from_slice(&deleted.body).unwrap();
    assert!(body["access_token"].is_string(), "{body}");
    let out = h.run(&["token", "github"]).await;
    out.assert_code(4);
    assert!(out.stderr.contains("integrations login github"), "{out:?}");
}

#[tokio::test]
async fn google_end_to_end_refreshes_on_a_401_and_revokes_at_logout() {
    let mut h = Harness::start().await;
    let server = declarative_fake(&mut h, "google", true).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(|request: &wiremock::Request| {
            let fields = form_of(request);
            match (fields.get("grant_type").map(String::as_str), fields.get("code").map(String::as_str)) {
                (Some("authorization_code"), Some("g-code")) if fields.contains_key("code_verifier") => {
                    ResponseTemplate::new(200).set_body_json(serde_json::json!({
                        "access_token": "ya29.one", "expires_in": 3599, "refresh_token": "1//rt",
                        "scope": "openid email profile", "token_type": "Bearer", "id_token": "eyJ.e30.sig"
                    }))
                }
                (Some("refresh_token"), _) if fields.get("refresh_token").map(String::as_str) == Some("1//rt") => {
                    ResponseTemplate::new(200).set_body_json(serde_json::json!({
                        "access_token": "ya29.two", "expires_in": 3599, "token_type": "Bearer"
                    }))
                }
                _ => ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": "invalid_grant"})),
            }
        })
        .mount(&server)
        .await;
    // The first token was revoked at Google: only the refreshed one is accepted.
    Mock::given(method("GET"))
        .and(path("/api/oauth2/v3/userinfo"))
        .respond_with(|request: &wiremock::Request| {
            match request.headers.get("authorization").and_then(|v| v.to_str().ok()) {
                Some("Bearer ya29.two") => ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"sub": "1098", "name": "Alice", "email": "alice@example.com"})),
                _ => ResponseTemplate::new(401).set_body_json(serde_json::json!({"error": "invalid_token"})),
            }
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(|request: &wiremock::Request| {
            if form_of(request).get("token").map(String::as_str) == Some("1//rt") {
                ResponseTemplate::new(200)
            } else {
                ResponseTemplate::new(400)
            }
        })
        .expect(1)
        .mount(&server)
        .await;

    let login = h.start_login(&["login", "google", "--no-browser"]).await;
    assert_eq!(
        query_param(&login.url, "access_type").as_deref(),
        Some("offline")
    );
    assert_eq!(
        query_param(&login.url, "prompt").as_deref(),
        Some("consent")
    );
    let (status, page) = consent(&h, &login, "g-code").await;
    assert_eq!(status, 200, "{page}");
    login.finish().await.assert_code(0);

    let out = h
        .run(&["request", "google", "GET", "/oauth2/v3/userinfo"])
        .await;
    out.assert_code(0);
    assert!(out.stdout.contains("\"sub\": \"1098\""), "{out:?}");
    let out = h.run(&["token", "google"]).await;
    assert_eq!(out.stdout, "ya29.two\n", "the refreshed token was stored");
    let out = h.run(&["whoami", "google", "--json"]).await;
    out.assert_code(0);
    assert_eq!(out.json()["user_id"], "1098");

    // A path that refuses every token: refreshed once, then refused again.
    Mock::given(method("GET"))
        .and(path("/api/forbidden"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&server)
        .await;
    let out = h.run(&["request", "google", "GET", "/forbidden"]).await;
    out.assert_code(5);
    assert_eq!(
        out.stderr,
        "error: google answered HTTP 401 to GET /forbidden; the token was refused even after a refresh: run `integrations login google`\n"
    );

    let out = h.run(&["logout", "google"]).await;
    out.assert_code(0);
    assert!(
        out.stdout.contains("the grant was revoked at google"),
        "{out:?}"
    );
}

/// A token that must never appear in any output but `token`'s stdout.
const GITHUB_PAT: &str = "ghp_canary0patTokenNeverPrinted";

/// What `logout github` says of a token stored by `login github --with-token`.
const PASTED_TOKEN_LOGOUT: &str = "Logged out github/default: the stored credentials were deleted; not revoked: the token was stored by `login --with-token` and is no grant of an OAuth app (revoke it in the provider's developer settings).\n";

/// With GitHub's OAuth app configured (its grant deletion at the fake), a token stored by
/// `login --with-token` is still only deleted at logout: GitHub would refuse to delete a grant
/// for a personal access token, and the credentials would be kept.
#[tokio::test]
async fn a_token_from_login_with_token_is_deleted_not_revoked_even_with_an_oauth_app() {
    let mut h = Harness::start().await;
    let server = declarative_fake(&mut h, "github", true).await;
    Mock::given(method("GET"))
        .and(path("/api/user"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"id": 583231, "login": "octocat"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(422))
        .expect(0)
        .mount(&server)
        .await;
    let out = h
        .run_with_stdin(&["login", "github", "--with-token"], GITHUB_PAT)
        .await;
    assert_no_secret(&out, GITHUB_PAT);
    out.assert_code(0);

    let out = h.run(&["logout", "github"]).await;
    assert_no_secret(&out, GITHUB_PAT);
    out.assert_code(0);
    assert_eq!(out.stdout, PASTED_TOKEN_LOGOUT);
    assert_eq!(
        authorizations(&server).await,
        [("GET /api/user".to_string(), format!("Bearer {GITHUB_PAT}"))]
    );
    h.run(&["token", "github"]).await.assert_code(4);
}

/// GitHub's API on a wiremock server: `GET /api/user` answers octocat for [`GITHUB_PAT`] and
/// 401 for any other token; the harness points GITHUB_API_BASE_URL at it, with no OAuth app.
async fn github_api_for_a_pat(h: &mut Harness) -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    h.set_env("GITHUB_API_BASE_URL", &format!("{}/api", server.uri()));
    Mock::given(method("GET"))
        .and(path("/api/user"))
        .respond_with(|request: &wiremock::Request| {
            let bearer = format!("Bearer {GITHUB_PAT}");
            if request
                .headers
                .get("authorization")
                .is_some_and(|v| v.as_bytes() == bearer.as_bytes())
            {
                ResponseTemplate::new(200).set_body_json(
                    serde_json::json!({"id": 583231, "login": "octocat", "name": null}),
                )
            } else {
                ResponseTemplate::new(401).set_body_json(serde_json::json!({
                    "message": "Bad credentials",
                    "documentation_url": "https://docs.github.com/rest"
                }))
            }
        })
        .mount(&server)
        .await;
    server
}

/// The `authorization` header of each request the server received, in order.
async fn authorizations(server: &wiremock::MockServer) -> Vec<(String, String)> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .iter()
        .map(|r| {
            let auth = r
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            (format!("{} {}", r.method, r.url.path()), auth)
        })
        .collect()
}

fn assert_no_secret(out: &Outcome, secret: &str) {
    assert!(
        !out.stdout.contains(secret) && !out.stderr.contains(secret),
        "the token was printed: {out:?}"
    );
}

#[tokio::test]
async fn github_login_with_token_checks_it_and_serves_token_request_whoami_and_logout() {
    let mut h = Harness::start().await;
    let server = github_api_for_a_pat(&mut h).await;
    let bearer = format!("Bearer {GITHUB_PAT}");

    let out = h
        .run_with_stdin(
            &["login", "github", "--with-token"],
            &format!("{GITHUB_PAT}\n"),
        )
        .await;
    assert_no_secret(&out, GITHUB_PAT);
    out.assert_code(0);
    let store = format!("sqlite:{}", h.store_path().display());
    assert_eq!(
        out.stdout,
        format!(
            "Logged in to GitHub as octocat (id 583231) (subject `default`); credentials stored in {store}\n"
        )
    );
    assert_eq!(
        out.stderr,
        format!(
            "warning: the credentials are stored unencrypted in {store}; set INTEGRATIONS_ENCRYPTION_KEY (base64 of 32 random bytes) to encrypt them at rest\n"
        )
    );
    assert_eq!(
        authorizations(&server).await,
        [("GET /api/user".to_string(), bearer.clone())],
        "checked once, with the token as a bearer token"
    );
    let checked = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        checked.headers.get("user-agent").map(|v| v.as_bytes()),
        Some(b"integrations".as_slice()),
        "the definition's headers"
    );

    let out = h.run(&["token", "github"]).await;
    out.assert_code(0);
    assert_eq!(out.stdout, format!("{GITHUB_PAT}\n"));
    assert_eq!(out.stderr, "");

    let out = h.run(&["request", "github", "GET", "/user"]).await;
    assert_no_secret(&out, GITHUB_PAT);
    out.assert_code(0);
    assert_eq!(
        out.json(),
        serde_json::json!({"id": 583231, "login": "octocat", "name": null})
    );
    assert_eq!(
        authorizations(&server).await.last(),
        Some(&("GET /api/user".to_string(), bearer.clone()))
    );

    let out = h.run(&["whoami", "github", "--json"]).await;
    assert_no_secret(&out, GITHUB_PAT);
    out.assert_code(0);
    assert_eq!(out.json()["user_id"], "583231");
    assert_eq!(out.json()["source"], "stored");

    let out = h.run(&["credentials", "list", "--json"]).await;
    assert_no_secret(&out, GITHUB_PAT);
    let listed = out.json();
    let github: Vec<&Value> = listed["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["provider"] == "github")
        .collect();
    assert_eq!(github.len(), 1, "{listed}");
    assert_eq!(github[0]["subject"], "default");
    assert_eq!(github[0]["has_refresh_token"], false);
    assert_eq!(github[0]["expires_at"], Value::Null);

    // Still no OAuth app: `providers` says so.
    let out = h.run(&["providers", "--json"]).await;
    let providers = out.json();
    let listed = providers["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "github")
        .cloned()
        .unwrap();
    assert_eq!(listed["configured"], false);

    // Logout deletes the token and revokes nothing.
    let requests = server.received_requests().await.unwrap().len();
    let out = h.run(&["logout", "github"]).await;
    assert_no_secret(&out, GITHUB_PAT);
    out.assert_code(0);
    assert_eq!(out.stdout, PASTED_TOKEN_LOGOUT);
    assert_eq!(server.received_requests().await.unwrap().len(), requests);
    let out = h.run(&["token", "github"]).await;
    out.assert_code(4);
    assert_eq!(
        out.stderr,
        "error: no credentials for github/default: run `integrations login github`\n"
    );

    // With --json: who logged in as the whoami call answered, and what was stored.
    let out = h
        .run_with_stdin(&["--json", "login", "github", "--with-token"], GITHUB_PAT)
        .await;
    assert_no_secret(&out, GITHUB_PAT);
    out.assert_code(0);
    assert_eq!(
        out.json(),
        serde_json::json!({
            "provider": "github",
            "subject": "default",
            "user": {"id": 583231, "login": "octocat", "name": null},
            "scopes": [],
            "expires_at": null,
            "has_refresh_token": false,
            "store": store,
        })
    );
    assert_eq!(out.stderr, "");
}

/// A body that is not JSON reaches a pipe byte for byte: tabs, CRLF line ends, escape
/// sequences, and no newline added.
#[tokio::test]
async fn request_writes_a_raw_body_to_a_pipe_unchanged() {
    let mut h = Harness::start().await;
    let server = github_api_for_a_pat(&mut h).await;
    let body = "name\tsize\r\nreport.txt\t42\r\n\u{1b}[1mlast\tline";
    Mock::given(method("GET"))
        .and(path("/api/raw"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/plain"))
        .mount(&server)
        .await;
    h.run_with_stdin(&["login", "github", "--with-token"], GITHUB_PAT)
        .await
        .assert_code(0);
    let out = h.run(&["request", "github", "GET", "/raw"]).await;
    out.assert_code(0);
    assert_eq!(out.stdout, body);
    assert_eq!(out.stderr, "");
}

/// A 401 to a token that cannot be refreshed (a pasted token, an app-level token) is retried
/// with nothing: the message says so and what to do; a refreshable one says it was refreshed.
#[tokio::test]
async fn request_says_whether_a_refused_token_was_refreshed() {
    let mut h = Harness::start().await;
    let server = github_api_for_a_pat(&mut h).await;
    Mock::given(method("GET"))
        .and(path("/api/private"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})),
        )
        .mount(&server)
        .await;
    h.run_with_stdin(&["login", "github", "--with-token"], GITHUB_PAT)
        .await
        .assert_code(0);
    let out = h.run(&["request", "github", "GET", "/private"]).await;
    assert_no_secret(&out, GITHUB_PAT);
    out.assert_code(5);
    assert_eq!(out.stdout, "{\n  \"message\": \"Bad credentials\"\n}\n");
    assert_eq!(
        out.stderr,
        "error: github answered HTTP 401 to GET /private; the token was refused and was not refreshed (it has no refresh token): pipe a new one to `integrations login github --with-token`, or run `integrations login github`\n"
    );
    let sent: Vec<(String, String)> = authorizations(&server)
        .await
        .into_iter()
        .filter(|(request, _)| request == "GET /api/private")
        .collect();
    assert_eq!(sent.len(), 1, "sent once: {sent:?}");

    // Asana's app-level token, for a subject with no stored credentials.
    h.set_env("ASANA_ACCESS_TOKEN", "not-a-valid-token");
    let out = h
        .run(&[
            "request",
            "asana",
            "GET",
            "/users/me",
            "--subject",
            "nobody",
        ])
        .await;
    out.assert_code(5);
    assert_eq!(
        out.stderr,
        "note: asana/nobody has no stored credentials; using the app-level token (env ASANA_ACCESS_TOKEN)\nerror: asana answered HTTP 401 to GET /users/me; the app-level token (env ASANA_ACCESS_TOKEN) was refused and cannot be refreshed: replace it, or connect an account for the subject with `integrations login asana --subject nobody`\n"
    );
    // Asana's own calls say the same: the token to replace, not a login of the subject.
    let out = h.run(&["whoami", "asana", "--subject", "nobody"]).await;
    out.assert_code(4);
    assert_eq!(
        out.stderr,
        "error: Asana GET /api/1.0/users/me (HTTP 401): Not Authorized: the app-level token from env ASANA_ACCESS_TOKEN (used because asana/nobody has no stored credentials) was rejected: replace it with a valid personal access token\n"
    );
    let out = h
        .run(&[
            "execute",
            "asana",
            "users",
            "get",
            "--params",
            r#"{"user_gid": "me"}"#,
        ])
        .await;
    out.assert_code(4);
    assert_eq!(
        out.stderr,
        "error: Asana GET /api/1.0/users/me (HTTP 401): Not Authorized: the app-level token from env ASANA_ACCESS_TOKEN (used because asana/default has no stored credentials) was rejected: replace it with a valid personal access token\n"
    );
}

#[tokio::test]
async fn a_github_token_rejected_at_whoami_is_not_stored() {
    let mut h = Harness::start().await;
    let server = github_api_for_a_pat(&mut h).await;
    let rejected = "ghp_canary1rejectedNeverPrinted";

    for json in [false, true] {
        let mut args = vec!["login", "github", "--with-token", "--subject", "eve"];
        if json {
            args.push("--json");
        }
        let out = h.run_with_stdin(&args, rejected).await;
        assert_no_secret(&out, rejected);
        out.assert_code(4);
        let message = "GitHub rejected the token read from standard input (HTTP 401); nothing was stored: check that it is a valid personal access token";
        if json {
            let error = out.json();
            assert_eq!(error["error"]["kind"], "authorization");
            assert_eq!(error["error"]["message"], message);
        } else {
            assert_eq!(out.stdout, "");
            assert_eq!(out.stderr, format!("error: {message}\n"));
        }
    }
    assert_eq!(
        authorizations(&server).await,
        vec![("GET /api/user".to_string(), format!("Bearer {rejected}")); 2],
        "asked once per login, never retried"
    );

    let out = h.run(&["token", "github", "--subject", "eve"]).await;
    out.assert_code(4);
    assert_eq!(
        out.stderr,
        "error: no credentials for github/eve: run `integrations login github --subject eve`\n"
    );
    let out = h.run(&["credentials", "list", "--json"]).await;
    assert_eq!(out.json()["credentials"], Value::Array(Vec::new()));

    // Nothing on standard input: the same usage error as Asana's, naming the provider.
    let out = h
        .run_with_stdin(&["login", "github", "--with-token"], "")
        .await;
    out.assert_code(2);
    assert_eq!(
        out.stderr,
        "error: no token on standard input: pipe it in, e.g. `printf %s \"$TOKEN\" | integrations login github --with-token`\n"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

/// A fake of Slack's API for the CLI under `h`, whose `auth.test` answers `answer` (200).
async fn slack_api(h: &mut Harness, answer: Value) -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    h.set_env("SLACK_API_BASE_URL", &format!("{}/api", server.uri()));
    answer_auth_test(&server, answer).await;
    server
}

/// Slack's `auth.test` on `server` answers `answer` (200, as Slack answers its errors too).
async fn answer_auth_test(server: &wiremock::MockServer, answer: Value) {
    Mock::given(method("POST"))
        .and(path("/api/auth.test"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_slack_token_rejected_with_ok_false_exits_4_and_is_not_stored() {
    let mut h = Harness::start().await;
    let server = slack_api(
        &mut h,
        serde_json::json!({"ok": false, "error": "invalid_auth"}),
    )
    .await;
    let rejected = "xoxp-canary-rejectedNeverPrinted";

    let out = h
        .run_with_stdin(&["login", "slack", "--with-token", "--json"], rejected)
        .await;

    assert_no_secret(&out, rejected);
    out.assert_code(4);
    let error = out.json();
    assert_eq!(error["error"]["kind"], "authorization");
    assert_eq!(
        error["error"]["message"],
        "Slack rejected the token read from standard input (`invalid_auth`); nothing was stored: check that it is a valid personal access token"
    );
    assert_eq!(
        authorizations(&server).await,
        vec![(
            "POST /api/auth.test".to_string(),
            format!("Bearer {rejected}")
        )]
    );
    let out = h.run(&["credentials", "list", "--json"]).await;
    assert_eq!(out.json()["credentials"], Value::Array(Vec::new()));
}

#[tokio::test]
async fn whoami_with_a_token_slack_now_rejects_exits_4_naming_the_login() {
    let mut h = Harness::start().await;
    let server = slack_api(
        &mut h,
        serde_json::json!({"ok": true, "user_id": "U1", "user": "alice"}),
    )
    .await;
    h.run_with_stdin(
        &["login", "slack", "--with-token"],
        "xoxp-canary-revokedLater",
    )
    .await
    .assert_code(0);
    server.reset().await;
    answer_auth_test(
        &server,
        serde_json::json!({"ok": false, "error": "token_revoked"}),
    )
    .await;

    let out = h.run(&["whoami", "slack"]).await;

    assert_no_secret(&out, "xoxp-canary-revokedLater");
    out.assert_code(4);
    assert_eq!(
        out.stderr,
        "error: slack: the API rejected the token in the \"who am I\" call (token_revoked): run `integrations login slack`\n"
    );
}

#[tokio::test]
async fn login_with_token_errors_keep_their_exit_codes_and_never_print_the_token() {
    let mut h = Harness::start().await;
    let server = github_api_for_a_pat(&mut h).await;

    // An unknown provider is a usage error, before standard input is read.
    let out = h
        .run_with_stdin(&["login", "gitlab", "--with-token"], GITHUB_PAT)
        .await;
    assert_no_secret(&out, GITHUB_PAT);
    out.assert_code(2);
    assert_eq!(
        out.stderr,
        "error: unknown provider `gitlab`; registered providers: asana, github, google, hubspot, linear, microsoft, notion, salesforce, slack\n"
    );
    let out = h.run(&["token", "gitlab"]).await;
    out.assert_code(2);

    // An OAuth login still needs the app, and says how to use a token instead.
    let out = h.run(&["login", "github", "--no-browser"]).await;
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        "error: `integrations login github` needs an OAuth app: set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET in the environment or the [github] section of INTEGRATIONS_CONFIG (with a personal access token instead, run `integrations login github --with-token`)\n"
    );
    assert_eq!(out.stdout, "");

    // Salesforce's API base URL comes with an OAuth answer: a bare token needs it configured.
    let out = h
        .run_with_stdin(&["login", "salesforce", "--with-token"], GITHUB_PAT)
        .await;
    assert_no_secret(&out, GITHUB_PAT);
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        "error: salesforce: missing `api_base_url`: set SALESFORCE_API_BASE_URL in the environment or the [salesforce] section of INTEGRATIONS_CONFIG; a token read from standard input comes without the API base URL an OAuth login receives\n"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 0);
    let out = h.run(&["credentials", "list", "--json"]).await;
    assert_eq!(out.json()["credentials"], Value::Array(Vec::new()));
}

/// An OAuth app configured in part (a client id without its secret, as in a configuration file)
/// does not stop what needs no app: `login --with-token`, `whoami`, `token` and
/// `credentials list` work, for Asana and for a definition's provider. An OAuth login and a
/// refresh need the app, and name the setting it lacks.
#[tokio::test]
async fn a_half_configured_oauth_app_leaves_the_token_commands_working() {
    let mut h = Harness::with(MockAsana::builder().token_lifetime(1)).await;
    h.login("bob").await.assert_code(0);
    h.remove_env("ASANA_CLIENT_ID");
    h.remove_env("ASANA_CLIENT_SECRET");
    let config = h.dir.path().join("integrations.toml");
    std::fs::write(
        &config,
        format!("[asana]\nclient_id = \"{}\"\n", h.mock.client_id()),
    )
    .expect("write the configuration file");
    h.set_env("INTEGRATIONS_CONFIG", &config.display().to_string());
    h.set_env("GITHUB_CLIENT_ID", "client-1");
    let github = github_api_for_a_pat(&mut h).await;
    let pat = h.mock.personal_access_token().to_string();

    let out = h
        .run_with_stdin(
            &["login", "asana", "--with-token", "--subject", "pat"],
            &pat,
        )
        .await;
    out.assert_code(0);
    let out = h.run(&["whoami", "asana", "--subject", "pat"]).await;
    out.assert_code(0);
    assert!(
        out.stdout.ends_with("subject `pat`, credentials: stored\n"),
        "{out:?}"
    );
    let out = h.run(&["token", "asana", "--subject", "pat"]).await;
    out.assert_code(0);
    assert_eq!(out.stdout, format!("{pat}\n"));
    let out = h
        .run_with_stdin(&["login", "github", "--with-token"], GITHUB_PAT)
        .await;
    out.assert_code(0);
    let out = h.run(&["whoami", "github"]).await;
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        "octocat (id 583231)\nsubject `default`, credentials: stored\n"
    );
    assert_eq!(github.received_requests().await.unwrap().len(), 2);
    let out = h.run(&["credentials", "list", "--json"]).await;
    out.assert_code(0);
    let listed: Vec<(Value, Value)> = out.json()["credentials"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| (c["provider"].clone(), c["subject"].clone()))
        .collect();
    assert_eq!(
        listed,
        [
            (json!("asana"), json!("bob")),
            (json!("asana"), json!("pat")),
            (json!("github"), json!("default")),
        ]
    );

    // bob's OAuth token is due: refreshing it needs the app's secret.
    within_the_margin_of_a_one_second_token().await;
    let out = h.run(&["token", "asana", "--subject", "bob"]).await;
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        "error: asana: the OAuth app has no `client_secret`, which an OAuth login and a token refresh need: set ASANA_CLIENT_SECRET in the environment or the [asana] section of INTEGRATIONS_CONFIG\n"
    );
    assert_eq!(h.mock.token_requests_for("refresh_token"), 0);
    std::fs::write(&config, "").expect("empty the configuration file");
    let out = h.run(&["token", "asana", "--subject", "bob"]).await;
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        "error: asana: the OAuth app is not configured, and an OAuth login and a token refresh need it: set ASANA_CLIENT_ID and ASANA_CLIENT_SECRET in the environment or the [asana] section of INTEGRATIONS_CONFIG\n"
    );
    std::fs::write(
        &config,
        format!("[asana]\nclient_id = \"{}\"\n", h.mock.client_id()),
    )
    .expect("write the configuration file");
    let out = h.run(&["login", "asana", "--no-browser"]).await;
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        format!(
            "error: `integrations login asana` needs an OAuth app: its client id is set (config file {}) but not its secret: set ASANA_CLIENT_SECRET in the environment or the [asana] section of INTEGRATIONS_CONFIG (with a personal access token instead, run `integrations login asana --with-token`)\n",
            config.display()
        )
    );
    let out = h.run(&["login", "github", "--no-browser"]).await;
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        "error: `integrations login github` needs an OAuth app: its client id is set (env GITHUB_CLIENT_ID) but not its secret: set GITHUB_CLIENT_SECRET in the environment or the [github] section of INTEGRATIONS_CONFIG (with a personal access token instead, run `integrations login github --with-token`)\n"
    );
    assert_eq!(h.mock.authorizations(), 1, "bob's login only");
}

#[tokio::test]
async fn a_definition_without_whoami_stores_the_token_unchecked_and_says_so() {
    let mut h = Harness::start().await;
    let server = wiremock::MockServer::start().await;
    let file = h.dir.path().join("acme.toml");
    std::fs::write(
        &file,
        format!(
            "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\ntoken_url = \"https://acme.example/t\"\napi_base_url = \"{}/api\"\n",
            server.uri()
        ),
    )
    .unwrap();
    h.set_env("INTEGRATIONS_PROVIDERS", file.to_str().unwrap());
    h.set_env(
        "INTEGRATIONS_ENCRYPTION_KEY",
        "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
    );
    let canary = "acme_canary2uncheckedNeverPrinted";

    let out = h
        .run_with_stdin(
            &["login", "acme", "--with-token", "--subject", "ann"],
            canary,
        )
        .await;
    assert_no_secret(&out, canary);
    out.assert_code(0);
    assert_eq!(
        out.stderr,
        "note: the acme definition has no \"who am I\" call, so the token is stored without a check\n"
    );
    assert_eq!(
        out.stdout,
        format!(
            "Logged in to Acme (subject `ann`); credentials stored in sqlite:{}\n",
            h.store_path().display()
        )
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 0);

    Mock::given(method("GET"))
        .and(path("/api/things"))
        .and(wiremock::matchers::header(
            "authorization",
            format!("Bearer {canary}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let out = h
        .run(&["request", "acme", "GET", "/things", "--subject", "ann"])
        .await;
    assert_no_secret(&out, canary);
    out.assert_code(0);
    assert_eq!(out.stdout, "[]\n");
    let out = h.run(&["token", "acme", "--subject", "ann"]).await;
    out.assert_code(0);
    assert_eq!(out.stdout, format!("{canary}\n"));
}

#[tokio::test]
async fn a_broken_definition_file_fails_every_command_with_the_configuration_code() {
    let mut h = Harness::start().await;
    let file = h.dir.path().join("acme.toml");
    std::fs::write(
        &file,
        "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\n",
    )
    .unwrap();
    h.set_env("INTEGRATIONS_PROVIDERS", file.to_str().unwrap());
    let out = h.run(&["providers"]).await;
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        format!(
            "error: provider definition {}, line 1: `providers[0].token_url`: missing field `token_url`\n",
            file.display()
        )
    );
    // Files that cannot be read say why in plain words, and which kind of file they are; a
    // configuration file that is not TOML says where, never what the line holds.
    let missing = h.dir.path().join("missing.toml");
    h.set_env("INTEGRATIONS_PROVIDERS", missing.to_str().unwrap());
    let out = h.run(&["whoami", "asana"]).await;
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        format!(
            "error: cannot read provider definition file {}: no such file; check the path\n",
            missing.display()
        )
    );
    h.remove_env("INTEGRATIONS_PROVIDERS");
    let out = h
        .run(&["providers", "--config", missing.to_str().unwrap()])
        .await;
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        format!(
            "error: cannot read config file {}: no such file; check the path\n",
            missing.display()
        )
    );
    let config = h.dir.path().join("integrations.toml");
    std::fs::write(
        &config,
        "[asana]\nclient_secret = \"canary-config-secret\" oops\n",
    )
    .unwrap();
    let out = h
        .run(&["providers", "--config", config.to_str().unwrap()])
        .await;
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        format!(
            "error: cannot read config file {}: not valid TOML at line 2, column 40; check its syntax\n",
            config.display()
        )
    );
    h.set_env("INTEGRATIONS_PROVIDERS", file.to_str().unwrap());
    std::fs::write(
        &file,
        "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\ntoken_url = \"https://acme.example/t\"\n",
    )
    .unwrap();
    let out = h.run(&["providers", "--json"]).await;
    out.assert_code(0);
    let acme = out.json()["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "acme")
        .cloned()
        .unwrap();
    assert_eq!(acme["configured"], false);
}

/// GitHub's rotating refresh tokens, spent by processes sharing one store: twenty `token`
/// processes on an expired token cause one refresh, and a replayed refresh token would be
/// refused (`bad_refresh_token`), so a second refresh would fail some of them.
#[tokio::test]
async fn github_rotating_refresh_tokens_are_spent_once_by_twenty_processes() {
    let mut h = Harness::start().await;
    let server = declarative_fake(&mut h, "github", false).await;
    let generation = std::sync::Arc::new(std::sync::Mutex::new(1u32));
    let refreshes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (g, r) = (generation.clone(), refreshes.clone());
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(move |request: &wiremock::Request| {
            let fields = form_of(request);
            let answer = match fields.get("grant_type").map(String::as_str) {
                Some("authorization_code") => serde_json::json!({
                    "access_token": "at-1", "token_type": "bearer", "expires_in": 1,
                    "refresh_token": "rt-1", "refresh_token_expires_in": 15897600
                }),
                _ => {
                    let mut current = g.lock().unwrap();
                    if fields.get("refresh_token") == Some(&format!("rt-{current}")) {
                        *current += 1;
                        r.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        serde_json::json!({
                            "access_token": format!("at-{current}"), "token_type": "bearer",
                            "expires_in": 28800, "refresh_token": format!("rt-{current}"),
                            "refresh_token_expires_in": 15897600
                        })
                    } else {
                        serde_json::json!({"error": "bad_refresh_token", "error_description": "The refresh token passed is incorrect or expired."})
                    }
                }
            };
            ResponseTemplate::new(200)
                .set_body_json(answer)
                .set_delay(Duration::from_millis(50))
        })
        .mount(&server)
        .await;

    let login = h.start_login(&["login", "github", "--no-browser"]).await;
    let (status, page) = consent(&h, &login, "gh-code").await;
    assert_eq!(status, 200, "{page}");
    login.finish().await.assert_code(0);
    within_the_margin_of_a_one_second_token().await;

    let children: Vec<_> = (0..20)
        .map(|_| {
            h.command(&["token", "github"])
                .spawn()
                .expect("start the binary")
        })
        .collect();
    let mut outcomes = Vec::new();
    for child in children {
        outcomes.push(wait(child).await);
    }
    for outcome in &outcomes {
        outcome.assert_code(0);
        assert_eq!(outcome.stdout, "at-2\n", "{outcome:?}");
    }
    assert_eq!(refreshes.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(*generation.lock().unwrap(), 2);
}

/// `request` works for the coded Asana provider too: its API base URL is the configured one.
#[tokio::test]
async fn request_sends_asana_tokens_to_the_asana_api() {
    let h = Harness::start().await;
    h.login("frank").await.assert_code(0);
    let out = h
        .run(&[
            "request",
            "asana",
            "GET",
            "/users/me",
            "--subject",
            "frank",
            "--json",
        ])
        .await;
    out.assert_code(0);
    assert_eq!(out.json()["provider"], "asana");
    assert_eq!(out.json()["status"], 200);
    assert!(out.json()["body"]["data"]["gid"].is_string(), "{out:?}");
    let out = h
        .run(&["request", "asana", "GET", "/tasks/0", "--subject", "frank"])
        .await;
    out.assert_code(5);
    assert!(
        out.stderr.starts_with("error: asana answered HTTP 4"),
        "{out:?}"
    );
}

/// An MCP client (rmcp's) of `integrations mcp asana ARGS` run as a child with the harness's
/// environment, and the child's stderr to come.
async fn mcp_client(h: &Harness, args: &[&str]) -> (McpClient, JoinHandle<String>) {
    let mut argv = vec!["mcp", "asana"];
    argv.extend_from_slice(args);
    let (transport, stderr) = TokioChildProcess::builder(h.command(&argv))
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary");
    let stderr = tokio::spawn(read_all(stderr.expect("piped stderr")));
    let client = tokio::time::timeout(CHILD_TIMEOUT, ().serve(transport))
        .await
        .expect("the handshake in time")
        .expect("the handshake");
    (client, stderr)
}

type McpClient = rmcp::service::RunningService<rmcp::RoleClient, ()>;

/// Closes the client, waits for the child to exit, and returns its stderr.
async fn close(client: McpClient, stderr: JoinHandle<String>) -> String {
    client.cancel().await.expect("close the client");
    tokio::time::timeout(CHILD_TIMEOUT, stderr)
        .await
        .expect("the child exits in time")
        .expect("stderr task")
}

#[tokio::test]
async fn mcp_serves_the_stored_connection_on_stdio() {
    let h = Harness::start().await;
    h.login("dana").await.assert_code(0);
    let (client, stderr) = mcp_client(&h, &["--subject", "dana"]).await;

    let info = client.peer_info().expect("server info");
    assert_eq!(info.server_info.as_ref().unwrap().name, "integrations");
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["describe", "execute"]);
    for tool in &tools {
        assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
        assert!(tool.input_schema["properties"].is_object(), "{}", tool.name);
    }

    let described = structured_ok(&call_tool(&client, "describe", json!({})).await);
    let entities = described["entities"].as_array().unwrap();
    assert!(entities.iter().any(|e| e["entity"] == "tasks"));
    let tasks = structured_ok(&call_tool(&client, "describe", json!({"entity": "tasks"})).await);
    assert_eq!(
        tasks["actions"][1]["params_schema"]["required"],
        json!(["task_gid"])
    );

    let read = structured_ok(
        &call_tool(
            &client,
            "execute",
            json!({"entity": "tasks", "action": "get",
                   "params": {"task_gid": seed::DRAFT_TASK_GID, "select_fields": ["name"]}}),
        )
        .await,
    );
    assert_eq!(
        read,
        json!({"data": {"gid": seed::DRAFT_TASK_GID, "name": "Draft announcement"}})
    );

    let created = structured_ok(
        &call_tool(
            &client,
            "execute",
            json!({"entity": "tasks", "action": "create",
                   "params": {"name": "Agenda", "projects": [seed::LAUNCH_PROJECT_GID]}}),
        )
        .await,
    );
    let gid = created["data"]["gid"].as_str().expect("the new task's gid");
    let stored = h.mock.object(gid).expect("the mock holds the new task");
    assert_eq!(stored["name"], "Agenda");
    assert_eq!(stored["projects"][0]["gid"], seed::LAUNCH_PROJECT_GID);

    let requests = h.mock.api_requests();
    let error = structured_error(
        &call_tool(
            &client,
            "execute",
            json!({"entity": "tasks", "action": "update", "params": {"task_gid": gid, "completed": "yes"}}),
        )
        .await,
    );
    assert_eq!(error["kind"], "invalid_params");
    assert_eq!(error["retryable"], false);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("`completed` must be boolean, got a string"),
        "{error}"
    );
    assert_eq!(h.mock.api_requests(), requests, "nothing was sent");

    // Logs go to stderr, and without -v there are none.
    assert_eq!(close(client, stderr).await, "");
}

#[tokio::test]
async fn mcp_read_only_hides_and_refuses_writes() {
    let h = Harness::start().await;
    h.login("erin").await.assert_code(0);
    let (client, stderr) = mcp_client(&h, &["--subject", "erin", "--read-only"]).await;

    let tools = client.list_all_tools().await.unwrap();
    let execute = tools.iter().find(|t| t.name == "execute").unwrap();
    assert_eq!(
        execute.annotations.as_ref().unwrap().read_only_hint,
        Some(true)
    );

    let requests = h.mock.api_requests();
    let error = structured_error(
        &call_tool(
            &client,
            "execute",
            json!({"entity": "tasks", "action": "delete", "params": {"task_gid": seed::DRAFT_TASK_GID}}),
        )
        .await,
    );
    assert_eq!(error["kind"], "read_only");
    assert_eq!(h.mock.api_requests(), requests, "nothing reached Asana");
    assert!(h.mock.object(seed::DRAFT_TASK_GID).is_some());
    close(client, stderr).await;

    let (client, stderr) = mcp_client(
        &h,
        &["--subject", "erin", "--read-only", "--tools", "tasks.*"],
    )
    .await;
    let names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(names, ["tasks_list", "tasks_get"]);
    close(client, stderr).await;
}

#[tokio::test]
async fn mcp_tools_gives_one_tool_per_selected_action_with_hints() {
    let h = Harness::start().await;
    h.login("finn").await.assert_code(0);
    let (client, stderr) = mcp_client(&h, &["--subject", "finn", "--tools", "tasks.*"]).await;
    let tools = client.list_all_tools().await.unwrap();
    // (name, readOnlyHint, destructiveHint, idempotentHint) of each tool.
    let described: Vec<(String, [Option<bool>; 3])> = tools
        .iter()
        .map(|t| {
            let a = t.annotations.clone().expect("annotations");
            (
                t.name.to_string(),
                [a.read_only_hint, a.destructive_hint, a.idempotent_hint],
            )
        })
        .collect();
    let expected = [
        ("tasks_list", [Some(true), None, None]),
        ("tasks_get", [Some(true), None, None]),
        ("tasks_create", [Some(false), Some(false), Some(false)]),
        ("tasks_update", [Some(false), Some(false), Some(true)]),
        ("tasks_delete", [Some(false), Some(true), Some(true)]),
    ]
    .map(|(name, hints)| (name.to_string(), hints));
    assert_eq!(described, expected);
    for tool in &tools {
        assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
        assert!(!tool.input_schema.contains_key("anyOf"), "{}", tool.name);
    }
    let deleted = structured_ok(
        &call_tool(
            &client,
            "tasks_delete",
            json!({"task_gid": seed::VENUE_TASK_GID}),
        )
        .await,
    );
    assert_eq!(deleted, json!({"data": {}}));
    assert!(h.mock.object(seed::VENUE_TASK_GID).is_none());
    close(client, stderr).await;

    // A pattern that selects nothing is a usage error, before anything is served.
    let out = h
        .run(&[
            "mcp",
            "asana",
            "--subject",
            "finn",
            "--tools",
            "tasks.*,taks.*",
        ])
        .await;
    out.assert_code(2);
    assert!(
        out.stderr
            .starts_with("error: --tools: the tools pattern `taks.*` matches no action"),
        "{out:?}"
    );
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[tokio::test]
async fn mcp_refreshes_an_expired_token_once_under_twenty_concurrent_calls() {
    let h = Harness::with(MockAsana::builder().token_lifetime(1)).await;
    h.login("gail").await.assert_code(0);
    within_the_margin_of_a_one_second_token().await;
    h.mock.set_token_lifetime(3600);
    h.mock.set_latency(Duration::from_millis(50));

    let (client, stderr) = mcp_client(&h, &["--subject", "gail"]).await;
    assert_eq!(
        h.mock.token_requests_for("refresh_token"),
        0,
        "starting refreshes nothing"
    );
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let peer = client.peer().clone();
        let Value::Object(arguments) = json!({"entity": "tasks", "action": "get",
               "params": {"task_gid": seed::INVITES_TASK_GID, "select_fields": ["name"]}})
        else {
            unreachable!("an object")
        };
        calls.spawn(async move {
            peer.call_tool(CallToolRequestParams::new("execute").with_arguments(arguments))
                .await
        });
    }
    let results = tokio::time::timeout(CHILD_TIMEOUT, calls.join_all())
        .await
        .expect("the calls in time");
    assert_eq!(results.len(), 20);
    for result in &results {
        let result = result.as_ref().expect("a tool result");
        assert_eq!(structured_ok(result)["data"]["name"], "Send invites");
    }
    assert_eq!(h.mock.token_requests_for("refresh_token"), 1);
    assert_eq!(
        h.mock
            .requests_to("GET", &format!("/api/1.0/tasks/{}", seed::INVITES_TASK_GID)),
        20
    );
    close(client, stderr).await;
    let listed = h.run(&["credentials", "list", "--json"]).await.json();
    assert_eq!(
        listed["credentials"][0]["expired"], false,
        "the refresh was stored"
    );
}

#[tokio::test]
async fn mcp_writes_only_protocol_messages_on_stdout_and_logs_on_stderr() {
    let h = Harness::start().await;
    h.login("hana").await.assert_code(0);
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "execute",
            "arguments": {"entity": "users", "action": "get", "params": {"user_gid": "me"}}}}),
    ];
    let input: String = messages.iter().map(|m| format!("{m}\n")).collect();
    let out = h
        .run_with_stdin(&["mcp", "asana", "--subject", "hana", "-vv"], &input)
        .await;
    out.assert_code(0);
    let answers: Vec<Value> = out
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    assert_eq!(answers.len(), 2, "{out:?}");
    assert_eq!(answers[0]["result"]["serverInfo"]["name"], "integrations");
    assert_eq!(
        answers[1]["result"]["structuredContent"]["data"]["name"],
        seed::ME_NAME
    );
    assert!(out.stderr.contains("DEBUG"), "{out:?}");
}

/// `args` as the `&str`s `Harness::run` takes.
fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `execute asana users list --hosted URI {target...}`.
async fn hosted_users_list(h: &Harness, uri: &str, target: &[&str]) -> Outcome {
    let mut args = vec!["execute", "asana", "users", "list", "--hosted", uri];
    args.extend_from_slice(target);
    h.run(&args).await
}

/// The application's secret at the hosted service: it must never be printed.
const APP_SECRET: &str = "canary-app-secret-51c0";

/// A service (wiremock) with a token endpoint for the application `app-1`, customer `acme` with
/// the one Asana connector `conn-1`, whose execute answers `execute`.
async fn hosted_service(execute: ResponseTemplate) -> wiremock::MockServer {
    use wiremock::matchers::{body_json, header, query_param};
    let server = wiremock::MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/account/applications/token"))
        .and(body_json(
            serde_json::json!({"client_id": "app-1", "client_secret": APP_SECRET}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "service-token-1", "token_type": "bearer", "expires_in": 900,
            "organization_id": "org-1",
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/integrations/connectors"))
        .and(query_param("customer_name", "acme"))
        .and(query_param("connector_type", "Asana"))
        .and(header("authorization", "Bearer service-token-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "data": [{"id": "conn-1", "customer_name": "acme", "connector_type": "Asana"}],
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/integrations/connectors/conn-1/execute"))
        .and(header("authorization", "Bearer service-token-1"))
        .respond_with(execute)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn execute_hosted_runs_through_the_service_with_the_apps_credentials() {
    let service = hosted_service(ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "result": [{"gid": "1", "name": "Book the venue"}],
        "connector_metadata": {"next_page": null},
    })))
    .await;
    let mut h = Harness::start().await;
    h.set_env("INTEGRATIONS_APP_CLIENT_ID", "app-1");
    h.set_env("INTEGRATIONS_APP_CLIENT_SECRET", APP_SECRET);
    let uri = service.uri();
    let hosted = |params: &str, extra: &[&str]| -> Vec<String> {
        [
            "execute", "asana", "tasks", "list", "--params", params, "--hosted", &uri,
        ]
        .iter()
        .chain(extra)
        .map(|a| a.to_string())
        .collect()
    };
    let project = r#"{"project": "12"}"#;

    let out = h
        .run(&refs(&hosted(project, &["--customer", "acme", "--json"])))
        .await;
    out.assert_code(0);
    assert_eq!(
        out.json(),
        serde_json::json!({"data": [{"gid": "1", "name": "Book the venue"}], "meta": {"next_page": null}})
    );
    let requests = service.received_requests().await.expect("recording");
    let paths: Vec<&str> = requests.iter().map(|r| r.url.path()).collect();
    assert_eq!(
        paths,
        [
            "/api/v1/account/applications/token",
            "/api/v1/integrations/connectors",
            "/api/v1/integrations/connectors/conn-1/execute"
        ]
    );
    assert_eq!(
        requests[2].body_json::<Value>().expect("JSON"),
        serde_json::json!({"entity": "tasks", "action": "list", "params": {"project": "12"}})
    );
    assert_eq!(h.mock.api_requests(), 0, "Asana is not called directly");
    assert!(!h.store_path().exists(), "the store is not opened");

    // By connector id: no lookup.
    let out = h
        .run(&refs(&hosted(project, &["--connector", "conn-1"])))
        .await;
    out.assert_code(0);
    assert!(out.stdout.contains("Book the venue"), "{out:?}");
    let requests = service.received_requests().await.expect("recording");
    assert_eq!(requests.len(), 5);
    assert_eq!(
        requests[4].url.path(),
        "/api/v1/integrations/connectors/conn-1/execute"
    );

    // Invalid params: a usage error, nothing sent.
    let out = h
        .run(&refs(&hosted(
            r#"{"colour": "red"}"#,
            &["--customer", "acme"],
        )))
        .await;
    out.assert_code(2);
    assert!(out.stderr.contains("unknown param `colour`"), "{out:?}");
    assert_eq!(
        service.received_requests().await.expect("recording").len(),
        5
    );

    // Usage: a target without --hosted, --hosted without a target, both targets.
    h.run(&["execute", "asana", "users", "list", "--customer", "acme"])
        .await
        .assert_code(2);
    h.run(&refs(&hosted(project, &[]))).await.assert_code(2);
    h.run(&refs(&hosted(
        project,
        &["--customer", "acme", "--connector", "conn-1"],
    )))
    .await
    .assert_code(2);
    let out = h.run(&["execute", "--help"]).await;
    out.assert_code(0);
    for key in [
        "INTEGRATIONS_APP_CLIENT_ID",
        "INTEGRATIONS_APP_CLIENT_SECRET",
    ] {
        assert!(out.stdout.contains(key), "{out:?}");
    }

    // No application credentials: configuration.
    h.remove_env("INTEGRATIONS_APP_CLIENT_SECRET");
    let out = h
        .run(&refs(&hosted(project, &["--customer", "acme", "--json"])))
        .await;
    out.assert_code(3);
    assert!(
        out.json()["error"]["message"]
            .as_str()
            .expect("message")
            .starts_with("INTEGRATIONS_APP_CLIENT_SECRET is not set"),
        "{out:?}"
    );
    assert_eq!(
        service.received_requests().await.expect("recording").len(),
        5
    );
}

#[tokio::test]
async fn execute_hosted_maps_the_services_errors_to_exit_codes() {
    let mut h = Harness::start().await;
    h.set_env("INTEGRATIONS_APP_CLIENT_ID", "app-1");
    h.set_env("INTEGRATIONS_APP_CLIENT_SECRET", APP_SECRET);
    let cases = [
        (409, None, 4, false),
        (429, Some("9"), 5, true),
        (502, None, 5, true),
        (404, None, 2, false),
    ];
    for (status, retry_after, code, retryable) in cases {
        let mut answer = ResponseTemplate::new(status).set_body_json(serde_json::json!({
            "message": format!("refused; echoing client_secret={APP_SECRET}"),
            "errors": [],
            "retryable": retryable,
        }));
        if let Some(seconds) = retry_after {
            answer = answer.insert_header("retry-after", seconds);
        }
        let service = hosted_service(answer).await;
        let out = hosted_users_list(&h, &service.uri(), &["--customer", "acme", "--json"]).await;
        out.assert_code(code);
        let error = out.json();
        assert_eq!(error["error"]["retryable"], retryable, "{status}: {out:?}");
        assert!(!out.stdout.contains(APP_SECRET) && !out.stderr.contains(APP_SECRET));
        if status == 429 {
            assert!(
                error["error"]["message"]
                    .as_str()
                    .expect("message")
                    .contains("retry after 9s"),
                "{out:?}"
            );
        }
    }

    // Wrong application credentials: configuration.
    let service = wiremock::MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/account/applications/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"message": "invalid client", "errors": [], "retryable": false}),
        ))
        .mount(&service)
        .await;
    let out = hosted_users_list(&h, &service.uri(), &["--connector", "conn-1"]).await;
    out.assert_code(3);
    assert!(
        out.stderr.contains("check INTEGRATIONS_APP_CLIENT_ID"),
        "{out:?}"
    );

    // A plain-http service off loopback is refused before anything is sent.
    let out = hosted_users_list(&h, "http://service.example", &["--connector", "conn-1"]).await;
    out.assert_code(2);
    assert!(out.stderr.contains("must be https"), "{out:?}");
}

/// `apps ...` over the service's store at `dir`.
async fn apps(h: &Harness, dir: &Path, args: &[&str]) -> Outcome {
    apps_on(h, dir.to_str().expect("utf-8 path"), args).await
}

/// `apps ...` with `--store store` (a directory or a postgres:// URL).
async fn apps_on(h: &Harness, store: &str, args: &[&str]) -> Outcome {
    let mut all = vec!["apps"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--store", store]);
    h.run(&all).await
}

/// `apps create acme --redirect-origin https://app.acme.example` on the service store `dir`:
/// its `id`, `client_id` and `client_secret`.
async fn create_acme(h: &Harness, dir: &Path) -> (String, String, String) {
    let created = apps(
        h,
        dir,
        &[
            "create",
            "acme",
            "--redirect-origin",
            "https://app.acme.example",
        ],
    )
    .await;
    printed_credentials(&created)
}

/// `id`, `client_id` and `client_secret`: the three lines `apps create` and `apps rotate-secret`
/// print, in that order and nothing else.
fn printed_credentials(out: &Outcome) -> (String, String, String) {
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let value = |i: usize, key: &str| -> String {
        let prefix = format!("{key}: ");
        lines
            .get(i)
            .and_then(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("line {i} is not `{prefix}...`: {out:?}"))
            .to_string()
    };
    assert_eq!(lines.len(), 3, "{out:?}");
    let secret = value(2, "client_secret");
    assert!(secret.len() >= 32, "{out:?}");
    (value(0, "id"), value(1, "client_id"), secret)
}

#[tokio::test]
async fn apps_create_list_rotate_and_delete_print_the_secret_once() {
    let h = Harness::start().await;
    let dir = h.dir.path().join("service");
    let shown = dir.display().to_string();

    // No INTEGRATIONS_ENCRYPTION_KEY: the admin reads no credentials and needs none.
    let created = apps(
        &h,
        &dir,
        &[
            "create",
            "acme",
            "--redirect-origin",
            "https://app.example.com/callback",
        ],
    )
    .await;
    let (id, client_id, secret) = printed_credentials(&created);
    assert!(!created.stderr.contains(&secret), "{created:?}");
    assert!(
        created.stderr.contains(&format!(
            "Application `acme` created in {shown}. Keep the client secret now: the service stores only its hash, so it cannot be shown again; `integrations apps rotate-secret {id}` (with the same --store) replaces it."
        )),
        "{created:?}"
    );
    let json = apps(&h, &dir, &["create", "beta", "--json"]).await;
    json.assert_code(0);
    let beta = json.json();
    let mut keys: Vec<&str> = beta
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "client_id",
            "client_secret",
            "created_at",
            "id",
            "name",
            "organization_id",
            "redirect_origins"
        ]
    );
    assert_eq!(
        (&beta["name"], &beta["redirect_origins"]),
        (&Value::from("beta"), &serde_json::json!([]))
    );
    let beta_secret = beta["client_secret"].as_str().expect("secret").to_string();
    assert!(json.stderr.is_empty(), "{json:?}");

    // list: both, never a secret.
    let listed = apps(&h, &dir, &["list"]).await;
    listed.assert_code(0);
    let lines: Vec<&str> = listed.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{listed:?}");
    assert!(lines[0].starts_with("ID "), "{listed:?}");
    assert!(
        lines[1].starts_with(&format!("{id}  acme  {client_id}  ")),
        "{listed:?}"
    );
    assert!(
        lines[1].ends_with("  https://app.example.com"),
        "{listed:?}"
    );
    let listed_json = apps(&h, &dir, &["list", "--json"]).await;
    listed_json.assert_code(0);
    let document = listed_json.json();
    assert_eq!(document["store"], shown);
    let applications = document["applications"].as_array().expect("a list");
    assert_eq!(applications.len(), 2);
    assert_eq!(applications[0]["id"], id.as_str());
    assert_eq!(
        applications[0]["redirect_origins"],
        serde_json::json!(["https://app.example.com"])
    );
    assert!(
        applications
            .iter()
            .all(|a| a.get("client_secret").is_none())
    );
    for out in [&listed, &listed_json] {
        assert!(!out.stdout.contains(&secret) && !out.stdout.contains(&beta_secret));
    }

    // rotate-secret: the same application, a new secret, shown once.
    let rotated = apps(&h, &dir, &["rotate-secret", &id]).await;
    let (same_id, same_client, new_secret) = printed_credentials(&rotated);
    assert_eq!(
        (same_id.as_str(), same_client.as_str()),
        (id.as_str(), client_id.as_str())
    );
    assert_ne!(new_secret, secret);
    let rotated_json = apps(&h, &dir, &["rotate-secret", &id, "--json"]).await;
    rotated_json.assert_code(0);
    assert_eq!(rotated_json.json()["client_id"], client_id.as_str());
    assert_ne!(rotated_json.json()["client_secret"], new_secret.as_str());

    // Unknown ids and bad origins: usage errors that say what to do; nothing created.
    let unknown = apps(&h, &dir, &["rotate-secret", "nope"]).await;
    unknown.assert_code(2);
    assert_eq!(
        unknown.stderr,
        format!(
            "error: no application with id `nope` in {shown}; list them with `integrations apps list` (with the same --store)\n"
        )
    );
    for (origin, reason) in [
        (
            "ftp://files.example.com",
            "must be an http(s) origin such as https://app.example.com",
        ),
        ("not a url", "is not a URL"),
        (
            "http://evil.example",
            "must be https: plain http is accepted only on localhost, 127.0.0.1 or [::1] (for development)",
        ),
    ] {
        let message = format!("invalid redirect_origin: `{origin}` {reason}");
        let bad = apps(&h, &dir, &["create", "gamma", "--redirect-origin", origin]).await;
        bad.assert_code(2);
        assert_eq!(bad.stderr, format!("error: {message}\n"));
        let bad = apps(
            &h,
            &dir,
            &["create", "gamma", "--redirect-origin", origin, "--json"],
        )
        .await;
        assert_eq!(
            bad.json(),
            serde_json::json!({"error": {"kind": "usage", "exit_code": 2, "message": message, "retryable": false}})
        );
    }
    apps(&h, &dir, &["delete", "nope"]).await.assert_code(2);

    // delete: gone from the list, and a second delete is unknown.
    let deleted = apps(&h, &dir, &["delete", &id]).await;
    deleted.assert_code(0);
    assert_eq!(
        deleted.stdout,
        format!(
            "Deleted application {id} with its service tokens, connectors and their credentials.\n"
        )
    );
    let beta_id = beta["id"].as_str().expect("id");
    let deleted = apps(&h, &dir, &["delete", beta_id, "--json"]).await;
    deleted.assert_code(0);
    assert_eq!(
        deleted.json(),
        serde_json::json!({"id": beta_id, "deleted": true})
    );
    let empty = apps(&h, &dir, &["list"]).await;
    empty.assert_code(0);
    assert_eq!(
        empty.stdout,
        format!(
            "No applications in {shown}; create one with `integrations apps create NAME` (with the same --store).\n"
        )
    );
    apps(&h, &dir, &["delete", &id]).await.assert_code(2);
}

/// `apps reencrypt` seals what the service keeps under an old key (a connector's credentials,
/// an application's own OAuth app) again under the primary key, on the store's files; a second
/// run has nothing to do. Without a key, or without the old key, it says what to set and
/// changes nothing.
#[tokio::test]
async fn apps_reencrypt_moves_the_service_s_values_to_the_primary_key() {
    use integrations::auth_core::{CredentialRecord, Payload, PutMode};
    use integrations::{CredentialStore, EncryptionKey, KeyRing, SecretString};

    let mut h = Harness::start().await;
    let dir = h.dir.path().join("service");
    let new_key = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    let old = KeyRing::new(EncryptionKey::from_base64(SERVICE_KEY).expect("a key"));
    let admin = integrations_server::Server::builder()
        .store_dir(&dir)
        .encryption_keys(old.clone())
        .build()
        .await
        .expect("the service's store")
        .admin();
    let app = admin
        .create_application("acme", &[])
        .await
        .expect("an application");
    admin
        .set_oauth_app(
            &app.application.id,
            "asana",
            "byo-id",
            SecretString::from("CANARY-byo-secret"),
        )
        .await
        .expect("its own OAuth app");
    let credentials = integrations::SqliteCredentialStore::builder(dir.join("credentials.db"))
        .key_ring(old)
        .open()
        .await
        .expect("the credential store");
    credentials
        .put(
            CredentialRecord::new("asana", "conn-1", Payload::new(b"{}".to_vec())),
            PutMode::Create,
        )
        .await
        .expect("a connector's credentials");
    drop((admin, credentials));
    let old_id = EncryptionKey::from_base64(SERVICE_KEY)
        .unwrap()
        .id()
        .to_string();
    // Whether the connector's credentials open with the key `key` alone.
    let opens_with = |key: &'static str| {
        let path = dir.join("credentials.db");
        async move {
            integrations::SqliteCredentialStore::builder(path)
                .key_ring(KeyRing::new(EncryptionKey::from_base64(key).unwrap()))
                .open()
                .await
                .expect("the credential store")
                .get("asana", "conn-1")
                .await
                .is_ok()
        }
    };
    assert!(opens_with(SERVICE_KEY).await && !opens_with(new_key).await);

    let store = dir.to_str().expect("utf-8 path");
    h.remove_env("INTEGRATIONS_ENCRYPTION_KEY");
    let keyless = apps_on(&h, store, &["reencrypt"]).await;
    keyless.assert_code(3);
    assert_eq!(
        keyless.stderr,
        "error: no encryption key is set, so there is nothing to re-encrypt under: set INTEGRATIONS_ENCRYPTION_KEY to the new key and INTEGRATIONS_ENCRYPTION_OLD_KEYS to the old one(s), then run `integrations apps reencrypt` (with the same --store) again\n"
    );
    h.set_env("INTEGRATIONS_ENCRYPTION_KEY", new_key);
    let without_old = apps_on(&h, store, &["reencrypt"]).await;
    without_old.assert_code(3);
    assert_eq!(
        without_old.stderr,
        format!(
            "error: the service store holds an application's OAuth client secret sealed under key `{old_id}`, which is not configured: add that key to INTEGRATIONS_ENCRYPTION_OLD_KEYS\n"
        )
    );
    assert!(opens_with(SERVICE_KEY).await, "nothing changed");

    h.set_env("INTEGRATIONS_ENCRYPTION_OLD_KEYS", SERVICE_KEY);
    let done = apps_on(&h, store, &["reencrypt"]).await;
    done.assert_code(0);
    assert_eq!(
        done.stdout,
        format!(
            "Re-encrypted under the primary key in {store}: 1 credential record(s), 1 OAuth client secret(s), 0 pending consent flow(s).\n"
        )
    );
    let again = apps_on(&h, store, &["reencrypt", "--json"]).await;
    again.assert_code(0);
    assert_eq!(
        again.json(),
        json!({ "credentials": 0, "oauth_apps": 0, "consent_flows": 0 })
    );
    for out in [&keyless, &without_old, &done, &again] {
        assert!(!format!("{out:?}").contains("CANARY"), "{out:?}");
    }
    assert!(opens_with(new_key).await && !opens_with(SERVICE_KEY).await);
}

/// A key for `INTEGRATIONS_ENCRYPTION_KEY` (base64 of 32 bytes).
const SERVICE_KEY: &str = "faBFFFXItYsrwO3hIr1i0NnigsuwRi3Ph/73UjEu2aM=";

/// `integrations serve` running as a child process.
struct Serving {
    child: Child,
    url: String,
    /// Every stderr line so far, then the rest once the child exits.
    stderr: JoinHandle<String>,
}

impl Serving {
    /// Starts `serve {args}` and waits for its startup line on stderr.
    async fn start(h: &Harness, args: &[&str]) -> Self {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        let mut child = h.command(&all).spawn().expect("start serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let (ready, mut listening) = tokio::sync::mpsc::unbounded_channel();
        let stderr = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut text = String::new();
            while let Some(line) = lines.next_line().await.expect("read stderr") {
                if let Some((_, rest)) = line.split_once("listening on ") {
                    let url = rest.split_whitespace().next().unwrap_or_default();
                    let _ = ready.send(url.to_string());
                }
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        let url = tokio::time::timeout(CHILD_TIMEOUT, listening.recv())
            .await
            .expect("serve starts in time")
            .expect("serve prints `listening on URL` on stderr");
        Self { child, url, stderr }
    }

    /// Sends `signal` (`TERM`, `INT`).
    fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("serve is running");
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the child to exit: its code and its stderr.
    async fn exit(mut self) -> (i32, String) {
        let status = tokio::time::timeout(CHILD_TIMEOUT, self.child.wait())
            .await
            .expect("serve exits in time")
            .expect("wait for serve");
        (
            status.code().unwrap_or(-1),
            self.stderr.await.expect("stderr task"),
        )
    }
}

#[cfg(unix)]
#[tokio::test]
async fn serve_runs_the_hosted_life_against_asana_and_stops_gracefully_on_sigterm() {
    let mut h = Harness::start().await;
    h.set_env("INTEGRATIONS_ENCRYPTION_KEY", SERVICE_KEY);
    // Asana's API URL from --config, layered as for every command: without it the service would
    // call the real Asana, which is unreachable here.
    h.remove_env("ASANA_API_BASE_URL");
    let config = h.dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[asana]\napi_base_url = \"{}\"\n", h.mock.api_base_url()),
    )
    .expect("write the configuration");
    let config = config.to_str().expect("utf-8 path");
    let dir = h.dir.path().join("service");
    let store = dir.to_str().expect("utf-8 path");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let serving = Serving::start(
        &h,
        &["--listen", &listen, "--store", store, "--config", config],
    )
    .await;
    assert_eq!(serving.url, format!("http://{listen}"));
    let url = serving.url.clone();

    // An application, created while the service runs on the same store.
    let (app_id, client_id, secret) = create_acme(&h, &dir).await;
    let http = reqwest::Client::builder()
        .timeout(CHILD_TIMEOUT)
        .build()
        .expect("http client");
    let token_for = |secret: String| {
        let http = http.clone();
        let url = url.clone();
        let client_id = client_id.clone();
        async move {
            http.post(format!("{url}/api/v1/account/applications/token"))
                .json(&serde_json::json!({"client_id": client_id, "client_secret": secret}))
                .send()
                .await
                .expect("POST token")
        }
    };
    let answer = token_for(secret.clone()).await;
    assert_eq!(answer.status(), 200);
    let token: Value = answer.json().await.expect("JSON");
    assert_eq!(token["token_type"], "bearer");
    assert!(token["expires_in"].as_u64().expect("expires_in") >= 900);
    let bearer = token["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();

    // A connector for a customer, with a token; found by the customer.
    let pat = h.mock.personal_access_token().to_string();
    let created = http
        .post(format!("{url}/api/v1/integrations/connectors"))
        .bearer_auth(&bearer)
        .json(&serde_json::json!({
            "external_user_id": "customer-1",
            "connector_type": "Asana",
            "credentials": {"token": pat},
        }))
        .send()
        .await
        .expect("POST connector");
    assert_eq!(created.status(), 201);
    let connector: Value = created.json().await.expect("JSON");
    assert!(!connector.to_string().contains(&pat), "{connector}");
    let connector_id = connector["id"].as_str().expect("id").to_string();
    let found: Value = http
        .get(format!("{url}/api/v1/integrations/connectors"))
        .query(&[("external_user_id", "customer-1")])
        .bearer_auth(&bearer)
        .send()
        .await
        .expect("GET connectors")
        .json()
        .await
        .expect("JSON");
    assert_eq!(found["data"][0]["id"], connector_id.as_str());
    assert_eq!(found["data"].as_array().map(Vec::len), Some(1));

    // A consent flow: Asana is to send the customer back to the default public URL.
    let consent: Value = http
        .post(format!(
            "{url}/api/v1/integrations/connectors/oauth/initiate"
        ))
        .bearer_auth(&bearer)
        .json(&serde_json::json!({
            "customer_name": "customer-2",
            "connector_type": "Asana",
            "redirect_url": "https://app.acme.example/connected",
        }))
        .send()
        .await
        .expect("POST initiate")
        .json()
        .await
        .expect("JSON");
    let consent_url = consent["consent_url"].as_str().expect("consent_url");
    assert!(
        consent_url.starts_with(&h.mock.authorization_url()),
        "{consent}"
    );
    assert_eq!(
        query_param(consent_url, "redirect_uri").as_deref(),
        Some(format!("http://{listen}/api/v1/oauth/callback").as_str())
    );

    // The secret printed by rotate-secret is the one the service takes; the old one is refused.
    let (_, _, rotated) = printed_credentials(&apps(&h, &dir, &["rotate-secret", &app_id]).await);
    assert_eq!(token_for(secret).await.status(), 401);
    assert_eq!(token_for(rotated.clone()).await.status(), 200);
    let bearer: String = token_for(rotated)
        .await
        .json::<Value>()
        .await
        .expect("JSON")["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();

    // A read in flight when SIGTERM comes is answered; then the service exits 0.
    h.mock.set_latency(Duration::from_millis(1500));
    let asked = h.mock.api_requests();
    let execute = tokio::spawn({
        let http = http.clone();
        let url = format!("{url}/api/v1/integrations/connectors/{connector_id}/execute");
        async move {
            let answer = http
                .post(url)
                .bearer_auth(bearer)
                .json(&serde_json::json!({"entity": "users", "action": "get", "params": {"user_gid": "me"}}))
                .send()
                .await
                .expect("POST execute");
            (
                answer.status().as_u16(),
                answer.json::<Value>().await.expect("JSON"),
            )
        }
    });
    // SIGTERM once the read is at Asana, i.e. in flight at the service.
    tokio::time::timeout(CHILD_TIMEOUT, async {
        while h.mock.api_requests() == asked {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the read reaches Asana");
    serving.signal("TERM");
    let (status, body) = execute.await.expect("execute task");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["name"], "Greg Sanchez");
    let (code, stderr) = serving.exit().await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(
            "integrations serve: SIGTERM: no new connections; finishing the requests in flight"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("integrations serve: stopped"), "{stderr}");
    assert!(!stderr.contains(&pat), "{stderr}");
    // The request in flight was logged once answered, by its route template, without its query.
    assert!(
        stderr.contains(
            " INFO request method=POST route=/api/v1/integrations/connectors/{id}/execute status=200 duration_ms="
        ),
        "{stderr}"
    );
    assert!(
        stderr
            .contains(" INFO request method=GET route=/api/v1/integrations/connectors status=200"),
        "{stderr}"
    );
    assert!(!stderr.contains("external_user_id"), "{stderr}");
    assert!(
        reqwest::get(format!("{url}/healthz")).await.is_err(),
        "nothing listens any more"
    );

    // The connector's token is encrypted at rest.
    for entry in std::fs::read_dir(&dir).expect("the store directory") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read a store file");
        assert!(
            !bytes.windows(pat.len()).any(|w| w == pat.as_bytes()),
            "the token is in clear in the store"
        );
    }
}

/// `serve --no-service-app-consent` refuses a consent flow through the service's Asana app (the
/// mock's, from the environment): the application must set its own. With
/// `--max-service-tokens 2` a scoped token is issued only while the application holds no token,
/// so with its application token one is refused 429.
#[cfg(unix)]
#[tokio::test]
async fn serve_applies_its_limits_on_consent_flows_and_tokens() {
    let mut h = Harness::start().await;
    h.set_env("INTEGRATIONS_ENCRYPTION_KEY", SERVICE_KEY);
    let dir = h.dir.path().join("service");
    let store = dir.to_str().expect("utf-8 path");
    let (_, client_id, secret) = create_acme(&h, &dir).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let serving = Serving::start(
        &h,
        &[
            "--listen",
            &listen,
            "--store",
            store,
            "--no-service-app-consent",
            "--max-service-tokens",
            "2",
        ],
    )
    .await;
    let url = format!("http://{listen}");
    let caller = Caller::new(&url, &client_id, &secret).await;
    let (status, body) = caller.initiate(&url, "customer-1").await;
    assert_eq!(
        (status, &body["message"]),
        (
            422,
            &json!(
                "this service runs consent flows only through each application's own OAuth app, and this application has none for Asana: set it with PUT /api/v1/oauth/credentials"
            )
        )
    );
    let (status, body) = caller
        .post(
            &url,
            "/api/v1/account/applications/scoped-token",
            json!({ "external_user_id": "customer-1" }),
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("the application holds 1 service tokens or more, and scoped tokens are issued only below that (of the 2 ")),
        "{body}"
    );
    serving.signal("TERM");
    let (code, stderr) = serving.exit().await;
    assert_eq!(code, 0, "{stderr}");
}

/// `apps revoke-tokens ID --customer NAME`, run beside `serve` on its store, ends that customer's
/// service tokens at once; the application's token and another customer's keep working. An
/// unknown application is the same usage error as for the other `apps` commands.
#[cfg(unix)]
#[tokio::test]
async fn apps_revoke_tokens_ends_one_customer_s_tokens_while_serve_runs() {
    let mut h = Harness::start().await;
    h.set_env("INTEGRATIONS_ENCRYPTION_KEY", SERVICE_KEY);
    let dir = h.dir.path().join("service");
    let store = dir.to_str().expect("utf-8 path");
    let (app_id, client_id, secret) = create_acme(&h, &dir).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let serving = Serving::start(&h, &["--listen", &listen, "--store", store]).await;
    let url = format!("http://{listen}");
    let caller = Caller::new(&url, &client_id, &secret).await;
    let mut scoped = Vec::new();
    for customer in ["customer-1", "customer-1", "customer-2"] {
        let (status, body) = caller
            .post(
                &url,
                "/api/v1/account/applications/scoped-token",
                json!({ "customer_name": customer }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        scoped.push(body["token"].as_str().expect("token").to_string());
    }
    let status_of = |token: String| {
        let (http, url) = (caller.http.clone(), url.clone());
        async move {
            http.get(format!("{url}/api/v1/integrations/connectors"))
                .bearer_auth(token)
                .send()
                .await
                .expect("GET connectors")
                .status()
                .as_u16()
        }
    };

    let revoked = apps(
        &h,
        &dir,
        &["revoke-tokens", &app_id, "--customer", "customer-1"],
    )
    .await;
    revoked.assert_code(0);
    assert_eq!(
        revoked.stdout,
        format!("Revoked 2 service token(s) of customer `customer-1` in application {app_id}.\n")
    );
    assert_eq!(status_of(scoped[0].clone()).await, 401);
    assert_eq!(status_of(scoped[1].clone()).await, 401);
    assert_eq!(
        status_of(scoped[2].clone()).await,
        200,
        "another customer's"
    );
    assert_eq!(
        status_of(caller.bearer.clone()).await,
        200,
        "the application's"
    );
    // The name is read as the API reads it: surrounding spaces left out.
    let again = apps(
        &h,
        &dir,
        &[
            "revoke-tokens",
            &app_id,
            "--customer",
            " customer-2 ",
            "--json",
        ],
    )
    .await;
    again.assert_code(0);
    assert_eq!(
        again.json(),
        json!({ "id": app_id, "customer": "customer-2", "revoked": true, "count": 1 })
    );
    assert_eq!(status_of(scoped[2].clone()).await, 401);
    let empty = apps(&h, &dir, &["revoke-tokens", &app_id, "--customer", " "]).await;
    empty.assert_code(2);
    assert_eq!(
        empty.stderr, "error: invalid customer: must not be empty\n",
        "{empty:?}"
    );
    // Names the API would refuse are refused here too, before any store sees them.
    let long = "c".repeat(257);
    for (name, reason) in [
        ("customer\t1", "must not contain control characters"),
        (long.as_str(), "must be at most 256 bytes"),
    ] {
        let refused = apps(&h, &dir, &["revoke-tokens", &app_id, "--customer", name]).await;
        refused.assert_code(2);
        assert_eq!(
            refused.stderr,
            format!("error: invalid customer: {reason}\n"),
            "{refused:?}"
        );
    }
    let unknown = apps(
        &h,
        &dir,
        &["revoke-tokens", "nope", "--customer", "customer-1"],
    )
    .await;
    unknown.assert_code(2);
    assert!(
        unknown
            .stderr
            .starts_with("error: no application with id `nope` in "),
        "{unknown:?}"
    );
    serving.signal("TERM");
    let (code, stderr) = serving.exit().await;
    assert_eq!(code, 0, "{stderr}");
}

/// Listening on all addresses without --public-url, `serve` says at start that consent flows
/// are refused and names --public-url, and refuses them with a 501 naming it, rather than sending
/// customers back to http://0.0.0.0; /mcp answers loopback Host names. --mcp-allowed-host
/// replaces the hosts /mcp accepts, and the 403 names it. Each request is one log line; rmcp's
/// own lines stay below the default level.
#[cfg(unix)]
#[tokio::test]
async fn serve_on_all_addresses_without_a_public_url_warns_and_answers_mcp_on_loopback() {
    let mut h = Harness::start().await;
    h.set_env("INTEGRATIONS_ENCRYPTION_KEY", SERVICE_KEY);
    let dir = h.dir.path().join("service");
    let store = dir.to_str().expect("utf-8 path");
    let (_, client_id, secret) = create_acme(&h, &dir).await;
    let initialize = integrations_mcp::testing::initialize_request();
    let warning = |port: u16, mcp: &str| {
        format!(
            "integrations serve: listening on all addresses (0.0.0.0:{port}) without --public-url: consent flows are refused (501){mcp}; pass --public-url with the URL clients and providers reach the service at"
        )
    };

    let port = free_port();
    let listen = format!("0.0.0.0:{port}");
    let serving = Serving::start(&h, &["--listen", &listen, "--store", store]).await;
    let url = format!("http://127.0.0.1:{port}");
    let caller = Caller::new(&url, &client_id, &secret).await;
    let pat = h.mock.personal_access_token().to_string();
    let id = caller
        .connector(&url, "customer-1", json!({ "token": pat }))
        .await;
    let (status, body) = caller.initiate(&url, "customer-2").await;
    assert_eq!(
        (status, &body["message"]),
        (
            501,
            &json!(
                "this service runs no consent flows: it was started without a public URL (integrations serve --public-url URL)"
            )
        )
    );
    let mcp = format!("{url}/mcp?connector_id={id}");
    let bearer = format!("Bearer {}", caller.bearer);
    let auth = ("authorization", bearer.as_str());
    let localhost = format!("localhost:{port}");
    for host in [None, Some(localhost.as_str())] {
        let headers: Vec<(&str, &str)> = [Some(auth), host.map(|h| ("host", h))]
            .into_iter()
            .flatten()
            .collect();
        let (status, body) = integrations_mcp::testing::post_raw(&mcp, &initialize, &headers).await;
        assert_eq!(status, 200, "{host:?}: {body}");
    }
    let (status, _) = integrations_mcp::testing::post_raw(
        &mcp,
        &initialize,
        &[auth, ("host", "api.acme.example")],
    )
    .await;
    assert_eq!(status, 403);
    serving.signal("TERM");
    let (code, stderr) = serving.exit().await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&warning(port, " and /mcp accepts loopback Host names only")),
        "{stderr}"
    );
    // One line per request, the refused Host as sent, and none of rmcp's lines at info.
    assert_eq!(
        stderr
            .lines()
            .filter(|line| line
                .contains(" INFO request method=POST route=/mcp status=200 duration_ms="))
            .count(),
        2,
        "{stderr}"
    );
    assert!(
        stderr.contains(
            " WARN refused an MCP request: its Host is not allowed (a guard against DNS rebinding) host=api.acme.example\n"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("rmcp") && !stderr.contains("peer_info"),
        "{stderr}"
    );
    assert!(!stderr.contains(&caller.bearer), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "integrations serve: listening on http://{listen} (public URL none, store {store}, credentials encrypted)"
        )),
        "{stderr}"
    );

    let port = free_port();
    let listen = format!("0.0.0.0:{port}");
    let serving = Serving::start(
        &h,
        &[
            "--listen",
            &listen,
            "--store",
            store,
            "--mcp-allowed-host",
            "api.acme.example",
        ],
    )
    .await;
    let mcp = format!("http://127.0.0.1:{port}/mcp?connector_id={id}");
    let (status, body) = integrations_mcp::testing::post_raw(
        &mcp,
        &initialize,
        &[auth, ("host", "api.acme.example")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = integrations_mcp::testing::post_raw(&mcp, &initialize, &[auth]).await;
    assert_eq!(status, 403, "{body}");
    let message = body["message"].as_str().expect("an error message");
    assert!(message.contains("--mcp-allowed-host"), "{message}");
    serving.signal("TERM");
    let (code, stderr) = serving.exit().await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&warning(port, "")), "{stderr}");
}

/// An application's calls to a running service: `POST path` with a service token.
#[derive(Clone)]
struct Caller {
    http: reqwest::Client,
    bearer: String,
}

impl Caller {
    /// Trades the application's credentials for a service token at `url`.
    async fn new(url: &str, client_id: &str, secret: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(CHILD_TIMEOUT)
            .build()
            .expect("http client");
        let token: Value = http
            .post(format!("{url}/api/v1/account/applications/token"))
            .json(&json!({"client_id": client_id, "client_secret": secret}))
            .send()
            .await
            .expect("POST token")
            .json()
            .await
            .expect("JSON");
        let bearer = token["access_token"].as_str().expect("access_token").into();
        Self { http, bearer }
    }

    /// `POST {url}{path}` with `body`: the status and the JSON answer.
    async fn post(&self, url: &str, path: &str, body: Value) -> (u16, Value) {
        let answer = self
            .http
            .post(format!("{url}{path}"))
            .bearer_auth(&self.bearer)
            .json(&body)
            .send()
            .await
            .expect("POST");
        let status = answer.status().as_u16();
        (status, answer.json().await.expect("JSON"))
    }

    /// A connector of `customer` with `credentials`: its id.
    async fn connector(&self, url: &str, customer: &str, credentials: Value) -> String {
        let (status, body) = self
            .post(
                url,
                "/api/v1/integrations/connectors",
                json!({
                    "external_user_id": customer,
                    "connector_type": "Asana",
                    "credentials": credentials,
                }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("id").to_string()
    }

    /// An Asana consent flow for `customer`, sending the user back to acme's origin: the
    /// status and the JSON answer.
    async fn initiate(&self, url: &str, customer: &str) -> (u16, Value) {
        self.post(
            url,
            "/api/v1/integrations/connectors/oauth/initiate",
            json!({
                "customer_name": customer,
                "connector_type": "Asana",
                "redirect_url": "https://app.acme.example/connected",
            }),
        )
        .await
    }

    /// `users.get me` on the connector.
    async fn me(&self, url: &str, connector_id: &str) -> (u16, Value) {
        self.post(
            url,
            &format!("/api/v1/integrations/connectors/{connector_id}/execute"),
            json!({"entity": "users", "action": "get", "params": {"user_gid": "me"}}),
        )
        .await
    }
}

/// A harness with an encryption key, a throwaway PostgreSQL database as `--store`, and an
/// application created there.
struct OnPostgres {
    h: Harness,
    db: store_postgres::testing::TestDatabase,
    /// The database's postgres:// URL.
    store: String,
    client_id: String,
    secret: String,
}

impl OnPostgres {
    /// `None` without PostgreSQL outside CI (the test skips).
    async fn start() -> Option<Self> {
        let db = store_postgres::testing::database().await?;
        let store = db.postgres_url();
        let mut h = Harness::start().await;
        h.set_env("INTEGRATIONS_ENCRYPTION_KEY", SERVICE_KEY);
        let (_, client_id, secret) =
            printed_credentials(&apps_on(&h, &store, &["create", "acme"]).await);
        Some(Self {
            h,
            db,
            store,
            client_id,
            secret,
        })
    }
}

#[cfg(unix)]
#[tokio::test]
async fn apps_and_serve_share_a_postgres_store_and_serve_executes_on_it() {
    let Some(mut pg) = OnPostgres::start().await else {
        return;
    };
    let (h, store) = (&pg.h, pg.store.as_str());
    // The application created before any instance runs is listed from the database.
    let listed = apps_on(h, store, &["list", "--json"]).await;
    listed.assert_code(0);
    let shown = store
        .parse::<integrations_server::StoreLocation>()
        .expect("a store location")
        .to_string();
    assert_eq!(listed.json()["store"], shown.as_str());
    assert_eq!(
        listed.json()["applications"][0]["client_id"],
        pg.client_id.as_str()
    );

    // A URL with a password (the test cluster trusts local connections and ignores it): a hint
    // that suggests a command says to repeat --store, never the URL, whose password it masks.
    let mut with_password = url::Url::parse(store).expect("a postgres:// URL");
    with_password
        .set_password(Some("hunter2"))
        .expect("a URL that takes a password");
    let masked = with_password
        .as_str()
        .parse::<integrations_server::StoreLocation>()
        .expect("a store location")
        .to_string();
    assert!(masked.contains(":***@"), "{masked}");
    let unknown = apps_on(h, with_password.as_str(), &["rotate-secret", "nope"]).await;
    unknown.assert_code(2);
    assert_eq!(
        unknown.stderr,
        format!(
            "error: no application with id `nope` in {masked}; list them with `integrations apps list` (with the same --store)\n"
        )
    );

    let serving = Serving::start(h, &["--listen", "127.0.0.1:0", "--store", store]).await;
    let url = serving.url.clone();
    let caller = Caller::new(&url, &pg.client_id, &pg.secret).await;
    let pat = h.mock.personal_access_token().to_string();
    let connector_id = caller
        .connector(&url, "customer-1", json!({"token": pat}))
        .await;
    let (status, body) = caller.me(&url, &connector_id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["name"], "Greg Sanchez");

    // The connector is in the database, with its token encrypted there.
    let client = pg.db.connect().await;
    let rows = client
        .query("SELECT id FROM integrations_service_connectors", &[])
        .await
        .expect("read the connectors");
    let ids: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    assert_eq!(ids, [connector_id.as_str()]);
    let payloads = client
        .query(
            "SELECT payload FROM integrations_credentials WHERE subject = $1",
            &[&connector_id],
        )
        .await
        .expect("read the credentials");
    assert_eq!(payloads.len(), 1);
    let payload: Vec<u8> = payloads[0].get(0);
    assert!(
        !payload.windows(pat.len()).any(|w| w == pat.as_bytes()),
        "the token is in clear in the database"
    );

    serving.signal("TERM");
    let (code, stderr) = serving.exit().await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!("store {shown}, credentials encrypted")),
        "{stderr}"
    );
    assert!(!stderr.contains(&pat), "{stderr}");

    // A new key, the old one kept as an old key: `apps reencrypt` seals the connector's
    // credentials under the new one, in the database.
    pg.h.set_env(
        "INTEGRATIONS_ENCRYPTION_KEY",
        "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",
    );
    pg.h.set_env("INTEGRATIONS_ENCRYPTION_OLD_KEYS", SERVICE_KEY);
    let done = apps_on(&pg.h, &pg.store, &["reencrypt", "--json"]).await;
    done.assert_code(0);
    assert_eq!(
        done.json(),
        json!({ "credentials": 1, "oauth_apps": 0, "consent_flows": 0 })
    );
    let resealed: Vec<u8> = client
        .query_one(
            "SELECT payload FROM integrations_credentials WHERE subject = $1",
            &[&connector_id],
        )
        .await
        .expect("read the credentials")
        .get(0);
    assert_ne!(resealed, payload);
}

/// Three `integrations serve` processes on one database: 30 OAuth connectors whose access
/// tokens are all due, 300 concurrent executes spread over the instances: every execute
/// succeeds and Asana's token endpoint sees exactly one refresh per connector.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_serve_processes_on_one_postgres_refresh_each_due_token_once() {
    const CONNECTORS: usize = 30;
    const EXECUTES: usize = 300;
    let Some(pg) = OnPostgres::start().await else {
        return;
    };
    let (h, store) = (&pg.h, pg.store.as_str());
    let mut instances = Vec::new();
    for _ in 0..3 {
        let args = [
            "--listen",
            "127.0.0.1:0",
            "--store",
            store,
            "--pool-size",
            "2",
            // About 100 executes of one application at each instance at once.
            "--max-in-flight",
            "100",
        ];
        instances.push(Serving::start(h, &args).await);
    }
    let urls: Vec<String> = instances.iter().map(|s| s.url.clone()).collect();
    let caller = Caller::new(&urls[0], &pg.client_id, &pg.secret).await;
    let mut ids = Vec::new();
    for i in 0..CONNECTORS {
        // A refresh token only: the access token is due on first use.
        let issued = h.mock.issue_tokens("default");
        ids.push(
            caller
                .connector(
                    &urls[i % 3],
                    &format!("customer-{i}"),
                    json!({"refresh_token": issued.refresh_token}),
                )
                .await,
        );
    }
    assert_eq!(h.mock.token_requests(), 0);

    let executes: Vec<_> = (0..EXECUTES)
        .map(|n| {
            let (caller, url, id) = (
                caller.clone(),
                urls[n % 3].clone(),
                ids[n % CONNECTORS].clone(),
            );
            tokio::spawn(async move { caller.me(&url, &id).await })
        })
        .collect();
    for execute in executes {
        let (status, body) = execute.await.expect("execute task");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result"]["name"], "Greg Sanchez");
    }
    assert_eq!(
        h.mock.token_requests(),
        CONNECTORS as u64,
        "one refresh per connector between the three processes"
    );
    // Each process pooled at most two connections (--pool-size 2) and listens on one more.
    let connections = pg.db.store_connections().await;
    assert!((3..=6).contains(&connections.pooled), "{connections:?}");
    assert_eq!(connections.listeners, 3, "{connections:?}");
    for serving in instances {
        serving.signal("TERM");
        let (code, stderr) = serving.exit().await;
        assert_eq!(code, 0, "{stderr}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn serve_refuses_to_start_without_a_key_unless_told_to_store_plaintext() {
    let mut h = Harness::start().await;
    let dir = h.dir.path().join("service");
    let store = dir.to_str().expect("utf-8 path");
    let out = h
        .run(&["serve", "--listen", "127.0.0.1:0", "--store", store])
        .await;
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        "error: no encryption key for the service's connector credentials: set INTEGRATIONS_ENCRYPTION_KEY to base64 of 32 random bytes (make one with `openssl rand -base64 32`, and keep it: credentials stored under it cannot be read without it), or pass --insecure-no-encryption to store connector credentials in plaintext (tests and demos only)\n"
    );
    assert!(out.stdout.is_empty(), "{out:?}");
    let json = h
        .run(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            store,
            "--json",
        ])
        .await;
    json.assert_code(3);
    assert_eq!(json.json()["error"]["kind"], "configuration");
    assert!(!dir.exists(), "nothing was created");

    h.set_env("INTEGRATIONS_ENCRYPTION_KEY", "not base64!");
    let out = h
        .run(&["serve", "--listen", "127.0.0.1:0", "--store", store])
        .await;
    out.assert_code(3);
    assert!(out.stderr.contains("openssl rand -base64 32"), "{out:?}");

    // A directory has no connection pool to size.
    h.remove_env("INTEGRATIONS_ENCRYPTION_KEY");
    let out = h
        .run(&[
            "serve",
            "--store",
            store,
            "--insecure-no-encryption",
            "--pool-size",
            "4",
        ])
        .await;
    out.assert_code(2);
    assert_eq!(
        out.stderr,
        format!(
            "error: --pool-size applies to a postgres:// store; {store} is a directory of SQLite files\n"
        )
    );
    assert!(!dir.exists(), "nothing was created");

    // With --insecure-no-encryption it starts and says so.
    h.remove_env("INTEGRATIONS_ENCRYPTION_KEY");
    let serving = Serving::start(
        &h,
        &[
            "--listen",
            "127.0.0.1:0",
            "--store",
            store,
            "--insecure-no-encryption",
        ],
    )
    .await;
    let (status, body) = get(&format!("{}/healthz", serving.url)).await;
    assert_eq!(status, 200, "{body}");
    // Ctrl-C (SIGINT) stops it as SIGTERM does.
    serving.signal("INT");
    let (code, stderr) = serving.exit().await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("credentials not encrypted"), "{stderr}");
    assert!(
        stderr.contains("integrations serve: Ctrl-C: no new connections"),
        "{stderr}"
    );
}

/// A service token for a new application of the service in `dir` served at `url`.
async fn service_bearer(h: &Harness, dir: &Path, http: &reqwest::Client, url: &str) -> String {
    let (_, client_id, secret) = printed_credentials(&apps(h, dir, &["create", "acme"]).await);
    let token: Value = http
        .post(format!("{url}/api/v1/account/applications/token"))
        .json(&json!({"client_id": client_id, "client_secret": secret}))
        .send()
        .await
        .expect("POST token")
        .json()
        .await
        .expect("JSON");
    token["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

#[cfg(unix)]
#[tokio::test]
async fn serve_offers_the_providers_of_config_and_env_and_refuses_a_broken_definition() {
    use wiremock::matchers::header;

    let mut h = Harness::start().await;
    h.set_env("INTEGRATIONS_ENCRYPTION_KEY", SERVICE_KEY);
    let fake = wiremock::MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .and(header("authorization", "Bearer acme-canary"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "Ada"})))
        .mount(&fake)
        .await;
    // The definition comes from the file --config lists; its API base URL from the environment.
    let definitions = h.dir.path().join("acme.toml");
    std::fs::write(
        &definitions,
        "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\ntoken_url = \"https://acme.example/t\"\napi_base_url = \"https://api.acme.example\"\n",
    )
    .expect("write the definitions");
    let config = h.dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("providers = [{:?}]\n", definitions.to_str().expect("utf-8")),
    )
    .expect("write the configuration");
    h.set_env("ACME_API_BASE_URL", &fake.uri());
    let config = config.to_str().expect("utf-8 path");
    let dir = h.dir.path().join("service");
    let store = dir.to_str().expect("utf-8 path");
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--store",
        store,
        "--config",
        config,
    ];
    let serving = Serving::start(&h, &args).await;
    let http = reqwest::Client::builder()
        .timeout(CHILD_TIMEOUT)
        .build()
        .expect("http client");
    let bearer = service_bearer(&h, &dir, &http, &serving.url).await;
    let created = http
        .post(format!("{}/api/v1/integrations/connectors", serving.url))
        .bearer_auth(&bearer)
        .json(&json!({
            "customer_name": "c", "connector_type": "acme",
            "credentials": {"token": "acme-canary"},
        }))
        .send()
        .await
        .expect("POST connector");
    assert_eq!(created.status(), 201);
    let connector: Value = created.json().await.expect("JSON");
    assert_eq!(connector["connector_type"], "Acme");
    let id = connector["id"].as_str().expect("id");
    let answer = http
        .post(format!(
            "{}/api/v1/integrations/connectors/{id}/execute",
            serving.url
        ))
        .bearer_auth(&bearer)
        .json(&json!({
            "entity": "proxy", "action": "request",
            "params": {"method": "GET", "path": "/v1/me"},
        }))
        .send()
        .await
        .expect("POST execute");
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.expect("JSON");
    assert_eq!(answer["result"], json!({"name": "Ada"}));
    assert_eq!(answer["connector_metadata"]["status"], 200);
    serving.signal("TERM");
    let (code, stderr) = serving.exit().await;
    assert_eq!(code, 0, "{stderr}");

    // A broken definition stops the service before it serves, with the configuration code.
    std::fs::write(
        &definitions,
        "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\n",
    )
    .expect("write the definitions");
    let out = h.run(&[&["serve"], &args[..]].concat()).await;
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        format!(
            "error: provider definition {}, line 1: `providers[0].token_url`: missing field `token_url`\n",
            definitions.display()
        )
    );
}
