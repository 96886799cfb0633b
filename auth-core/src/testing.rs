//! Test support (feature `testing`): the store conformance suite, the checks for stores that
//! encrypt at rest (`encryption`, with feature `encryption`), the multi-process store checks
//! (`processes`, with feature `encryption`, unix), the read-only directory check (`read_only`,
//! unix) and in-memory log capture ([`CapturedLogs`]).
//!
//! Every [`CredentialStore`] crate calls [`run_conformance`] from its own tests, as `object_store`
//! backends run its shared `integration.rs`. Each check is also public, so a failing one can be run
//! alone. Checks panic with a message naming what the store did wrong.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use auth_core::MemoryCredentialStore;
//!
//! auth_core::testing::run_conformance(|| async { Arc::new(MemoryCredentialStore::new()) as _ }).await;
//! # });
//! ```

#[cfg(feature = "encryption")]
pub mod encryption;
#[cfg(all(unix, feature = "encryption"))]
pub mod processes;
#[cfg(unix)]
pub mod read_only;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::StoreError;
use crate::store::{
    CredentialRecord, CredentialStatus, CredentialStore, Payload, PayloadReplacement, PutMode,
    RefreshLease, Updated,
};

/// Log output captured in memory, for tests that check what was logged and what never was.
///
/// Install [`CapturedLogs::subscriber`] for the code under test (with
/// `tracing::subscriber::set_default` or `with_default`), then read [`CapturedLogs::text`]. It
/// captures what is logged on the thread that installed it, so the code under test runs there
/// (a current-thread runtime), while other tests of the same binary log concurrently.
///
/// Tracing caches, per callsite, whether any subscriber wants its events, and a thread-local
/// subscriber installed while another thread registers a callsite can be left out of that
/// cache, so the capture would miss the callsite's events. [`CapturedLogs::subscriber`]
/// therefore first installs, once per process, a global default subscriber that records
/// nothing but asks every time ([`Interest::sometimes`](tracing::subscriber::Interest::sometimes)
/// at any level): no callsite is then cached as wanted by no one, and each event asks the
/// subscriber of its own thread. A process that installed its own global subscriber before
/// keeps it, and with it tracing's caching. It also forwards the `log` crate's records to
/// tracing, once per process, as the CLI's subscriber does: dependencies that log through `log`
/// (tokio-postgres, parts of reqwest) are captured too.
///
/// ```
/// let logs = auth_core::testing::CapturedLogs::default();
/// tracing::subscriber::with_default(logs.subscriber(tracing::Level::INFO), || {
///     tracing::warn!(path = "creds.json", "stored unencrypted");
///     log::warn!("through the log crate");
///     tracing::debug!("below the level");
/// });
/// assert!(logs.text().contains("WARN"));
/// assert!(logs.text().contains("creds.json"));
/// assert!(logs.text().contains("through the log crate"));
/// assert!(!logs.text().contains("below the level"));
/// ```
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// A subscriber that writes every event up to `level` here, as plain text without colours.
    /// Installs the global subscriber described at [`CapturedLogs`] if there is none yet.
    pub fn subscriber(&self, level: tracing::Level) -> impl tracing::Subscriber + Send + Sync {
        static ASK_EVERY_TIME: std::sync::Once = std::sync::Once::new();
        ASK_EVERY_TIME.call_once(|| {
            // Fails only when the process already has a global subscriber, which then stays.
            let _ = tracing::subscriber::set_global_default(AskEveryTime);
            // Fails only when the process already has a `log` logger, which then stays.
            let _ = tracing_log::LogTracer::init();
        });
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8(bytes).expect("log output is UTF-8")
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The global subscriber of [`CapturedLogs`]: interested in every callsite "sometimes", so tracing
/// asks the current thread's subscriber at each event, and records nothing itself.
struct AskEveryTime;

impl tracing::Subscriber for AskEveryTime {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }

    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, _: &tracing::Event<'_>) {}

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// A shared, type-erased store handle.
pub type DynStore = Arc<dyn CredentialStore>;

/// A JSON payload holding `n`.
pub fn payload(n: u64) -> Payload {
    Payload::new(format!("{{\"access_token\":\"token-{n}\",\"n\":{n}}}").into_bytes())
}

/// Reads `n` back from a [`payload`].
pub fn payload_n(p: &Payload) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(p.expose_bytes()).expect("payload is JSON");
    v["n"].as_u64().expect("payload has n")
}

/// Runs every check, each on a fresh store from `make`.
pub async fn run_conformance<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = DynStore>,
{
    get_missing_is_none(make().await).await;
    create_then_get_round_trips(make().await).await;
    create_twice_conflicts(make().await).await;
    update_requires_current_version(make().await).await;
    update_or_read_writes_or_returns_the_current_record(make().await).await;
    overwrite_always_writes(make().await).await;
    versions_follow_the_contract(make().await).await;
    replace_payloads_keeps_everything_else(make().await).await;
    delete_removes(make().await).await;
    list_filters_and_orders(make().await).await;
    status_and_lease_round_trip(make().await).await;
    odd_keys_round_trip(make().await).await;
    concurrent_gets_each_read_their_own_record(make().await, 40).await;
    concurrent_conditional_puts_have_one_winner(make().await, 50).await;
    concurrent_creates_have_one_winner(make().await, 50).await;
    concurrent_increments_lose_nothing(make().await, 8, 25).await;
}

/// `get` of an unknown key is `None`, not an error.
pub async fn get_missing_is_none(store: DynStore) {
    assert!(
        store.get("p", "nobody").await.expect("get").is_none(),
        "unknown key must read as None"
    );
}

/// A created record reads back with the same payload, status, no lease, and sane timestamps.
pub async fn create_then_get_round_trips(store: DynStore) {
    let before = SystemTime::now() - Duration::from_secs(1);
    let v = store
        .put(CredentialRecord::new("p", "s", payload(7)), PutMode::Create)
        .await
        .expect("create");
    let got = store
        .get("p", "s")
        .await
        .expect("get")
        .expect("record exists after create");
    assert_eq!(got.version, v, "get must return the version put returned");
    assert_eq!(got.record.provider, "p");
    assert_eq!(got.record.subject, "s");
    assert_eq!(
        got.record.payload,
        payload(7),
        "payload must round-trip byte for byte"
    );
    assert_eq!(got.record.status, CredentialStatus::Active);
    assert_eq!(got.record.lease, None);
    let after = SystemTime::now() + Duration::from_secs(1);
    assert!(
        got.created_at >= before && got.created_at <= after,
        "created_at must be the time of creation"
    );
    assert!(
        got.updated_at >= got.created_at && got.updated_at <= after,
        "updated_at must be the time of creation, not before created_at"
    );
}

/// `Create` on an existing key fails with `AlreadyExists` and changes nothing.
pub async fn create_twice_conflicts(store: DynStore) {
    store
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .expect("create");
    let err = store
        .put(CredentialRecord::new("p", "s", payload(2)), PutMode::Create)
        .await;
    assert!(
        matches!(err, Err(StoreError::AlreadyExists { .. })),
        "second create must conflict: {err:?}"
    );
    let got = store.get("p", "s").await.unwrap().unwrap();
    assert_eq!(
        payload_n(&got.record.payload),
        1,
        "a failed create must not change the record"
    );
}

/// `Update(v)` succeeds only while `v` is current; a stale or absent version fails with
/// `VersionMismatch` and changes nothing. Versions strictly increase; `created_at` is kept.
pub async fn update_requires_current_version(store: DynStore) {
    let v1 = store
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    let created = store.get("p", "s").await.unwrap().unwrap().created_at;
    // Stores keep milliseconds: the update lands in a later one than the create.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let v2 = store
        .put(
            CredentialRecord::new("p", "s", payload(2)),
            PutMode::Update(v1),
        )
        .await
        .unwrap();
    assert!(v2 > v1, "versions must increase: {v1} then {v2}");
    let stale = store
        .put(
            CredentialRecord::new("p", "s", payload(3)),
            PutMode::Update(v1),
        )
        .await;
    match stale {
        Err(StoreError::VersionMismatch {
            expected, found, ..
        }) => {
            assert_eq!(expected, v1);
            assert_eq!(
                found,
                Some(v2),
                "VersionMismatch must report the stored version"
            );
        }
        other => panic!("stale update must fail with VersionMismatch, got {other:?}"),
    }
    let got = store.get("p", "s").await.unwrap().unwrap();
    assert_eq!(
        payload_n(&got.record.payload),
        2,
        "a failed update must not change the record"
    );
    assert_eq!(got.version, v2);
    assert_eq!(got.created_at, created, "updates must keep created_at");
    assert!(
        got.updated_at > created && got.updated_at <= SystemTime::now() + Duration::from_secs(1),
        "an update must move updated_at to its time"
    );
    let absent = store
        .put(
            CredentialRecord::new("p", "other", payload(1)),
            PutMode::Update(v1),
        )
        .await;
    assert!(
        matches!(absent, Err(StoreError::VersionMismatch { found: None, .. })),
        "update of an absent record must fail with found: None, got {absent:?}"
    );
    assert!(
        store.get("p", "other").await.unwrap().is_none(),
        "a failed update must not create"
    );
}

/// `update_or_read` at the current version writes as `Update` does; at a stale version it
/// changes nothing and returns the record as it is, lease included; for an absent record it
/// returns `None` and creates nothing.
pub async fn update_or_read_writes_or_returns_the_current_record(store: DynStore) {
    let v1 = store
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    let mut leased = CredentialRecord::new("p", "s", payload(2));
    let lease = RefreshLease {
        holder: "holder-a".into(),
        expires_at: SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000),
    };
    leased.lease = Some(lease.clone());
    let v2 = match store.update_or_read(leased, v1).await.expect("update") {
        Updated::Written(v2) => v2,
        other => panic!("an update at the current version must write, got {other:?}"),
    };
    assert_eq!(v2, v1 + 1, "numbered as Update(v1) is");
    let mut late = CredentialRecord::new("p", "s", payload(3));
    late.lease = Some(RefreshLease {
        holder: "holder-b".into(),
        ..lease.clone()
    });
    let current = match store.update_or_read(late, v1).await.expect("stale update") {
        Updated::Changed(Some(current)) => current,
        other => panic!("a stale update must return the current record, got {other:?}"),
    };
    assert_eq!(current.version, v2);
    assert_eq!(payload_n(&current.record.payload), 2);
    let found = current.record.lease.expect("the winner's lease");
    assert_eq!(found.holder, "holder-a");
    let drift = found
        .expires_at
        .duration_since(lease.expires_at)
        .unwrap_or_else(|e| e.duration());
    assert!(
        drift < Duration::from_millis(1),
        "the winner's lease expiry"
    );
    let got = store.get("p", "s").await.unwrap().unwrap();
    assert_eq!(
        (got.version, payload_n(&got.record.payload)),
        (v2, 2),
        "a stale update_or_read must not change the record"
    );
    let absent = store
        .update_or_read(CredentialRecord::new("p", "other", payload(1)), v1)
        .await
        .expect("absent");
    assert!(
        matches!(absent, Updated::Changed(None)),
        "an absent record reads as None, got {absent:?}"
    );
    assert!(store.get("p", "other").await.unwrap().is_none());
}

/// `Overwrite` writes whether or not a record exists, and still bumps the version.
pub async fn overwrite_always_writes(store: DynStore) {
    let v1 = store
        .put(
            CredentialRecord::new("p", "s", payload(1)),
            PutMode::Overwrite,
        )
        .await
        .unwrap();
    let v2 = store
        .put(
            CredentialRecord::new("p", "s", payload(2)),
            PutMode::Overwrite,
        )
        .await
        .unwrap();
    assert!(v2 > v1);
    assert_eq!(
        payload_n(&store.get("p", "s").await.unwrap().unwrap().record.payload),
        2
    );
}

/// Versions are numbered as the `CredentialStore` contract says (layers such as `EncryptedStore`
/// seal each payload for the version its put will write): `Create` writes 1, `Update(v)` writes
/// `v + 1`, `Overwrite` one more than the stored version or 1, and a record deleted and created
/// again starts at 1.
pub async fn versions_follow_the_contract(store: DynStore) {
    let put = |mode| store.put(CredentialRecord::new("p", "s", payload(1)), mode);
    assert_eq!(
        put(PutMode::Create).await.unwrap(),
        1,
        "Create writes version 1"
    );
    assert_eq!(
        put(PutMode::Update(1)).await.unwrap(),
        2,
        "Update(1) writes 2"
    );
    assert_eq!(
        put(PutMode::Overwrite).await.unwrap(),
        3,
        "Overwrite writes 3"
    );
    assert_eq!(
        put(PutMode::Update(3)).await.unwrap(),
        4,
        "Update(3) writes 4"
    );
    assert_eq!(
        store
            .put(
                CredentialRecord::new("p", "new", payload(1)),
                PutMode::Overwrite
            )
            .await
            .unwrap(),
        1,
        "Overwrite of an absent record writes 1"
    );
    assert!(store.delete("p", "s").await.unwrap());
    assert_eq!(
        put(PutMode::Create).await.unwrap(),
        1,
        "a record created again starts at 1"
    );
}

/// `replace_payloads` replaces the payload of each record still at the given version and keeps
/// its version, status, lease and timestamps; a stale version or an absent record is left alone
/// and not counted.
pub async fn replace_payloads_keeps_everything_else(store: DynStore) {
    let until = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    let mut record = CredentialRecord::new("p", "s", payload(1));
    record.status = CredentialStatus::NeedsReauthorization;
    record.lease = Some(RefreshLease {
        holder: "holder-1".into(),
        expires_at: until,
    });
    let v1 = store.put(record.clone(), PutMode::Create).await.unwrap();
    record.lease = None;
    let v2 = store
        .put(record.clone(), PutMode::Update(v1))
        .await
        .unwrap();
    store
        .put(CredentialRecord::new("p", "t", payload(5)), PutMode::Create)
        .await
        .unwrap();
    let before = store.get("p", "s").await.unwrap().unwrap();
    let replacement = |subject: &str, version, n| PayloadReplacement {
        provider: "p".into(),
        subject: subject.into(),
        version,
        payload: payload(n),
    };
    let replaced = store
        .replace_payloads(vec![
            replacement("s", v2, 2),
            replacement("t", v1 + 7, 6),
            replacement("absent", 1, 7),
        ])
        .await
        .expect("replace_payloads");
    assert_eq!(
        replaced, 1,
        "only the record still at its version is replaced"
    );
    let after = store.get("p", "s").await.unwrap().unwrap();
    assert_eq!(
        payload_n(&after.record.payload),
        2,
        "the payload is replaced"
    );
    assert_eq!(after.version, v2, "the version is kept");
    assert_eq!(after.record.status, CredentialStatus::NeedsReauthorization);
    assert_eq!(after.record.lease, None);
    assert_eq!(
        (after.created_at, after.updated_at),
        (before.created_at, before.updated_at),
        "the timestamps are kept"
    );
    assert_eq!(
        payload_n(&store.get("p", "t").await.unwrap().unwrap().record.payload),
        5,
        "a record at another version is left alone"
    );
    assert!(
        store.get("p", "absent").await.unwrap().is_none(),
        "replace_payloads never creates"
    );
    assert_eq!(store.replace_payloads(Vec::new()).await.unwrap(), 0);
}

/// `delete` removes the record and reports whether there was one; a record created again
/// afterwards keeps nothing of the deleted one (payload, status, lease, creation time, version).
pub async fn delete_removes(store: DynStore) {
    let mut first = CredentialRecord::new("p", "s", payload(1));
    first.status = CredentialStatus::NeedsReauthorization;
    first.lease = Some(RefreshLease {
        holder: "holder-1".into(),
        expires_at: SystemTime::now() + Duration::from_secs(3_600),
    });
    store.put(first, PutMode::Create).await.unwrap();
    store
        .put(CredentialRecord::new("p", "t", payload(2)), PutMode::Create)
        .await
        .unwrap();
    assert!(
        store.delete("p", "s").await.unwrap(),
        "delete of an existing record returns true"
    );
    assert!(store.get("p", "s").await.unwrap().is_none());
    assert!(
        !store.delete("p", "s").await.unwrap(),
        "delete of a missing record returns false"
    );
    assert!(
        store.get("p", "t").await.unwrap().is_some(),
        "delete must not touch other subjects"
    );
    let deleted = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let version = store
        .put(CredentialRecord::new("p", "s", payload(3)), PutMode::Create)
        .await
        .expect("re-create after delete");
    let again = store.get("p", "s").await.unwrap().unwrap();
    assert_eq!(
        (
            version,
            again.version,
            payload_n(&again.record.payload),
            again.record.status,
            &again.record.lease
        ),
        (1, 1, 3, CredentialStatus::Active, &None),
        "a record created again is the new one alone"
    );
    assert!(
        again.created_at > deleted,
        "a record created again has its own creation time"
    );
    let listed: Vec<(String, String)> = store
        .list(Some("p"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.record.provider, r.record.subject))
        .collect();
    assert_eq!(
        listed,
        [("p".to_string(), "s".to_string()), ("p".into(), "t".into())]
    );
}

/// `list` (and `list_subjects`) return every record ordered by (provider, subject), or one
/// provider's.
pub async fn list_filters_and_orders(store: DynStore) {
    for (p, s) in [("b", "2"), ("a", "9"), ("b", "1"), ("a", "1")] {
        store
            .put(CredentialRecord::new(p, s, payload(1)), PutMode::Create)
            .await
            .unwrap();
    }
    let all: Vec<(String, String)> = store
        .list(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.record.provider, r.record.subject))
        .collect();
    let expected: Vec<(String, String)> = [("a", "1"), ("a", "9"), ("b", "1"), ("b", "2")]
        .iter()
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .collect();
    assert_eq!(all, expected, "list must be ordered by (provider, subject)");
    let b: Vec<String> = store
        .list(Some("b"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.record.subject)
        .collect();
    assert_eq!(b, ["1", "2"]);
    assert!(store.list(Some("zzz")).await.unwrap().is_empty());
    assert_eq!(
        store.list_subjects(None).await.unwrap(),
        expected,
        "list_subjects must name what list returns, in the same order"
    );
    assert_eq!(
        store.list_subjects(Some("b")).await.unwrap(),
        [("b".to_string(), "1".to_string()), ("b".into(), "2".into())]
    );
    assert!(store.list_subjects(Some("zzz")).await.unwrap().is_empty());
}

/// Status and refresh lease are stored and read back.
pub async fn status_and_lease_round_trip(store: DynStore) {
    let until = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    let mut record = CredentialRecord::new("p", "s", payload(1));
    record.status = CredentialStatus::NeedsReauthorization;
    record.lease = Some(RefreshLease {
        holder: "holder-1".into(),
        expires_at: until,
    });
    store.put(record, PutMode::Create).await.unwrap();
    let got = store.get("p", "s").await.unwrap().unwrap();
    assert_eq!(got.record.status, CredentialStatus::NeedsReauthorization);
    let lease = got.record.lease.expect("lease must be stored");
    assert_eq!(lease.holder, "holder-1");
    let drift = lease
        .expires_at
        .duration_since(until)
        .unwrap_or_else(|e| e.duration());
    assert!(
        drift < Duration::from_millis(1),
        "lease expiry must round-trip to the millisecond"
    );
}

/// Providers and subjects are opaque strings: e-mails, slashes, quotes, non-ASCII.
pub async fn odd_keys_round_trip(store: DynStore) {
    let keys = [
        "user@example.com",
        "a/b\\c",
        "quote'\"",
        "ünïcødé ☃",
        " spaced ",
    ];
    for (i, s) in keys.iter().enumerate() {
        store
            .put(
                CredentialRecord::new("prov-1", *s, payload(i as u64)),
                PutMode::Create,
            )
            .await
            .unwrap();
    }
    for (i, s) in keys.iter().enumerate() {
        let got = store
            .get("prov-1", s)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("subject {s:?} lost"));
        assert_eq!(payload_n(&got.record.payload), i as u64);
        assert_eq!(got.record.subject, *s);
    }
    assert!(
        store
            .get("prov-1", "user@example.co")
            .await
            .unwrap()
            .is_none(),
        "no prefix matching"
    );
}

/// `n` records under two providers (every third updated once, so versions differ), each read by
/// three concurrent `get`s, among `n` reads of keys that do not exist (half of them a known
/// subject under the other provider): every read answers with its own record and version, or
/// `None`. A store that serves concurrent reads together must still give each read its own row.
pub async fn concurrent_gets_each_read_their_own_record(store: DynStore, n: u64) {
    let key = |i: u64| (["p", "q"][(i % 2) as usize], format!("subject-{i}"));
    let mut expected = Vec::new();
    for i in 0..n {
        let (provider, subject) = key(i);
        let mut v = store
            .put(
                CredentialRecord::new(provider, subject.clone(), payload(i)),
                PutMode::Create,
            )
            .await
            .expect("create");
        let mut n_in_payload = i;
        if i.is_multiple_of(3) {
            n_in_payload = i + 1000;
            v = store
                .put(
                    CredentialRecord::new(provider, subject, payload(n_in_payload)),
                    PutMode::Update(v),
                )
                .await
                .expect("update");
        }
        expected.push((n_in_payload, v));
    }
    let reads: Vec<_> = (0..4 * n)
        .map(|k| {
            let store = store.clone();
            tokio::spawn(async move {
                let i = k % n;
                let (provider, subject) = key(i);
                let (provider, subject) = match k / n {
                    3 if i.is_multiple_of(2) => ("q", subject),
                    3 => (provider, format!("missing-{i}")),
                    _ => (provider, subject),
                };
                let got = store.get(provider, &subject).await.expect("get");
                (k, provider, subject, got)
            })
        })
        .collect();
    for read in futures::future::join_all(reads).await {
        let (k, provider, subject, got) = read.expect("task");
        let i = k % n;
        if k / n == 3 {
            assert!(
                got.is_none(),
                "{provider}/{subject} does not exist, yet read {got:?}"
            );
            continue;
        }
        let got = got.unwrap_or_else(|| panic!("{provider}/{subject} read as missing"));
        assert_eq!(
            (got.record.provider.as_str(), got.record.subject.as_str()),
            (provider, subject.as_str()),
            "a read got another key's record"
        );
        let (n_in_payload, version) = expected[i as usize];
        assert_eq!(
            (payload_n(&got.record.payload), got.version),
            (n_in_payload, version),
            "{provider}/{subject}"
        );
    }
}

/// `n` tasks race `Update(v)` on one record: exactly one wins, the rest get `VersionMismatch`.
pub async fn concurrent_conditional_puts_have_one_winner(store: DynStore, n: u64) {
    let v = store
        .put(
            CredentialRecord::new("p", "race", payload(0)),
            PutMode::Create,
        )
        .await
        .unwrap();
    let tasks: Vec<_> = (1..=n)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .put(
                        CredentialRecord::new("p", "race", payload(i)),
                        PutMode::Update(v),
                    )
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, t) in futures::future::join_all(tasks)
        .await
        .into_iter()
        .enumerate()
    {
        match t.expect("task") {
            Ok(_) => winners.push(i as u64 + 1),
            Err(StoreError::VersionMismatch { .. }) => {}
            Err(other) => panic!("losers must get VersionMismatch, got {other:?}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one conditional put may win, got {}",
        winners.len()
    );
    let got = store.get("p", "race").await.unwrap().unwrap();
    assert_eq!(
        payload_n(&got.record.payload),
        winners[0],
        "the stored payload must be the winner's"
    );
}

/// `n` tasks race `Create` on one key: exactly one wins.
pub async fn concurrent_creates_have_one_winner(store: DynStore, n: u64) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .put(
                        CredentialRecord::new("p", "new", payload(i)),
                        PutMode::Create,
                    )
                    .await
            })
        })
        .collect();
    let results = futures::future::join_all(tasks).await;
    let ok = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Ok(Err(StoreError::AlreadyExists { .. }))))
        .count();
    assert_eq!(
        (ok, conflicts),
        (1, n as usize - 1),
        "exactly one create may win"
    );
}

/// `workers` tasks each add 1 `per_worker` times by read-modify-write with `Update`, retrying on
/// conflict: the final count is exact.
pub async fn concurrent_increments_lose_nothing(store: DynStore, workers: u64, per_worker: u64) {
    store
        .put(
            CredentialRecord::new("p", "counter", payload(0)),
            PutMode::Create,
        )
        .await
        .unwrap();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..per_worker {
                    increment(&*store, "p", "counter").await;
                }
            })
        })
        .collect();
    for t in futures::future::join_all(tasks).await {
        t.expect("task");
    }
    let got = store.get("p", "counter").await.unwrap().unwrap();
    assert_eq!(
        payload_n(&got.record.payload),
        workers * per_worker,
        "an increment was lost"
    );
}

/// For a store whose record `provider/subject` was damaged to
/// [`MAX_VERSION`](crate::store::MAX_VERSION), a version no store counts past: it still reads, a
/// put over it fails as corrupt (the error names `location`), and it is left as it was.
pub async fn a_record_at_the_highest_version_is_not_written_again(
    store: &dyn CredentialStore,
    provider: &str,
    subject: &str,
    location: &str,
) {
    use crate::store::MAX_VERSION;
    let read = store.get(provider, subject).await.unwrap().unwrap();
    assert_eq!(read.version, MAX_VERSION);
    for mode in [PutMode::Update(MAX_VERSION), PutMode::Overwrite] {
        match store
            .put(CredentialRecord::new(provider, subject, payload(2)), mode)
            .await
        {
            Err(StoreError::Corrupt {
                location: at,
                reason,
                ..
            }) => {
                assert_eq!(at, location);
                assert_eq!(
                    reason,
                    format!(
                        "the record for {provider}/{subject} is at version {MAX_VERSION}, and versions stop at {MAX_VERSION}: it was damaged or edited by hand"
                    )
                );
            }
            other => panic!("{mode:?}: expected Corrupt, got {other:?}"),
        }
    }
    let kept = store.get(provider, subject).await.unwrap().unwrap();
    assert_eq!(
        (kept.version, kept.record.payload),
        (MAX_VERSION, read.record.payload),
        "the record was left as it was"
    );
}

/// Adds one to a [`payload`] counter by read-modify-write, retrying on `VersionMismatch`.
/// Returns the number of conflicts it retried.
pub async fn increment(store: &dyn CredentialStore, provider: &str, subject: &str) -> u64 {
    let mut conflicts = 0;
    loop {
        let current = store
            .get(provider, subject)
            .await
            .expect("get")
            .expect("counter exists");
        let next = payload_n(&current.record.payload) + 1;
        let record = CredentialRecord::new(provider, subject, payload(next));
        match store.put(record, PutMode::Update(current.version)).await {
            Ok(_) => return conflicts,
            Err(StoreError::VersionMismatch { .. }) => {
                conflicts += 1;
                tokio::task::yield_now().await;
            }
            Err(other) => panic!("increment failed: {other:?}"),
        }
    }
}
