//! Connector params (an agent's JSON) against the catalog's schemas, without network:
//! `AsanaConnector::validate`, then the request `execute` would send. A request that passes
//! validation stays on its endpoint: its path is percent-encoded, has no dot segment, and joined to
//! the API base keeps exactly that path.
//!
//! The first byte picks the entity and action from the catalog; the rest is the params JSON.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use provider_asana::connector::{AsanaConnector, request_for_fuzzing};
use url::Url;

fn operations() -> &'static [(&'static str, &'static str)] {
    static OPS: OnceLock<Vec<(&'static str, &'static str)>> = OnceLock::new();
    OPS.get_or_init(|| {
        AsanaConnector::catalog()
            .into_iter()
            .flat_map(|e| e.actions.into_iter().map(move |a| (e.entity, a.action)))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, json)) = data.split_first() else {
        return;
    };
    let Ok(params) = serde_json::from_slice::<serde_json::Value>(json) else {
        return;
    };
    let ops = operations();
    let (entity, action) = ops[usize::from(pick) % ops.len()];
    let validated = AsanaConnector::validate(entity, action, &params);
    if let Err(e) = &validated {
        assert!(!e.is_retryable());
        let _ = e.to_json();
    }
    let built = request_for_fuzzing(entity, action, params);
    assert_eq!(validated.is_ok(), built.is_ok());
    let Ok((path, _query, _body)) = built else {
        return;
    };
    assert!(path.starts_with('/'), "{path}");
    assert!(
        path.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/%-._*".contains(&b)),
        "{path}"
    );
    assert!(
        path.split('/')
            .skip(1)
            .all(|s| !s.is_empty() && s != "." && s != ".."),
        "{path}"
    );
    let url = Url::parse(&format!("https://app.asana.com/api/1.0{path}")).unwrap();
    assert_eq!(url.host_str(), Some("app.asana.com"));
    assert_eq!(url.path(), format!("/api/1.0{path}"));
});
