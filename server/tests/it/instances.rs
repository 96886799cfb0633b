//! Several instances of the service on one throwaway PostgreSQL database (see
//! `store_postgres::testing`): separate builders and warm caches, one store. A storm of executes
//! on tokens that expired together refreshes each once between the instances; a consent flow
//! started on one instance completes on another; the background refreshers of three instances
//! refresh each expiring token once; the database going away under load answers 503 retryable
//! and the instances recover without a restart; refreshers and executes racing on short-lived
//! tokens never deadlock; an instance killed with SIGKILL (a child process: this test binary
//! re-executed) while holding refresh leases leaves them to lapse, and another completes the
//! refreshes. And on SQLite, the refresher of a single instance.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use integrations::asana::{AsanaAppCredentials, RetryConfig};
use integrations::{EncryptionKey, KeyRing};
use integrations_server::{Admin, Server, StoreLocation};
use provider_asana_testkit::MockAsana;
use serde_json::{Value, json};
use store_postgres::testing::Cluster;

use crate::support::{asana_app, tracked_expiry};

/// One instance of the service, served on its own port until dropped.
struct Instance {
    url: String,
    admin: Admin,
    http: reqwest::Client,
    served: tokio::task::JoinHandle<()>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.served.abort();
    }
}

/// How an instance is built.
#[derive(Clone)]
struct Setup {
    store: String,
    keys: KeyRing,
    app: AsanaAppCredentials,
    /// The background refresher's margin and interval; `None`: off.
    refresher: Option<(Duration, Duration)>,
    /// The pool's size; `None`: the default.
    pool_size: Option<usize>,
}

impl Setup {
    fn new(store: String, asana: &MockAsana) -> Self {
        Self {
            store,
            keys: KeyRing::new(EncryptionKey::generate()),
            app: asana_app(asana, true),
            refresher: None,
            pool_size: None,
        }
    }

    /// `n` instances on the same database.
    async fn start(&self, n: usize) -> Vec<Instance> {
        let mut instances = Vec::new();
        for _ in 0..n {
            instances.push(self.instance(None).await);
        }
        instances
    }

    /// An instance, on `listener` (a fresh port when `None`).
    async fn instance(&self, listener: Option<tokio::net::TcpListener>) -> Instance {
        let listener = match listener {
            Some(listener) => listener,
            None => tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut builder = Server::builder()
            .store(self.store.parse::<StoreLocation>().unwrap())
            .encryption_keys(self.keys.clone())
            .asana_app(self.app.clone())
            .upstream_retry(RetryConfig::default().with_max_retries(0))
            // The storms send more than an application's default rate, and more calls at once,
            // to one instance: these tests are about refreshes, not the limits.
            .rate_limit(u32::MAX, u32::MAX)
            .max_in_flight(u32::MAX)
            .public_url(url.parse().unwrap());
        builder = match self.refresher {
            Some((margin, interval)) => builder.refresh_ahead(margin, interval),
            None => builder.no_refresh_ahead(),
        };
        if let Some(size) = self.pool_size {
            builder = builder.postgres_pool_size(size);
        }
        let server = builder.build().await.unwrap();
        let admin = server.admin();
        let served = tokio::spawn(async move {
            server
                .serve(listener, std::future::pending())
                .await
                .unwrap();
        });
        Instance {
            url,
            admin,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(64)
                .build()
                .unwrap(),
            served,
        }
    }
}

impl Instance {
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self.http.post(format!("{}{path}", self.url)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.json().await.unwrap_or(Value::Null))
            }
            Err(e) => panic!("{path}: {e}"),
        }
    }

    async fn patch(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .patch(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get_json(&self, path: &str, token: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> u16 {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    }

    /// An application's token (the application registered on any instance).
    async fn app_token(&self, admin: &Admin) -> String {
        let app = admin
            .create_application("acme", &["https://app.example.com".to_string()])
            .await
            .unwrap();
        let (status, body) = self
            .post(
                "/api/v1/account/applications/token",
                None,
                json!({
                    "client_id": app.application.client_id,
                    "client_secret": app.client_secret.expose_secret(),
                }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// An OAuth connector of customer `c` with a refresh token and no access token yet: its
    /// token is due at once.
    async fn due_connector(&self, token: &str, asana: &MockAsana, customer: &str) -> String {
        let issued = asana.issue_tokens("default");
        let (status, body) = self
            .post(
                "/api/v1/integrations/connectors",
                Some(token),
                json!({
                    "customer_name": customer,
                    "connector_type": "Asana",
                    "credentials": { "refresh_token": issued.refresh_token },
                }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    async fn me(&self, token: &str, id: &str) -> (u16, Value) {
        self.post(
            &format!("/api/v1/integrations/connectors/{id}/execute"),
            Some(token),
            json!({ "entity": "users", "action": "get", "params": { "user_gid": "me" } }),
        )
        .await
    }
}

/// A database of the test's own, or `None` (skip) without PostgreSQL outside CI.
async fn database() -> Option<String> {
    store_postgres::testing::database()
        .await
        .map(|db| db.postgres_url())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_executes_on_three_instances_refreshes_each_expired_token_once() {
    let Some(url) = database().await else {
        return;
    };
    let asana = MockAsana::start().await;
    let instances = Setup::new(url, &asana).start(3).await;
    let token = instances[0].app_token(&instances[0].admin).await;
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(
            instances[i % 3]
                .due_connector(&token, &asana, &format!("customer-{i}"))
                .await,
        );
    }
    assert_eq!(asana.token_requests(), 0);

    let started = Instant::now();
    let executes = (0..1000).map(|n| {
        let (instance, id, token) = (&instances[n % 3], &ids[n % 100], &token);
        async move { instance.me(token, id).await }
    });
    for (status, body) in join_all(executes).await {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result"]["name"], "Greg Sanchez");
    }
    assert_eq!(asana.token_requests(), 100, "one refresh per connector");
    eprintln!("1000 executes over 3 instances: {:?}", started.elapsed());
}

/// An instance opens no more pooled connections than its pool size, and one that listens: 200
/// concurrent executes on 20 due tokens run on two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_opens_at_most_its_pool_size_of_connections() {
    let Some(db) = store_postgres::testing::database().await else {
        return;
    };
    let asana = MockAsana::start().await;
    let setup = Setup {
        pool_size: Some(2),
        ..Setup::new(db.postgres_url(), &asana)
    };
    let instance = setup.instance(None).await;
    let token = instance.app_token(&instance.admin).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            instance
                .due_connector(&token, &asana, &format!("customer-{i}"))
                .await,
        );
    }
    let executes = (0..200).map(|n| instance.me(&token, &ids[n % 20]));
    for (status, body) in join_all(executes).await {
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(asana.token_requests(), 20, "one refresh per connector");
    let connections = db.store_connections().await;
    assert!((1..=2).contains(&connections.pooled), "{connections:?}");
    assert_eq!(connections.listeners, 1, "{connections:?}");
}

/// New credentials given on one instance are used by the next execute on another, whose warm
/// connector held the old ones: it sees the connector's row changed and builds it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_changed_on_one_instance_are_used_by_the_next_execute_on_another() {
    let Some(url) = database().await else {
        return;
    };
    let asana = MockAsana::start().await;
    let instances = Setup::new(url, &asana).start(2).await;
    let token = instances[0].app_token(&instances[0].admin).await;
    let first = asana.personal_access_token().to_string();
    let (status, body) = instances[0]
        .post(
            "/api/v1/integrations/connectors",
            Some(&token),
            json!({"customer_name": "c", "connector_type": "Asana", "credentials": {"token": first}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let bearers = || async {
        asana
            .received_requests()
            .await
            .iter()
            .filter(|r| r.url.path() == "/api/1.0/users/me")
            .map(|r| r.headers["authorization"].to_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let (status, body) = instances[1].me(&token, &id).await;
    assert_eq!(status, 200, "{body}");

    let second = asana.issue_tokens("default").access_token;
    for _ in 0..2 {
        let (status, body) = instances[0]
            .patch(
                &format!("/api/v1/integrations/connectors/{id}"),
                &token,
                json!({"credentials": {"token": second}}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = instances[1].me(&token, &id).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        bearers().await,
        [
            format!("Bearer {first}"),
            format!("Bearer {second}"),
            format!("Bearer {second}")
        ]
    );
}

/// PostgreSQL's text holds no NUL and its indexes no key of a few kilobytes: names with a NUL or
/// of more than 256 bytes are refused (422, as on SQLite), ids and client
/// ids with one name nothing (404, 401; not a retryable 500), and an execute whose entity,
/// action or param names hold one is still audited, with U+FFFD for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_a_name_is_refused_and_in_an_execute_is_audited() {
    let Some(url) = database().await else {
        return;
    };
    let asana = MockAsana::start().await;
    let instance = Setup::new(url, &asana).instance(None).await;
    let token = instance.app_token(&instance.admin).await;
    for body in [
        json!({"customer_name": "a\u{0}b", "connector_type": "Asana", "credentials": {"token": "t"}}),
        json!({"customer_name": "c", "name": "n\u{0}", "connector_type": "Asana", "credentials": {"token": "t"}}),
        json!({"customer_name": "c".repeat(4_000), "connector_type": "Asana", "credentials": {"token": "t"}}),
    ] {
        let (status, answer) = instance
            .post("/api/v1/integrations/connectors", Some(&token), body)
            .await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["retryable"], false, "{answer}");
    }
    // Nor is an id or a client id with one looked up: no resource has such a name.
    for path in [
        "/api/v1/integrations/connectors/a%00b",
        "/mcp?connector_id=a%00b",
    ] {
        let (status, answer) = instance.get_json(path, &token).await;
        assert_eq!(
            (status, &answer["retryable"]),
            (404, &json!(false)),
            "{path}: {answer}"
        );
    }
    let (status, answer) = instance
        .post(
            "/api/v1/account/applications/token",
            None,
            json!({"client_id": "a\u{0}b", "client_secret": "s"}),
        )
        .await;
    assert_eq!(status, 401, "{answer}");
    let id = instance.due_connector(&token, &asana, "c").await;
    let (status, answer) = instance
        .post(
            &format!("/api/v1/integrations/connectors/{id}/execute"),
            Some(&token),
            json!({"entity": "us\u{0}ers", "action": "g\u{0}et", "params": {"user_gid": "me", "x\u{0}y": 1}}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");

    let (status, audit) = instance.get_json("/api/v1/audit", &token).await;
    assert_eq!(status, 200, "{audit}");
    let newest = &audit["data"][0];
    assert_eq!(newest["operation"], "execute", "{audit}");
    assert_eq!(newest["entity"], "us\u{FFFD}ers");
    assert_eq!(newest["action"], "g\u{FFFD}et");
    assert_eq!(newest["param_names"], json!(["user_gid", "x\u{FFFD}y"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consent_started_on_one_instance_completes_on_another_once() {
    let Some(url) = database().await else {
        return;
    };
    let first_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!(
        "http://{}/api/v1/oauth/callback",
        first_listener.local_addr().unwrap()
    );
    let asana = MockAsana::builder().redirect_uri(&callback).start().await;
    let setup = Setup::new(url, &asana);
    let first = setup.instance(Some(first_listener)).await;
    let second = setup.instance(None).await;
    let token = first.app_token(&first.admin).await;
    let (status, body) = first
        .post(
            "/api/v1/integrations/connectors/oauth/initiate",
            Some(&token),
            json!({
                "customer_name": "c",
                "connector_type": "Asana",
                "redirect_url": "https://app.example.com/connected",
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let landing = asana
        .consent(body["consent_url"].as_str().unwrap())
        .await
        .unwrap();

    // The browser lands on the second instance, then replays the callback on the first.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let on = |instance: &Instance| {
        let mut url = landing.clone();
        let base: url::Url = instance.url.parse().unwrap();
        url.set_port(base.port()).unwrap();
        url
    };
    let response = browser.get(on(&second)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 303);
    let location: url::Url = response.headers()["location"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let id = location
        .query_pairs()
        .find(|(k, _)| k == "connector_id")
        .map(|(_, v)| v.to_string())
        .expect("connector_id");
    let replayed = browser.get(on(&first)).send().await.unwrap();
    assert_eq!(replayed.status().as_u16(), 400, "the state was taken once");
    assert_eq!(asana.token_requests(), 1, "one code exchange");

    let (status, list) = {
        let response = first
            .http
            .get(format!("{}/api/v1/integrations/connectors", first.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().await.unwrap(),
        )
    };
    assert_eq!(status, 200);
    let listed: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [id.as_str()], "one connector");
    let (status, me) = first.me(&token, &id).await;
    assert_eq!(status, 200, "{me}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_refreshers_of_three_instances_refresh_each_expiring_token_once() {
    let Some(url) = database().await else {
        return;
    };
    let asana = MockAsana::start().await;
    let mut setup = Setup::new(url, &asana);
    // Registered with the refreshers off, so that nothing is refreshed before all are due.
    let quiet = setup.start(1).await;
    let token = quiet[0].app_token(&quiet[0].admin).await;
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(
            quiet[0]
                .due_connector(&token, &asana, &format!("customer-{i}"))
                .await,
        );
    }
    drop(quiet);
    setup.refresher = Some((Duration::from_secs(300), Duration::from_millis(100)));
    let instances = setup.start(3).await;
    let started = Instant::now();
    while asana.token_requests() < 60 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A few more sweeps find nothing due.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(asana.token_requests(), 60, "each token once, between three");

    // Executes find fresh tokens: no refresh, on any instance.
    let executes = ids
        .iter()
        .enumerate()
        .map(|(n, id)| instances[n % 3].me(&token, id));
    for (status, body) in join_all(executes).await {
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(asana.token_requests(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshers_and_executes_racing_on_short_lived_tokens_never_deadlock() {
    // 100 subjects, each with 2 concurrent callers, for 30 s (the issue asks for 10 callers each;
    // on 2 cores, 1,000 concurrent HTTP callers time out before a refresh can be judged).
    const SUBJECTS: usize = 100;
    const CALLERS_PER_SUBJECT: usize = 2;
    const RACE: Duration = Duration::from_secs(30);
    let Some(url) = database().await else {
        return;
    };
    // Tokens live 4 s: the refreshers renew them every 2 s (half their life), while executes
    // keep using them.
    let asana = MockAsana::builder().token_lifetime(4).start().await;
    let mut setup = Setup::new(url, &asana);
    setup.refresher = Some((Duration::from_secs(300), Duration::from_millis(50)));
    let instances = setup.start(3).await;
    let token = instances[0].app_token(&instances[0].admin).await;
    let mut ids = Vec::new();
    for i in 0..SUBJECTS {
        ids.push(
            instances[0]
                .due_connector(&token, &asana, &format!("customer-{i}"))
                .await,
        );
    }
    let ids = Arc::new(ids);
    let until = Instant::now() + RACE;
    let workers = (0..SUBJECTS * CALLERS_PER_SUBJECT).map(|w| {
        let (ids, token) = (ids.clone(), token.clone());
        let instance = &instances[w % 3];
        async move {
            let mut done = 0;
            while Instant::now() < until {
                let (status, body) = instance.me(&token, &ids[(w + done) % ids.len()]).await;
                assert_eq!(status, 200, "{body}");
                done += 1;
            }
            done
        }
    });
    let executes: usize = join_all(workers).await.into_iter().sum();
    let refreshes = asana.token_requests();
    eprintln!("{executes} executes and {refreshes} refreshes in {RACE:?}");
    // At least the first refresh of each, then about one per token every 2 s; never one per
    // execute.
    let (subjects, rounds) = (SUBJECTS as u64, RACE.as_secs());
    assert!(
        (subjects..=subjects * rounds).contains(&refreshes),
        "{refreshes} refreshes for {executes} executes"
    );
    assert!(executes > 100, "{executes}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_stopped_requests_are_503_retryable_and_the_instances_recover() {
    let mut cluster = match tokio::task::block_in_place(Cluster::start) {
        Ok(cluster) => cluster,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping: {e}");
            return;
        }
        Err(e) => panic!("CI needs PostgreSQL's binaries: {e}"),
    };
    let asana = MockAsana::start().await;
    let instances = Arc::new(Setup::new(cluster.postgres_url(), &asana).start(2).await);
    let token = instances[0].app_token(&instances[0].admin).await;
    let id = instances[0].due_connector(&token, &asana, "c").await;
    for instance in instances.iter() {
        assert_eq!(instance.me(&token, &id).await.0, 200);
        assert_eq!(instance.get("/readyz").await, 200);
    }

    // Load on both instances throughout: every answer is a 200 or a retryable 503.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..8)
        .map(|w| {
            let (instances, stop) = (instances.clone(), stop.clone());
            let (token, id) = (token.clone(), id.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let (status, body) = instances[w % 2].me(&token, &id).await;
                    seen.push((status, body["retryable"].clone()));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    tokio::task::block_in_place(|| cluster.stop());
    for instance in instances.iter() {
        let (status, body) = instance.me(&token, &id).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["retryable"], true);
        // The token cannot be checked: 503, never 401.
        let (status, body) = instance
            .post(
                "/api/v1/account/applications/scoped-token",
                Some(&token),
                json!({ "customer_name": "c" }),
            )
            .await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["retryable"], true);
        assert_eq!(instance.get("/readyz").await, 503);
        assert_eq!(instance.get("/healthz").await, 200);
    }
    // PostgreSQL stays down for 5 s under load.
    tokio::time::sleep(Duration::from_secs(5)).await;
    tokio::task::block_in_place(|| cluster.start_again()).unwrap();

    // The same instances serve again once the pool reconnects; nothing was lost.
    let started = Instant::now();
    for instance in instances.iter() {
        loop {
            let (status, body) = instance.me(&token, &id).await;
            if status == 200 {
                assert_eq!(body["result"]["name"], "Greg Sanchez");
                break;
            }
            assert_eq!(status, 503, "{body}");
            assert!(started.elapsed() < Duration::from_secs(15), "no recovery");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(instance.get("/readyz").await, 200);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut answers = Vec::new();
    for worker in load {
        answers.extend(worker.await.unwrap());
    }
    let unavailable = answers.iter().filter(|(status, _)| *status == 503).count();
    assert!(unavailable > 0, "the load saw the outage");
    for (status, retryable) in &answers {
        match status {
            200 => {}
            503 => assert_eq!(*retryable, true),
            other => panic!("{other} under load during the outage"),
        }
    }
    assert!(
        answers.last().is_some_and(|(status, _)| *status == 200),
        "served again"
    );
    assert_eq!(asana.token_requests(), 1, "nothing was refreshed again");
    drop(instances);
    tokio::task::block_in_place(|| drop(cluster));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_the_refresher_renews_due_tokens_and_leaves_an_unknown_expiry_to_a_401() {
    let dir = tempfile::tempdir().unwrap();
    let asana = MockAsana::start().await;
    let mut setup = Setup::new(dir.path().display().to_string(), &asana);
    setup.refresher = Some((Duration::from_secs(300), Duration::from_millis(50)));
    let instance = setup.instance(None).await;
    let token = instance.app_token(&instance.admin).await;
    let due = instance.due_connector(&token, &asana, "due").await;
    let issued = asana.issue_tokens("default");
    let (status, body) = instance
        .post(
            "/api/v1/integrations/connectors",
            Some(&token),
            json!({
                "customer_name": "unknown",
                "connector_type": "Asana",
                "credentials": {
                    "access_token": issued.access_token,
                    "refresh_token": issued.refresh_token,
                },
            }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let unknown = body["id"].as_str().unwrap().to_string();

    let started = Instant::now();
    while asana.token_requests() < 1 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(asana.token_requests(), 1, "the due token only, once");
    for id in [&due, &unknown] {
        assert_eq!(instance.me(&token, id).await.0, 200);
    }
    assert_eq!(asana.token_requests(), 1, "executes found fresh tokens");

    let tracked = |id: &str| tracked_expiry(dir.path(), id);
    assert_eq!(tracked(&unknown), None, "never claimed");
    assert!(tracked(&due).is_some());

    // Asana rejects the token of unknown expiry: the execute refreshes it once, and the
    // refresher learns when the new token expires.
    asana.expire_access_tokens();
    let (status, body) = instance.me(&token, &unknown).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(asana.token_requests(), 2);
    let expected = std::time::SystemTime::now() + Duration::from_secs(3600);
    let expected = expected
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let started = Instant::now();
    let learned = loop {
        if let Some(ms) = tracked(&unknown) {
            break ms;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "not tracked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        (expected - learned).abs() < 5_000,
        "{learned} vs {expected}"
    );
}

/// Where the parent tells the child instance what to run on.
const CHILD_ENV: &str = "INTEGRATIONS_SERVER_TEST_CHILD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_s_refresh_leases_lapse_and_another_instance_completes_the_refreshes() {
    let Some(url) = database().await else {
        return;
    };
    let asana = MockAsana::start().await;
    // The child's token endpoint never answers in time: it holds its leases when killed.
    // (It accepts connections and never answers; within the service's 15 s token request
    // timeout, the child is killed.)
    let stalled = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stalled_url = format!("http://{}/token", stalled.local_addr().unwrap());
    let holding = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = stalled.accept().await {
            held.push(connection);
        }
    });
    let key = EncryptionKey::generate();
    let mut setup = Setup::new(url.clone(), &asana);
    setup.keys = KeyRing::new(key.clone());
    let survivor = setup.instance(None).await;
    let token = survivor.app_token(&survivor.admin).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            survivor
                .due_connector(&token, &asana, &format!("customer-{i}"))
                .await,
        );
    }

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "instances::child_instance",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            CHILD_ENV,
            json!({
                "store": url,
                "token_url": stalled_url,
                "api_base_url": asana.api_base_url(),
                "client_id": asana.client_id(),
                "client_secret": asana.client_secret(),
            })
            .to_string(),
        )
        .env(
            integrations::auth_core::crypto::KEY_ENV,
            key.to_base64().expose_secret(),
        )
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();

    // Once the child's refresher holds a lease on every connector, it dies.
    let credentials = store_postgres::PostgresCredentialStore::builder(&url)
        .key_ring(KeyRing::new(key))
        .open()
        .await
        .unwrap();
    let started = Instant::now();
    let mut lapse_at = Vec::new();
    while lapse_at.len() < ids.len() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the child took no leases"
        );
        lapse_at.clear();
        for id in &ids {
            use integrations::CredentialStore;
            let stored = credentials.get("asana", id).await.unwrap().unwrap();
            lapse_at.extend(stored.record.lease.map(|lease| lease.expires_at));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = std::time::SystemTime::now();
    for at in &lapse_at {
        let left = at.duration_since(killed).unwrap_or_default();
        assert!(left <= Duration::from_secs(40), "a lease lasts {left:?}");
    }
    assert_eq!(asana.token_requests(), 0);

    // The surviving instance's executes wait for the dead leases to lapse, then refresh.
    let mut survivor = survivor;
    survivor.http = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .unwrap();
    let executes = ids.iter().map(|id| survivor.me(&token, id));
    for (status, body) in join_all(executes).await {
        assert_eq!(status, 200, "{body}");
    }
    let waited = killed.elapsed().unwrap();
    assert!(waited < Duration::from_secs(45), "{waited:?}");
    let first_lapse = lapse_at.iter().min().unwrap();
    assert!(
        std::time::SystemTime::now() >= *first_lapse,
        "no refresh before a dead lease lapsed"
    );
    assert_eq!(asana.token_requests(), 5, "each connector refreshed once");
    holding.abort();
}

/// The child of the test above: an instance whose background refresher claims every due
/// connector and stalls on the token endpoint until it is killed.
#[tokio::test]
#[ignore = "run by a_killed_instance_s_refresh_leases_lapse_and_another_instance_completes_the_refreshes"]
async fn child_instance() {
    let Ok(settings) = std::env::var(CHILD_ENV) else {
        return;
    };
    let settings: Value = serde_json::from_str(&settings).unwrap();
    let text = |key: &str| settings[key].as_str().unwrap().to_string();
    let mut app = AsanaAppCredentials::default();
    app.token_url = text("token_url").parse().unwrap();
    app.api_base_url = text("api_base_url").parse().unwrap();
    app.client_id = Some(text("client_id"));
    app.client_secret = Some(text("client_secret").into());
    let server = Server::builder()
        .store(text("store").parse().unwrap())
        .asana_app(app)
        .refresh_ahead(Duration::from_secs(300), Duration::from_millis(50))
        .build()
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    server
        .serve(listener, std::future::pending())
        .await
        .unwrap();
}
