//! Swapping the credential store is one line: the same code runs over memory, SQLite and a JSON
//! file, each encrypted at rest by the same layer (`EncryptedStore`, over any store), and then
//! rotates to a new key.
//!
//! The file store is behind the facade's `file` feature, which is not on by default:
//!
//! ```sh
//! cargo run --example stores --features file
//! ```

use integrations::{
    AuthManager, CredentialStore, EncryptedStore, EncryptionKey, EnvSource, FileCredentialStore,
    KeyRing, MemoryCredentialStore, OAuth2Token, SqliteCredentialStore,
};

/// Everything an application does with stored credentials, whatever the store.
async fn connect_users(
    store: impl CredentialStore + 'static,
) -> Result<(), Box<dyn std::error::Error>> {
    let described = store.describe();
    let auth = AuthManager::builder()
        .env(EnvSource::empty())
        .store(store)
        .configure(
            "asana",
            [
                ("client_id", "client-id"),
                ("client_secret", "client-secret"),
            ],
        )
        .build()?;
    for user in ["alice", "bob"] {
        let mut token = OAuth2Token::bearer(format!("{user}-access-token"));
        token.refresh_token = Some(format!("{user}-refresh-token").into());
        auth.store_credentials("asana", user, &token).await?;
    }
    let session = auth.session("alice").await?;
    let token = session.token("asana").await?;
    let stored: Vec<String> = auth
        .list_credentials(None)
        .await?
        .into_iter()
        .map(|c| c.subject)
        .collect();
    println!(
        "{described:<40} users {stored:?}; alice's token has {} characters",
        token.expose_secret().len()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let old_key = EncryptionKey::generate();
    let key = KeyRing::new(old_key.clone());

    connect_users(EncryptedStore::new(
        MemoryCredentialStore::new(),
        key.clone(),
    ))
    .await?;
    connect_users(
        SqliteCredentialStore::builder(dir.path().join("creds.db"))
            .key_ring(key.clone())
            .open()
            .await?,
    )
    .await?;
    connect_users(
        FileCredentialStore::builder(dir.path().join("creds.json"))
            .key_ring(key.clone())
            .open()
            .await?,
    )
    .await?;

    let raw = std::fs::read(dir.path().join("creds.json"))?;
    let leaked = raw
        .windows(b"alice-access-token".len())
        .any(|w| w == b"alice-access-token");
    println!(
        "the JSON file keeps provider and subject in clear for lookups; a token in clear: {leaked}"
    );

    let rotated = KeyRing::new(EncryptionKey::generate()).with_old_key(old_key);
    let store = FileCredentialStore::builder(dir.path().join("creds.json"))
        .key_ring(rotated)
        .open()
        .await?;
    println!(
        "rotate() re-encrypted {} records under the new primary key",
        store.rotate().await?
    );
    if leaked {
        return Err("a token was found in clear in an encrypted store".into());
    }
    Ok(())
}
