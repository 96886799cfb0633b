//! Dev-only (feature `testing`): the behaviour every [`ServiceStore`] must have, as checks that
//! the SQLite and the PostgreSQL store both pass ([`run_conformance`]). Each check works on
//! records of its own (ids prefixed with its name), so all of them share one store.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    ApplicationRecord, AuditEntry, AuthKind, ConnectorFilter, ConnectorPosition, ConnectorRecord,
    Issuer, OAuthAppRecord, OAuthAppSource, OAuthSecretClaim, OAuthSecretRecord, OAuthStateRecord,
    Sealed, SealedAt, SealedValue, ServiceStore, TokenInsert, TokenRecord,
};
use crate::error::ServiceStoreError;

/// A store under test.
pub type DynStore = Arc<dyn ServiceStore>;

/// Runs every check on `store`.
pub async fn run_conformance(store: DynStore) {
    applications_round_trip_and_collide(&store).await;
    rotating_a_secret_drops_the_tokens(&store).await;
    a_token_is_stored_only_while_its_issuer_holds(&store).await;
    tokens_round_trip_and_expire(&store).await;
    an_application_holds_at_most_its_bound_of_tokens(&store).await;
    concurrent_inserts_never_pass_the_bound_of_tokens(&store, 12).await;
    a_token_is_deleted_only_by_its_application_and_customer(&store).await;
    a_customer_s_tokens_are_deleted_together_and_no_others(&store).await;
    connectors_stay_with_their_application(&store).await;
    a_token_is_read_with_its_own_application_s_connector_only(&store).await;
    concurrent_reads_of_tokens_and_connectors_each_get_their_own_answer(&store, 48).await;
    oauth_apps_are_set_replaced_and_deleted(&store).await;
    sealed_values_are_listed_and_resealed_only_while_unchanged(&store).await;
    an_oauth_state_is_taken_once_and_not_after_it_expired(&store).await;
    concurrent_takes_of_one_state_have_one_winner(&store, 16).await;
    a_consent_secret_id_is_claimed_once_by_its_own_application_customer_and_type(&store).await;
    expired_consent_secret_ids_are_not_claimed_and_are_swept(&store).await;
    a_consent_secret_id_goes_with_its_connector(&store).await;
    concurrent_claims_of_one_secret_id_have_one_winner(&store, 16).await;
    deleting_an_application_cascades_and_keeps_its_audit(&store).await;
    audit_lists_newest_first(&store).await;
    concurrent_audit_appends_are_all_committed_and_a_bad_one_fails_alone(&store).await;
    expiring_tokens_are_claimed_once_until_released_or_lapsed(&store).await;
    concurrent_expiries_are_each_recorded(&store, 40).await;
    concurrent_claims_never_overlap(&store, 8).await;
    old_audit_entries_are_deleted_oldest_first_a_batch_at_a_time(&store).await;
}

/// A time with the millisecond precision stores keep.
pub fn ms(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(n)
}

/// Now, to the millisecond.
fn now() -> SystemTime {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    ms(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

/// An application with this id and client id.
pub fn application(id: &str, client_id: &str) -> ApplicationRecord {
    ApplicationRecord {
        id: id.into(),
        name: format!("{id} name"),
        organization_id: format!("{id} org"),
        client_id: client_id.into(),
        client_secret_hash: "hash".into(),
        redirect_origins: vec![
            "https://app.example.com".into(),
            "http://localhost:3000".into(),
        ],
        created_at: ms(1_000),
    }
}

/// A connector of `application_id` for `customer`.
pub fn connector(id: &str, application_id: &str, customer: &str) -> ConnectorRecord {
    ConnectorRecord {
        id: id.into(),
        application_id: application_id.into(),
        customer_name: customer.into(),
        connector_type: "asana".into(),
        definition_id: "d".into(),
        name: format!("{id} name"),
        auth_kind: AuthKind::OAuth,
        oauth_app: Some(OAuthAppSource::Application),
        read_only: false,
        created_at: ms(3_000),
        updated_at: ms(3_000),
    }
}

/// A pending OAuth state of `application_id` that expires at `expires_at`.
pub fn state(hash: &str, application_id: &str, expires_at: SystemTime) -> OAuthStateRecord {
    OAuthStateRecord {
        state_hash: hash.into(),
        application_id: application_id.into(),
        customer_name: "c".into(),
        connector_type: "asana".into(),
        name: Some("n".into()),
        pkce_verifier: Sealed(b"sealed".to_vec()),
        redirect_uri: "https://service.example/api/v1/oauth/callback".into(),
        scopes: vec!["default".into(), "tasks:read".into()],
        redirect_url: "https://app.example.com/done".into(),
        oauth_app: OAuthAppSource::Service,
        expires_at,
    }
}

/// Stores `token`, issued on its application's client secret (the hash of [`application`]).
async fn issued(store: &DynStore, token: TokenRecord) {
    assert_eq!(
        store
            .insert_token(token, Issuer::ClientSecret("hash"), 1000)
            .await
            .unwrap(),
        TokenInsert::Stored,
        "issued on the application's secret"
    );
}

async fn with_application(store: &DynStore, id: &str) {
    store
        .create_application(application(id, &format!("{id}-client")))
        .await
        .unwrap();
}

/// Applications read back as written, by id and by client id; a taken id or client id is
/// refused; the list is oldest first.
pub async fn applications_round_trip_and_collide(store: &DynStore) {
    let mut first = application("apps-1", "apps-client-1");
    first.created_at = ms(10_000_000);
    let mut second = application("apps-2", "apps-client-2");
    second.created_at = ms(10_000_001);
    store.create_application(second.clone()).await.unwrap();
    store.create_application(first.clone()).await.unwrap();
    assert_eq!(
        store.application("apps-1").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store
            .application_by_client_id("apps-client-2")
            .await
            .unwrap(),
        Some(second.clone())
    );
    assert_eq!(store.application("apps-none").await.unwrap(), None);
    for taken in [
        application("apps-3", "apps-client-1"),
        application("apps-1", "apps-client-3"),
    ] {
        assert!(matches!(
            store.create_application(taken).await,
            Err(ServiceStoreError::AlreadyExists { .. })
        ));
    }
    let listed: Vec<String> = store
        .list_applications()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.id.starts_with("apps-"))
        .map(|a| a.id)
        .collect();
    assert_eq!(listed, ["apps-1", "apps-2"]);
}

/// Replacing a client secret writes the hash and deletes the application's tokens only.
pub async fn rotating_a_secret_drops_the_tokens(store: &DynStore) {
    with_application(store, "rotate-1").await;
    with_application(store, "rotate-2").await;
    for (hash, app) in [("rotate-t1", "rotate-1"), ("rotate-t2", "rotate-2")] {
        issued(
            store,
            TokenRecord {
                token_hash: hash.into(),
                application_id: app.into(),
                customer: None,
                expires_at: now() + Duration::from_secs(600),
            },
        )
        .await;
    }
    assert!(
        store
            .replace_client_secret("rotate-1", "new")
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .application("rotate-1")
            .await
            .unwrap()
            .unwrap()
            .client_secret_hash,
        "new"
    );
    assert_eq!(store.token("rotate-t1").await.unwrap(), None);
    assert!(store.token("rotate-t2").await.unwrap().is_some());
    assert!(
        !store
            .replace_client_secret("rotate-none", "x")
            .await
            .unwrap()
    );
}

/// A token issued on a client secret is stored only while the secret is its application's, and
/// one issued on a token only while that token is stored for the same application: none
/// outlives a rotation that happened after its issuer was checked.
pub async fn a_token_is_stored_only_while_its_issuer_holds(store: &DynStore) {
    with_application(store, "issuer-1").await;
    with_application(store, "issuer-2").await;
    let token = |hash: &str, app: &str| TokenRecord {
        token_hash: hash.into(),
        application_id: app.into(),
        customer: None,
        expires_at: now() + Duration::from_secs(600),
    };
    let insert = |hash: &'static str, app: &'static str, issuer: Issuer<'static>| async move {
        let inserted = store.insert_token(token(hash, app), issuer, 1000).await;
        match inserted.unwrap() {
            TokenInsert::Stored => true,
            TokenInsert::IssuerGone => false,
            other => panic!("{hash}: {other:?}"),
        }
    };
    assert!(!insert("issuer-t0", "issuer-1", Issuer::ClientSecret("other")).await);
    assert!(insert("issuer-t1", "issuer-1", Issuer::ClientSecret("hash")).await);
    assert!(insert("issuer-t2", "issuer-1", Issuer::Token("issuer-t1")).await);
    assert!(
        !insert("issuer-t3", "issuer-2", Issuer::Token("issuer-t1")).await,
        "a token of another application"
    );
    assert!(!insert("issuer-t4", "issuer-1", Issuer::Token("issuer-none")).await);
    for (hash, stored) in [
        ("issuer-t0", false),
        ("issuer-t1", true),
        ("issuer-t2", true),
        ("issuer-t3", false),
        ("issuer-t4", false),
    ] {
        assert_eq!(store.token(hash).await.unwrap().is_some(), stored, "{hash}");
    }

    assert!(
        store
            .replace_client_secret("issuer-1", "new")
            .await
            .unwrap()
    );
    assert!(!insert("issuer-t5", "issuer-1", Issuer::ClientSecret("hash")).await);
    assert!(!insert("issuer-t6", "issuer-1", Issuer::Token("issuer-t1")).await);
    assert!(insert("issuer-t7", "issuer-1", Issuer::ClientSecret("new")).await);
    for (hash, stored) in [
        ("issuer-t5", false),
        ("issuer-t6", false),
        ("issuer-t7", true),
    ] {
        assert_eq!(store.token(hash).await.unwrap().is_some(), stored, "{hash}");
    }
}

/// Tokens read back with their scope; the expired ones are deleted and counted.
pub async fn tokens_round_trip_and_expire(store: &DynStore) {
    with_application(store, "tokens-1").await;
    let at = now();
    let live = TokenRecord {
        token_hash: "tokens-live".into(),
        application_id: "tokens-1".into(),
        customer: Some("customer".into()),
        expires_at: at + Duration::from_secs(600),
    };
    let expired = TokenRecord {
        token_hash: "tokens-expired".into(),
        customer: None,
        expires_at: at - Duration::from_secs(1),
        ..live.clone()
    };
    issued(store, live.clone()).await;
    issued(store, expired.clone()).await;
    assert_eq!(store.token("tokens-expired").await.unwrap(), Some(expired));
    assert!(store.delete_expired_tokens(at).await.unwrap() >= 1);
    assert_eq!(store.token("tokens-expired").await.unwrap(), None);
    assert_eq!(store.token("tokens-live").await.unwrap(), Some(live));
}

/// An application's tokens stop at `max_tokens`, expired ones not yet deleted included: one more
/// is refused with the earliest expiry, whatever its issuer, and nothing is stored; deleting one
/// makes room. A refused issuer is told apart from a full application, and another
/// application's tokens do not count.
pub async fn an_application_holds_at_most_its_bound_of_tokens(store: &DynStore) {
    with_application(store, "bound-1").await;
    with_application(store, "bound-2").await;
    let at = now();
    let token = |hash: &str, app: &str, expires_at: SystemTime| TokenRecord {
        token_hash: hash.into(),
        application_id: app.into(),
        customer: None,
        expires_at,
    };
    let insert = |record: TokenRecord, issuer: Issuer<'static>| async move {
        store.insert_token(record, issuer, 3).await.unwrap()
    };
    let secret = Issuer::ClientSecret("hash");
    let expired = at - Duration::from_secs(5);
    assert_eq!(
        insert(token("bound-t1", "bound-1", expired), secret).await,
        TokenInsert::Stored
    );
    for hash in ["bound-t2", "bound-t3"] {
        let record = token(hash, "bound-1", at + Duration::from_secs(600));
        assert_eq!(insert(record, secret).await, TokenInsert::Stored, "{hash}");
    }
    let full = TokenInsert::Full {
        next_expiry: Some(expired),
    };
    let one_more = token("bound-t4", "bound-1", at + Duration::from_secs(600));
    assert_eq!(insert(one_more.clone(), secret).await, full);
    assert_eq!(
        insert(one_more.clone(), Issuer::Token("bound-t2")).await,
        full,
        "issued on a token"
    );
    assert_eq!(
        insert(one_more.clone(), Issuer::ClientSecret("other")).await,
        TokenInsert::IssuerGone,
        "a wrong issuer is told as such, full or not"
    );
    assert_eq!(store.token("bound-t4").await.unwrap(), None);
    assert_eq!(
        insert(token("bound-u1", "bound-2", at), secret).await,
        TokenInsert::Stored,
        "another application's tokens do not count"
    );

    assert!(store.delete_expired_tokens(at).await.unwrap() >= 1);
    assert_eq!(insert(one_more, secret).await, TokenInsert::Stored);
    assert!(store.token("bound-t4").await.unwrap().is_some());
}

/// Concurrent inserts for one application never store more than its bound between them.
pub async fn concurrent_inserts_never_pass_the_bound_of_tokens(store: &DynStore, n: usize) {
    with_application(store, "bound-race").await;
    let max = u32::try_from(n / 2).unwrap_or(u32::MAX);
    let inserts: Vec<_> = (0..n)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let record = TokenRecord {
                    token_hash: format!("bound-race-{i}"),
                    application_id: "bound-race".into(),
                    customer: None,
                    expires_at: now() + Duration::from_secs(600),
                };
                store
                    .insert_token(record, Issuer::ClientSecret("hash"), max)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut stored = 0;
    for insert in inserts {
        match insert.await.unwrap() {
            TokenInsert::Stored => stored += 1,
            TokenInsert::Full { next_expiry } => assert!(next_expiry.is_some()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(stored, n / 2);
    let mut held = 0;
    for i in 0..n {
        held += usize::from(
            store
                .token(&format!("bound-race-{i}"))
                .await
                .unwrap()
                .is_some(),
        );
    }
    assert_eq!(held, n / 2);
}

/// A token is deleted by its own application only, and, for a scoped caller, only when it is
/// scoped to that caller's customer; a second delete finds nothing.
pub async fn a_token_is_deleted_only_by_its_application_and_customer(store: &DynStore) {
    with_application(store, "revoke-1").await;
    with_application(store, "revoke-2").await;
    let token = |hash: &str, customer: Option<&str>| TokenRecord {
        token_hash: hash.into(),
        application_id: "revoke-1".into(),
        customer: customer.map(str::to_string),
        expires_at: now() + Duration::from_secs(600),
    };
    issued(store, token("revoke-app", None)).await;
    issued(store, token("revoke-alice", Some("alice"))).await;
    issued(store, token("revoke-bob", Some("bob"))).await;
    let delete = |hash: &'static str, app: &'static str, customer: Option<&'static str>| async move {
        store.delete_token(hash, app, customer).await.unwrap()
    };
    assert!(
        !delete("revoke-alice", "revoke-2", None).await,
        "another application"
    );
    assert!(
        !delete("revoke-alice", "revoke-1", Some("bob")).await,
        "another customer"
    );
    assert!(
        !delete("revoke-app", "revoke-1", Some("alice")).await,
        "an application token, by a scoped caller"
    );
    assert!(delete("revoke-alice", "revoke-1", Some("alice")).await);
    assert!(
        !delete("revoke-alice", "revoke-1", Some("alice")).await,
        "already deleted"
    );
    assert!(
        delete("revoke-bob", "revoke-1", None).await,
        "any of its tokens, by the application"
    );
    assert!(delete("revoke-app", "revoke-1", None).await);
    for hash in ["revoke-app", "revoke-alice", "revoke-bob"] {
        assert_eq!(store.token(hash).await.unwrap(), None, "{hash}");
    }
}

/// Deleting a customer's tokens deletes every token of the application scoped to that customer,
/// expired or not, and no other: not the application's own, another customer's, or the same
/// customer's of another application.
pub async fn a_customer_s_tokens_are_deleted_together_and_no_others(store: &DynStore) {
    with_application(store, "customer-revoke-1").await;
    with_application(store, "customer-revoke-2").await;
    let token =
        |hash: &str, app: &str, customer: Option<&str>, expires_at: SystemTime| TokenRecord {
            token_hash: hash.into(),
            application_id: app.into(),
            customer: customer.map(str::to_string),
            expires_at,
        };
    let later = now() + Duration::from_secs(600);
    let tokens = [
        token("customer-revoke-app", "customer-revoke-1", None, later),
        token(
            "customer-revoke-alice",
            "customer-revoke-1",
            Some("alice"),
            later,
        ),
        token(
            "customer-revoke-alice-expired",
            "customer-revoke-1",
            Some("alice"),
            ms(1),
        ),
        token(
            "customer-revoke-bob",
            "customer-revoke-1",
            Some("bob"),
            later,
        ),
        token(
            "customer-revoke-other-alice",
            "customer-revoke-2",
            Some("alice"),
            later,
        ),
    ];
    for t in &tokens {
        issued(store, t.clone()).await;
    }
    let delete = |app: &'static str, customer: &'static str| async move {
        store.delete_customer_tokens(app, customer).await.unwrap()
    };
    assert_eq!(delete("customer-revoke-1", "alice").await, 2);
    assert_eq!(
        delete("customer-revoke-1", "alice").await,
        0,
        "gone already"
    );
    assert_eq!(delete("customer-revoke-1", "carol").await, 0, "no tokens");
    for t in &tokens {
        let kept = store.token(&t.token_hash).await.unwrap();
        if t.application_id == "customer-revoke-1" && t.customer.as_deref() == Some("alice") {
            assert_eq!(kept, None, "{}", t.token_hash);
        } else {
            assert_eq!(kept.as_ref(), Some(t), "{}", t.token_hash);
        }
    }
}

/// Connectors are reached through their application only, filter and order as documented, keep
/// every field (`read_only` too) through an insert and an update, and update and delete once.
pub async fn connectors_stay_with_their_application(store: &DynStore) {
    with_application(store, "conn-app-1").await;
    with_application(store, "conn-app-2").await;
    let mut a = connector("conn-a", "conn-app-1", "alice");
    a.auth_kind = AuthKind::Token;
    a.oauth_app = None;
    a.read_only = true;
    let mut b = connector("conn-b", "conn-app-1", "bob");
    b.created_at = ms(4_000);
    let mut c = connector("conn-c", "conn-app-1", "alice");
    c.created_at = ms(5_000);
    c.connector_type = "other".into();
    let d = connector("conn-d", "conn-app-2", "alice");
    for record in [&c, &a, &b, &d] {
        store.insert_connector(record.clone()).await.unwrap();
    }
    assert_eq!(
        store.connector("conn-app-1", "conn-a").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.connector("conn-app-2", "conn-a").await.unwrap(), None);
    let ids = |records: Vec<ConnectorRecord>| -> Vec<String> {
        records.into_iter().map(|r| r.id).collect()
    };
    let all = ConnectorFilter::default();
    assert_eq!(
        ids(store.list_connectors("conn-app-1", &all).await.unwrap()),
        ["conn-a", "conn-b", "conn-c"]
    );
    let alice = ConnectorFilter {
        customer_name: Some("alice".into()),
        ..ConnectorFilter::default()
    };
    assert_eq!(
        ids(store.list_connectors("conn-app-1", &alice).await.unwrap()),
        ["conn-a", "conn-c"]
    );
    let alice_asana = ConnectorFilter {
        connector_type: Some("asana".into()),
        ..alice
    };
    assert_eq!(
        ids(store
            .list_connectors("conn-app-1", &alice_asana)
            .await
            .unwrap()),
        ["conn-a"]
    );
    // Pages: at most `limit`, from after a position; connectors created in the same
    // millisecond follow in id order.
    let mut b2 = connector("conn-b2", "conn-app-1", "bob");
    b2.created_at = b.created_at;
    store.insert_connector(b2.clone()).await.unwrap();
    let page = |after: Option<&ConnectorRecord>| ConnectorFilter {
        after: after.map(|r| ConnectorPosition {
            created_at: r.created_at,
            id: r.id.clone(),
        }),
        limit: Some(2),
        ..ConnectorFilter::default()
    };
    assert_eq!(
        ids(store
            .list_connectors("conn-app-1", &page(None))
            .await
            .unwrap()),
        ["conn-a", "conn-b"]
    );
    assert_eq!(
        ids(store
            .list_connectors("conn-app-1", &page(Some(&b)))
            .await
            .unwrap()),
        ["conn-b2", "conn-c"]
    );
    assert_eq!(
        ids(store
            .list_connectors("conn-app-1", &page(Some(&c)))
            .await
            .unwrap()),
        Vec::<String>::new()
    );
    let bob_after_b = ConnectorFilter {
        customer_name: Some("bob".into()),
        ..page(Some(&b))
    };
    assert_eq!(
        ids(store
            .list_connectors("conn-app-1", &bob_after_b)
            .await
            .unwrap()),
        ["conn-b2"]
    );
    assert!(
        store
            .delete_connector("conn-app-1", "conn-b2")
            .await
            .unwrap()
    );
    let mut renamed = b.clone();
    renamed.name = "renamed".into();
    renamed.auth_kind = AuthKind::Token;
    renamed.oauth_app = None;
    renamed.read_only = true;
    renamed.updated_at = ms(9_000);
    // Only over the row as it was read: a change from a row changed since is refused.
    let mut stale = renamed.clone();
    stale.name = "lost".into();
    assert!(!store.update_connector(&stale, ms(2_999)).await.unwrap());
    assert!(
        store
            .update_connector(&renamed, b.updated_at)
            .await
            .unwrap()
    );
    assert!(!store.update_connector(&stale, b.updated_at).await.unwrap());
    assert_eq!(
        store.connector("conn-app-1", "conn-b").await.unwrap(),
        Some(renamed.clone())
    );
    let mut foreign = renamed.clone();
    foreign.application_id = "conn-app-2".into();
    assert!(
        !store
            .update_connector(&foreign, renamed.updated_at)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_connector("conn-app-2", "conn-b")
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_connector("conn-app-1", "conn-b")
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_connector("conn-app-1", "conn-b")
            .await
            .unwrap()
    );
    assert_eq!(store.connector("conn-app-1", "conn-b").await.unwrap(), None);
}

/// [`ServiceStore::token_and_connector`] answers the token (expired or not, with its scope) and
/// the connector only when the token's own application has it: not another application's, not a
/// deleted one; nothing for an unknown token or one dropped with a rotated secret.
pub async fn a_token_is_read_with_its_own_application_s_connector_only(store: &DynStore) {
    with_application(store, "tc-app-1").await;
    with_application(store, "tc-app-2").await;
    let mut own = connector("tc-own", "tc-app-1", "alice");
    own.auth_kind = AuthKind::Token;
    own.oauth_app = None;
    own.read_only = true;
    let foreign = connector("tc-foreign", "tc-app-2", "alice");
    for record in [&own, &foreign] {
        store.insert_connector(record.clone()).await.unwrap();
    }
    let live = TokenRecord {
        token_hash: "tc-live".into(),
        application_id: "tc-app-1".into(),
        customer: Some("alice".into()),
        expires_at: now() + Duration::from_secs(600),
    };
    let expired = TokenRecord {
        token_hash: "tc-expired".into(),
        customer: None,
        expires_at: now() - Duration::from_secs(1),
        ..live.clone()
    };
    issued(store, live.clone()).await;
    issued(store, expired.clone()).await;
    let read = |hash: &'static str, id: &'static str| async move {
        let read = store.token_and_connector(hash, id).await.unwrap();
        read.map(|(token, connector)| (token, connector.map(|(connector, _status)| connector)))
    };
    assert_eq!(
        read("tc-live", "tc-own").await,
        Some((live.clone(), Some(own.clone())))
    );
    assert_eq!(
        read("tc-expired", "tc-own").await,
        Some((expired, Some(own)))
    );
    assert_eq!(
        read("tc-live", "tc-foreign").await,
        Some((live.clone(), None))
    );
    assert_eq!(read("tc-live", "tc-none").await, Some((live.clone(), None)));
    assert_eq!(read("tc-none", "tc-own").await, None);
    assert!(store.delete_connector("tc-app-1", "tc-own").await.unwrap());
    assert_eq!(read("tc-live", "tc-own").await, Some((live, None)));
    assert!(
        store
            .replace_client_secret("tc-app-1", "new")
            .await
            .unwrap()
    );
    assert_eq!(read("tc-live", "tc-foreign").await, None);
}

/// `n` concurrent [`ServiceStore::token_and_connector`] reads of every kind (a token with its
/// own connector, with another application's, with none; an unknown token) each answer what the
/// same read answers alone.
pub async fn concurrent_reads_of_tokens_and_connectors_each_get_their_own_answer(
    store: &DynStore,
    n: usize,
) {
    for app in ["cr-app-1", "cr-app-2"] {
        with_application(store, app).await;
        issued(
            store,
            TokenRecord {
                token_hash: format!("{app}-token"),
                application_id: app.into(),
                customer: None,
                expires_at: now() + Duration::from_secs(600),
            },
        )
        .await;
        for k in 0..3 {
            let id = format!("{app}-conn-{k}");
            store
                .insert_connector(connector(&id, app, &format!("customer-{k}")))
                .await
                .unwrap();
        }
    }
    let reads: Vec<(String, String)> = (0..n)
        .map(|k| {
            let token = ["cr-app-1-token", "cr-app-2-token", "cr-unknown"][k % 3];
            let connector = format!("cr-app-{}-conn-{}", 1 + k / 3 % 2, k % 4);
            (token.to_string(), connector)
        })
        .collect();
    let mut alone = Vec::new();
    for (token, connector) in &reads {
        alone.push(store.token_and_connector(token, connector).await.unwrap());
    }
    let tasks: Vec<_> = reads
        .iter()
        .cloned()
        .map(|(token, connector)| {
            let store = store.clone();
            tokio::spawn(async move { store.token_and_connector(&token, &connector).await })
        })
        .collect();
    let mut together = Vec::new();
    for task in tasks {
        together.push(task.await.unwrap());
    }
    let mut kinds = std::collections::BTreeSet::new();
    for ((read, alone), together) in reads.iter().zip(alone).zip(together) {
        kinds.insert(match &alone {
            None => "unknown token",
            Some((_, None)) => "no such connector of its application",
            Some((_, Some(_))) => "its own connector",
        });
        assert_eq!(together.unwrap(), alone, "{read:?}");
    }
    assert_eq!(kinds.len(), 3, "{kinds:?}");
}

/// `n` concurrent [`ServiceStore::set_token_expiry`] calls on `n` connectors, half of them due
/// in a minute and half in an hour, and one on a connector that does not exist: each connector
/// is claimed once, when its own expiry is within the horizon.
pub async fn concurrent_expiries_are_each_recorded(store: &DynStore, n: usize) {
    with_application(store, "ce-app").await;
    let at = now();
    for k in 0..n {
        store
            .insert_connector(connector(&format!("ce-{k:03}"), "ce-app", "c"))
            .await
            .unwrap();
    }
    let calls: Vec<_> = (0..=n)
        .map(|k| {
            let store = store.clone();
            // Even connectors are due in a minute, odd ones in an hour; `ce-{n}` does not exist.
            let expires = at + Duration::from_secs(if k % 2 == 0 { 60 } else { 3_600 });
            tokio::spawn(async move {
                store
                    .set_token_expiry(&format!("ce-{k:03}"), Some(expires))
                    .await
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    // Within five minutes, the even ones; within two hours, the odd ones (the even ones are
    // claimed already): every expiry was recorded, each with its own value.
    for (horizon, first) in [(300, 0), (7_200, 1)] {
        let mut claimed: Vec<String> = store
            .claim_expiring(
                at + Duration::from_secs(horizon),
                Duration::from_secs(600),
                1_000,
            )
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .filter(|id| id.starts_with("ce-"))
            .collect();
        claimed.sort();
        let due: Vec<String> = (first..n)
            .step_by(2)
            .map(|k| format!("ce-{k:03}"))
            .collect();
        assert_eq!(claimed, due, "due within {horizon} s");
    }
}

/// An application's OAuth app is set, replaced, read and deleted, per provider.
pub async fn oauth_apps_are_set_replaced_and_deleted(store: &DynStore) {
    with_application(store, "apps-oauth").await;
    // Setting or deleting the app marks the connectors that refresh with it as changed, and no
    // other: one with its own client, one with the service's, one of another type.
    let user = connector("apps-oauth-user", "apps-oauth", "c");
    let own = ConnectorRecord {
        id: "apps-oauth-own".into(),
        oauth_app: Some(OAuthAppSource::Own),
        ..user.clone()
    };
    let service = ConnectorRecord {
        id: "apps-oauth-service".into(),
        oauth_app: Some(OAuthAppSource::Service),
        ..user.clone()
    };
    let other_type = ConnectorRecord {
        id: "apps-oauth-github".into(),
        connector_type: "github".into(),
        ..user.clone()
    };
    for connector in [&user, &own, &service, &other_type] {
        store.insert_connector(connector.clone()).await.unwrap();
    }
    let updated_at = |id: &'static str| async move {
        store
            .connector("apps-oauth", id)
            .await
            .unwrap()
            .unwrap()
            .updated_at
    };
    let unchanged = || async {
        for id in ["apps-oauth-own", "apps-oauth-service", "apps-oauth-github"] {
            assert_eq!(updated_at(id).await, ms(3_000), "{id}");
        }
    };
    let mut app = OAuthAppRecord {
        application_id: "apps-oauth".into(),
        connector_type: "asana".into(),
        client_id: "id-1".into(),
        client_secret: Sealed(b"sealed-1".to_vec()),
        updated_at: ms(2_000),
    };
    store.put_oauth_app(app.clone()).await.unwrap();
    let first = updated_at("apps-oauth-user").await;
    assert!(first > ms(3_000), "{first:?}");
    unchanged().await;
    app.client_id = "id-2".into();
    app.client_secret = Sealed(b"sealed-2".to_vec());
    app.updated_at = ms(2_500);
    store.put_oauth_app(app.clone()).await.unwrap();
    let second = updated_at("apps-oauth-user").await;
    assert!(second > first, "{second:?} after {first:?}");
    assert_eq!(
        store.oauth_app("apps-oauth", "asana").await.unwrap(),
        Some(app)
    );
    assert_eq!(store.oauth_app("apps-oauth", "other").await.unwrap(), None);
    assert!(store.delete_oauth_app("apps-oauth", "asana").await.unwrap());
    let third = updated_at("apps-oauth-user").await;
    assert!(third > second, "{third:?} after {second:?}");
    unchanged().await;
    assert!(!store.delete_oauth_app("apps-oauth", "asana").await.unwrap());
    assert_eq!(store.oauth_app("apps-oauth", "asana").await.unwrap(), None);
}

/// The sealed values are the OAuth apps' client secrets and the live states' PKCE verifiers; a
/// value is re-sealed only while it still holds what was read, and nothing else changes: the
/// OAuth app keeps its `updated_at`, its connectors are not marked as changed.
pub async fn sealed_values_are_listed_and_resealed_only_while_unchanged(store: &DynStore) {
    with_application(store, "sealed").await;
    store
        .insert_connector(connector("sealed-user", "sealed", "c"))
        .await
        .unwrap();
    let app = OAuthAppRecord {
        application_id: "sealed".into(),
        connector_type: "asana".into(),
        client_id: "id".into(),
        client_secret: Sealed(b"app-old".to_vec()),
        updated_at: ms(2_000),
    };
    store.put_oauth_app(app.clone()).await.unwrap();
    let marked = store
        .connector("sealed", "sealed-user")
        .await
        .unwrap()
        .unwrap()
        .updated_at;
    let at = now();
    let live = state("sealed-live", "sealed", at + Duration::from_secs(600));
    store.put_oauth_state(live.clone()).await.unwrap();
    store
        .put_oauth_state(state(
            "sealed-expired",
            "sealed",
            at - Duration::from_secs(1),
        ))
        .await
        .unwrap();
    let app_at = SealedAt::OAuthApp {
        application_id: "sealed".into(),
        connector_type: "asana".into(),
    };
    let state_at = SealedAt::OAuthState {
        state_hash: "sealed-live".into(),
    };
    let ours = store
        .sealed_values(at)
        .await
        .unwrap()
        .into_iter()
        .filter(|value| match &value.at {
            SealedAt::OAuthApp { application_id, .. } => application_id == "sealed",
            SealedAt::OAuthState { state_hash } => state_hash.starts_with("sealed-"),
        })
        .collect::<Vec<_>>();
    assert_eq!(
        ours,
        [
            SealedValue {
                at: app_at.clone(),
                sealed: Sealed(b"app-old".to_vec()),
            },
            SealedValue {
                at: state_at.clone(),
                sealed: Sealed(b"sealed".to_vec()),
            },
        ]
    );

    // Changed since it was read: left alone.
    assert!(
        !store
            .reseal(
                &app_at,
                &Sealed(b"app-older".to_vec()),
                Sealed(b"x".to_vec())
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.oauth_app("sealed", "asana").await.unwrap(),
        Some(app.clone())
    );
    assert!(
        store
            .reseal(
                &app_at,
                &Sealed(b"app-old".to_vec()),
                Sealed(b"app-new".to_vec())
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.oauth_app("sealed", "asana").await.unwrap(),
        Some(OAuthAppRecord {
            client_secret: Sealed(b"app-new".to_vec()),
            ..app
        })
    );
    assert_eq!(
        store
            .connector("sealed", "sealed-user")
            .await
            .unwrap()
            .unwrap()
            .updated_at,
        marked
    );

    assert!(
        store
            .reseal(
                &state_at,
                &Sealed(b"sealed".to_vec()),
                Sealed(b"verifier-new".to_vec())
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.take_oauth_state("sealed-live", at).await.unwrap(),
        Some(OAuthStateRecord {
            pkce_verifier: Sealed(b"verifier-new".to_vec()),
            ..live
        })
    );
    // Taken (or deleted) meanwhile: nothing to write.
    assert!(
        !store
            .reseal(
                &state_at,
                &Sealed(b"verifier-new".to_vec()),
                Sealed(b"y".to_vec())
            )
            .await
            .unwrap()
    );
    let unknown = SealedAt::OAuthApp {
        application_id: "sealed".into(),
        connector_type: "github".into(),
    };
    assert!(
        !store
            .reseal(
                &unknown,
                &Sealed(b"app-new".to_vec()),
                Sealed(b"z".to_vec())
            )
            .await
            .unwrap()
    );
}

/// A state is taken once; an expired one is not handed out, and storing a state forgets the
/// expired ones.
pub async fn an_oauth_state_is_taken_once_and_not_after_it_expired(store: &DynStore) {
    with_application(store, "states").await;
    let at = now();
    let live = state("states-live", "states", at + Duration::from_secs(600));
    store.put_oauth_state(live.clone()).await.unwrap();
    store
        .put_oauth_state(state(
            "states-expired",
            "states",
            at - Duration::from_secs(1),
        ))
        .await
        .unwrap();
    assert_eq!(
        store.take_oauth_state("states-live", at).await.unwrap(),
        Some(live)
    );
    assert_eq!(
        store.take_oauth_state("states-live", at).await.unwrap(),
        None
    );
    assert_eq!(
        store.take_oauth_state("states-unknown", at).await.unwrap(),
        None
    );
    // Storing another state pruned the expired one: even asked as of long ago, it is gone.
    store
        .put_oauth_state(state(
            "states-other",
            "states",
            at + Duration::from_secs(600),
        ))
        .await
        .unwrap();
    assert_eq!(
        store
            .take_oauth_state("states-expired", UNIX_EPOCH)
            .await
            .unwrap(),
        None
    );
    // An expired state is deleted when taken.
    store
        .put_oauth_state(state("states-late", "states", at + Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(
        store
            .take_oauth_state("states-late", at + Duration::from_secs(2))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.take_oauth_state("states-late", at).await.unwrap(),
        None
    );
}

/// Of `n` concurrent takes of one state, exactly one gets it.
pub async fn concurrent_takes_of_one_state_have_one_winner(store: &DynStore, n: usize) {
    with_application(store, "race").await;
    let at = now();
    store
        .put_oauth_state(state("race-state", "race", at + Duration::from_secs(600)))
        .await
        .unwrap();
    let takes = (0..n).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.take_oauth_state("race-state", at).await.unwrap() })
    });
    let mut winners = 0;
    for take in takes.collect::<Vec<_>>() {
        if take.await.unwrap().is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

/// The secret id of connector `connector_id` (of customer `c`, provider `asana`) with this hash.
pub fn oauth_secret(
    hash: &str,
    connector_id: &str,
    application_id: &str,
    expires_at: SystemTime,
) -> OAuthSecretRecord {
    OAuthSecretRecord {
        secret_hash: hash.into(),
        connector_id: connector_id.into(),
        application_id: application_id.into(),
        customer_name: "c".into(),
        connector_type: "asana".into(),
        expires_at,
    }
}

/// A claim of `secret`, as its own application, customer and provider would make it.
pub fn claim_of(secret: &OAuthSecretRecord) -> OAuthSecretClaim {
    OAuthSecretClaim {
        secret_hash: secret.secret_hash.clone(),
        application_id: secret.application_id.clone(),
        customer_name: secret.customer_name.clone(),
        connector_type: secret.connector_type.clone(),
    }
}

/// An application with a connector `{id}-conn` of customer `c`.
async fn with_connector(store: &DynStore, id: &str) -> String {
    with_application(store, id).await;
    let connector_id = format!("{id}-conn");
    store
        .insert_connector(connector(&connector_id, id, "c"))
        .await
        .unwrap();
    connector_id
}

/// A secret id is claimed once, and only with its application, customer, provider and hash;
/// a claim that does not match leaves it in place.
pub async fn a_consent_secret_id_is_claimed_once_by_its_own_application_customer_and_type(
    store: &DynStore,
) {
    let conn = with_connector(store, "secretids").await;
    with_application(store, "secretids-other").await;
    let at = now();
    let secret = oauth_secret(
        "secretids-h",
        &conn,
        "secretids",
        at + Duration::from_secs(900),
    );
    store.put_oauth_secret(secret.clone()).await.unwrap();
    let mut mismatches = Vec::new();
    for change in [
        |c: &mut OAuthSecretClaim| c.application_id = "secretids-other".into(),
        |c: &mut OAuthSecretClaim| c.customer_name = "d".into(),
        |c: &mut OAuthSecretClaim| c.connector_type = "github".into(),
        |c: &mut OAuthSecretClaim| c.secret_hash = "secretids-unknown".into(),
    ] {
        let mut claim = claim_of(&secret);
        change(&mut claim);
        mismatches.push(claim);
    }
    for claim in &mismatches {
        assert_eq!(
            store.claim_oauth_secret(claim, at).await.unwrap(),
            None,
            "{claim:?}"
        );
    }
    assert_eq!(
        store
            .claim_oauth_secret(&claim_of(&secret), at)
            .await
            .unwrap(),
        Some(secret.clone()),
        "the mismatched claims left it in place"
    );
    assert_eq!(
        store
            .claim_oauth_secret(&claim_of(&secret), at)
            .await
            .unwrap(),
        None,
        "claimed once"
    );
}

/// An expired secret id is not claimed, and storing an OAuth state sweeps it.
pub async fn expired_consent_secret_ids_are_not_claimed_and_are_swept(store: &DynStore) {
    let conn = with_connector(store, "secretids-late").await;
    let at = now();
    let secret = oauth_secret(
        "secretids-late-h",
        &conn,
        "secretids-late",
        at + Duration::from_secs(1),
    );
    store.put_oauth_secret(secret.clone()).await.unwrap();
    assert_eq!(
        store
            .claim_oauth_secret(&claim_of(&secret), at + Duration::from_secs(1))
            .await
            .unwrap(),
        None
    );
    let expired = oauth_secret(
        "secretids-late-x",
        &conn,
        "secretids-late",
        at - Duration::from_secs(1),
    );
    store.put_oauth_secret(expired.clone()).await.unwrap();
    store
        .put_oauth_state(state(
            "secretids-late-state",
            "secretids-late",
            at + Duration::from_secs(600),
        ))
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_oauth_secret(&claim_of(&expired), UNIX_EPOCH)
            .await
            .unwrap(),
        None,
        "swept: gone even when asked as of long ago"
    );
    assert_eq!(
        store
            .claim_oauth_secret(&claim_of(&secret), at)
            .await
            .unwrap(),
        Some(secret),
        "a secret id that has not expired stays"
    );
}

/// Deleting a connector, or its application, deletes its secret id.
pub async fn a_consent_secret_id_goes_with_its_connector(store: &DynStore) {
    let conn = with_connector(store, "secretids-gone").await;
    let at = now();
    let first = oauth_secret(
        "secretids-gone-1",
        &conn,
        "secretids-gone",
        at + Duration::from_secs(900),
    );
    store.put_oauth_secret(first.clone()).await.unwrap();
    assert!(
        store
            .delete_connector("secretids-gone", &conn)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .claim_oauth_secret(&claim_of(&first), at)
            .await
            .unwrap(),
        None
    );
    store
        .insert_connector(connector(&conn, "secretids-gone", "c"))
        .await
        .unwrap();
    let second = oauth_secret(
        "secretids-gone-2",
        &conn,
        "secretids-gone",
        at + Duration::from_secs(900),
    );
    store.put_oauth_secret(second.clone()).await.unwrap();
    assert!(
        store
            .delete_application("secretids-gone")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .claim_oauth_secret(&claim_of(&second), at)
            .await
            .unwrap(),
        None
    );
}

/// Of `n` concurrent claims of one secret id, exactly one gets it.
pub async fn concurrent_claims_of_one_secret_id_have_one_winner(store: &DynStore, n: usize) {
    let conn = with_connector(store, "secretids-race").await;
    let at = now();
    let secret = oauth_secret(
        "secretids-race-h",
        &conn,
        "secretids-race",
        at + Duration::from_secs(900),
    );
    store.put_oauth_secret(secret.clone()).await.unwrap();
    let claims = (0..n).map(|_| {
        let (store, claim) = (store.clone(), claim_of(&secret));
        tokio::spawn(async move { store.claim_oauth_secret(&claim, at).await.unwrap() })
    });
    let mut winners = 0;
    for claim in claims.collect::<Vec<_>>() {
        if claim.await.unwrap().is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

/// Deleting an application deletes its tokens, connectors, OAuth apps and states, answers its
/// connectors' ids, and keeps its audit entries.
pub async fn deleting_an_application_cascades_and_keeps_its_audit(store: &DynStore) {
    with_application(store, "cascade").await;
    store
        .put_oauth_app(OAuthAppRecord {
            application_id: "cascade".into(),
            connector_type: "asana".into(),
            client_id: "id".into(),
            client_secret: Sealed(b"sealed".to_vec()),
            updated_at: ms(2_000),
        })
        .await
        .unwrap();
    for id in ["cascade-c2", "cascade-c1"] {
        store
            .insert_connector(connector(id, "cascade", "c"))
            .await
            .unwrap();
    }
    store
        .set_token_expiry("cascade-c1", Some(ms(1)))
        .await
        .unwrap();
    issued(
        store,
        TokenRecord {
            token_hash: "cascade-token".into(),
            application_id: "cascade".into(),
            customer: None,
            expires_at: now() + Duration::from_secs(600),
        },
    )
    .await;
    store
        .put_oauth_state(state(
            "cascade-state",
            "cascade",
            now() + Duration::from_secs(600),
        ))
        .await
        .unwrap();
    store
        .append_audit(audit_entry("cascade-audit", "cascade", None))
        .await
        .unwrap();
    assert_eq!(
        store.delete_application("cascade").await.unwrap(),
        Some(vec!["cascade-c1".to_string(), "cascade-c2".to_string()])
    );
    assert_eq!(
        store.connector("cascade", "cascade-c1").await.unwrap(),
        None
    );
    assert_eq!(store.oauth_app("cascade", "asana").await.unwrap(), None);
    assert_eq!(store.token("cascade-token").await.unwrap(), None);
    assert_eq!(
        store
            .take_oauth_state("cascade-state", now())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.list_audit("cascade", None, 10).await.unwrap().len(),
        1
    );
    assert_eq!(store.delete_application("cascade").await.unwrap(), None);
}

/// An audit entry of `application_id` (about `customer`).
pub fn audit_entry(id: &str, application_id: &str, customer: Option<&str>) -> AuditEntry {
    AuditEntry {
        id: id.into(),
        at: ms(7_000),
        application_id: application_id.into(),
        customer_name: customer.map(str::to_string),
        connector_id: Some("connector".into()),
        operation: "execute".into(),
        entity: Some("tasks".into()),
        action: Some("list".into()),
        param_names: vec!["project_gid".into(), "limit".into()],
        outcome: "ok".into(),
        status: 200,
        duration_ms: 12,
    }
}

/// The audit log answers an application's newest entries first, of one customer when asked,
/// at most `limit`.
pub async fn audit_lists_newest_first(store: &DynStore) {
    let entries = [
        audit_entry("audit-1", "audit-app", Some("alice")),
        audit_entry("audit-2", "audit-app", Some("bob")),
        audit_entry("audit-3", "audit-app", Some("alice")),
        audit_entry("audit-4", "audit-other", Some("alice")),
    ];
    for entry in &entries {
        store.append_audit(entry.clone()).await.unwrap();
    }
    let ids =
        |entries: Vec<AuditEntry>| -> Vec<String> { entries.into_iter().map(|e| e.id).collect() };
    let newest = store.list_audit("audit-app", None, 10).await.unwrap();
    assert_eq!(newest[0], entries[2]);
    assert_eq!(ids(newest), ["audit-3", "audit-2", "audit-1"]);
    assert_eq!(
        ids(store
            .list_audit("audit-app", Some("alice"), 10)
            .await
            .unwrap()),
        ["audit-3", "audit-1"]
    );
    assert_eq!(
        ids(store.list_audit("audit-app", None, 1).await.unwrap()),
        ["audit-3"]
    );
}

/// Entries written before a time are deleted, of every application, the oldest first and at
/// most a batch at a time; newer ones stay. Runs last: it deletes the other checks' entries (all
/// written at 7 s after the epoch or earlier).
pub async fn old_audit_entries_are_deleted_oldest_first_a_batch_at_a_time(store: &DynStore) {
    for (id, at) in [("prune-a", 8_000), ("prune-b", 9_000), ("prune-c", 10_000)] {
        let entry = AuditEntry {
            at: ms(at),
            ..audit_entry(id, "prune-app", None)
        };
        store.append_audit(entry).await.unwrap();
    }
    let ids =
        |entries: Vec<AuditEntry>| -> Vec<String> { entries.into_iter().map(|e| e.id).collect() };
    assert!(store.delete_audit_before(ms(9_500), 100_000).await.unwrap() >= 2);
    assert_eq!(
        ids(store.list_audit("prune-app", None, 10).await.unwrap()),
        ["prune-c"]
    );
    assert!(
        store
            .list_audit("audit-app", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.delete_audit_before(ms(9_500), 10).await.unwrap(), 0);
    let later = AuditEntry {
        at: ms(11_000),
        ..audit_entry("prune-d", "prune-app", None)
    };
    store.append_audit(later).await.unwrap();
    assert_eq!(store.delete_audit_before(ms(20_000), 1).await.unwrap(), 1);
    assert_eq!(
        ids(store.list_audit("prune-app", None, 10).await.unwrap()),
        ["prune-d"]
    );
}

/// Concurrent appends (written together) are all committed before they answer, each entry as
/// it was given (param names with quotes, backslashes, braces and none at all); an entry that
/// cannot be written (its id is taken) fails alone.
pub async fn concurrent_audit_appends_are_all_committed_and_a_bad_one_fails_alone(
    store: &DynStore,
) {
    let append_all = |entries: Vec<AuditEntry>| async move {
        let appends: Vec<_> = entries
            .into_iter()
            .map(|entry| {
                let store = store.clone();
                tokio::spawn(async move { store.append_audit(entry).await })
            })
            .collect();
        let mut results = Vec::new();
        for append in appends {
            results.push(append.await.unwrap());
        }
        results
    };
    let entries: Vec<AuditEntry> = (0..50)
        .map(|n| {
            let mut entry = audit_entry(&format!("group-{n:02}"), "group", Some("alice"));
            entry.at = ms(8_000 + n);
            entry.param_names = match n % 3 {
                0 => Vec::new(),
                1 => vec!["a\"b".into(), "c\\d".into(), "{e,f}".into(), "é".into()],
                _ => vec!["NULL".into(), String::new()],
            };
            entry.entity = (n % 2 == 0).then(|| "tasks".into());
            entry
        })
        .collect();
    let (first, second) = entries.split_at(40);
    let results = append_all(first.to_vec()).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let mut taken = second.to_vec();
    taken.push(first[0].clone());
    let results = append_all(taken).await;
    let (duplicate, rest) = results.split_last().unwrap();
    assert!(rest.iter().all(Result::is_ok), "{rest:?}");
    assert!(
        matches!(duplicate, Err(ServiceStoreError::Backend { .. })),
        "{duplicate:?}"
    );
    let mut listed = store.list_audit("group", Some("alice"), 100).await.unwrap();
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, entries);
}

/// Connectors whose token expires before the horizon are claimed, soonest first, once while the
/// claim lasts; recording a new expiry releases the claim; a claim lapses; an unknown expiry is
/// never claimed.
pub async fn expiring_tokens_are_claimed_once_until_released_or_lapsed(store: &DynStore) {
    with_application(store, "claims").await;
    let at = now();
    for (id, expires) in [
        ("claims-late", Some(at + Duration::from_secs(3_600))),
        ("claims-soon", Some(at + Duration::from_secs(60))),
        ("claims-sooner", Some(at + Duration::from_secs(30))),
        ("claims-unknown", None),
    ] {
        store
            .insert_connector(connector(id, "claims", "c"))
            .await
            .unwrap();
        store.set_token_expiry(id, expires).await.unwrap();
    }
    // A connector that does not exist records nothing.
    store
        .set_token_expiry("claims-missing", Some(at))
        .await
        .unwrap();
    let horizon = at + Duration::from_secs(300);
    let claim = Duration::from_secs(600);
    let ids = |records: Vec<ConnectorRecord>| -> Vec<String> {
        records
            .into_iter()
            .filter(|r| r.id.starts_with("claims-"))
            .map(|r| r.id)
            .collect()
    };
    let claimed = store.claim_expiring(horizon, claim, 100).await.unwrap();
    assert_eq!(
        claimed.iter().find(|r| r.id == "claims-soon"),
        Some(&connector("claims-soon", "claims", "c"))
    );
    assert_eq!(ids(claimed), ["claims-sooner", "claims-soon"]);
    assert_eq!(
        ids(store.claim_expiring(horizon, claim, 100).await.unwrap()),
        Vec::<String>::new()
    );
    // Released by the refresher's new expiry; still due, so claimable again.
    store
        .set_token_expiry("claims-soon", Some(at + Duration::from_secs(90)))
        .await
        .unwrap();
    assert_eq!(
        ids(store.claim_expiring(horizon, claim, 100).await.unwrap()),
        ["claims-soon"]
    );
    // A short claim lapses.
    store
        .set_token_expiry("claims-sooner", Some(at + Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(
        ids(store
            .claim_expiring(horizon, Duration::from_millis(200), 100)
            .await
            .unwrap()),
        ["claims-sooner"]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        ids(store.claim_expiring(horizon, claim, 100).await.unwrap()),
        ["claims-sooner"]
    );
    // Forgotten, and gone with its connector.
    store.set_token_expiry("claims-late", None).await.unwrap();
    assert_eq!(
        ids(store
            .claim_expiring(at + Duration::from_secs(7_200), claim, 100)
            .await
            .unwrap()),
        Vec::<String>::new()
    );
    store
        .set_token_expiry("claims-soon", Some(at))
        .await
        .unwrap();
    assert!(
        store
            .delete_connector("claims", "claims-soon")
            .await
            .unwrap()
    );
    assert_eq!(
        ids(store.claim_expiring(horizon, claim, 100).await.unwrap()),
        Vec::<String>::new()
    );
}

/// `n` concurrent claimers of 10-connector batches over 60 due connectors get every one of them
/// exactly once.
pub async fn concurrent_claims_never_overlap(store: &DynStore, n: usize) {
    with_application(store, "overlap").await;
    let at = now();
    let mut expected = Vec::new();
    for i in 0..60 {
        let id = format!("overlap-{i:02}");
        store
            .insert_connector(connector(&id, "overlap", "c"))
            .await
            .unwrap();
        store
            .set_token_expiry(&id, Some(at - Duration::from_secs(1)))
            .await
            .unwrap();
        expected.push(id);
    }
    let claimers = (0..n).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store
                    .claim_expiring(at, Duration::from_secs(600), 10)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(
                    batch
                        .into_iter()
                        .filter(|r| r.id.starts_with("overlap-"))
                        .map(|r| r.id),
                );
            }
        })
    });
    let mut claimed = Vec::new();
    for claimer in claimers.collect::<Vec<_>>() {
        claimed.extend(claimer.await.unwrap());
    }
    claimed.sort();
    assert_eq!(claimed, expected);
}
