//! The schema and its versioned migrations, embedded in the binary.
//!
//! `integrations_schema` holds one row per component sharing the database (this store is
//! `credentials`; the service may add its own), with the version its tables are at. Opening a
//! store takes a transaction-scoped advisory lock, so that instances starting together migrate
//! one after the other: the first applies what is missing, the others find it done. A database
//! at a newer version than this build knows is refused with [`StoreError::UnsupportedVersion`].

use auth_core::StoreError;
use tokio_postgres::Client;

use crate::error::{STORE, pg_error};

/// The schema version this build writes and the newest it reads.
pub const SCHEMA_VERSION: u32 = 2;

/// This store's row in `integrations_schema`.
const COMPONENT: &str = "credentials";

/// The advisory lock key that serializes migrations ("INTG" in ASCII).
const MIGRATION_LOCK: i64 = 0x494e_5447;

/// The channel on which every write to a credential announces itself.
pub(crate) const CHANNEL: &str = "integrations_credentials";

/// `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    r#"
    CREATE TABLE integrations_credentials (
        provider         text        COLLATE "C" NOT NULL,
        subject          text        COLLATE "C" NOT NULL,
        version          bigint      NOT NULL CHECK (version > 0),
        status           text        NOT NULL,
        lease_holder     text,
        -- Milliseconds since the epoch on the database's clock (see the crate docs).
        lease_expires_ms bigint,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now(),
        payload          bytea       NOT NULL,
        PRIMARY KEY (provider, subject),
        CHECK ((lease_holder IS NULL) = (lease_expires_ms IS NULL))
    );

    -- Every write wakes the instances waiting on that record: the payload is a hash of provider
    -- and subject (neither can hold a NUL, so the separator is unambiguous), never a secret.
    CREATE FUNCTION integrations_credentials_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        changed integrations_credentials;
    BEGIN
        IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
        PERFORM pg_notify('integrations_credentials', encode(sha256(
            convert_to(changed.provider, 'UTF8') || '\x00'::bytea || convert_to(changed.subject, 'UTF8')
        ), 'hex'));
        RETURN NULL;
    END
    $$;

    CREATE TRIGGER integrations_credentials_notify
        AFTER INSERT OR UPDATE OR DELETE ON integrations_credentials
        FOR EACH ROW EXECUTE FUNCTION integrations_credentials_notify();
"#,
    r#"
    -- A write that only hands the refresh lease to a new holder wakes nobody: waiters wait for
    -- a lease to clear (the holder's write or release) or to lapse (on their own clock), and
    -- the instances that lost the claim to that write would only read the record again.
    CREATE OR REPLACE FUNCTION integrations_credentials_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        changed integrations_credentials;
    BEGIN
        IF TG_OP = 'UPDATE' AND NEW.lease_holder IS NOT NULL
            AND NEW.lease_holder IS DISTINCT FROM OLD.lease_holder
            AND NEW.status = OLD.status THEN
            RETURN NULL;
        END IF;
        IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
        PERFORM pg_notify('integrations_credentials', encode(sha256(
            convert_to(changed.provider, 'UTF8') || '\x00'::bytea || convert_to(changed.subject, 'UTF8')
        ), 'hex'));
        RETURN NULL;
    END
    $$;
"#,
];

/// Brings the credential schema to [`SCHEMA_VERSION`] in one transaction (nothing is
/// half-applied).
/// How many statements a migration of `migrations` runs at most: the transaction, the lock, the
/// schema table's check and creation, the version read and write, the commit, and one each.
pub(crate) fn statements(migrations: &[&str]) -> usize {
    migrations.len() + 7
}

/// How many statements [`migrate`] runs at most.
pub(crate) const OWN_STATEMENTS: usize = SCHEMA_VERSION as usize + 7;

pub(crate) async fn migrate(client: &mut Client, location: &str) -> Result<(), StoreError> {
    migrate_component(client, location, COMPONENT, &MIGRATIONS).await
}

/// Brings `component`'s tables to version `migrations.len()` in one transaction, under the
/// advisory lock every component's migration takes: `migrations[i]` takes them from version `i`
/// to `i + 1`.
pub(crate) async fn migrate_component(
    client: &mut Client,
    location: &str,
    component: &str,
    migrations: &[&str],
) -> Result<(), StoreError> {
    let latest = u32::try_from(migrations.len()).unwrap_or(u32::MAX);
    let err = |e: tokio_postgres::Error| pg_error(location, "migrating the schema", &e);
    let tx = client.transaction().await.map_err(err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(err)?;
    // Created only when missing: `CREATE TABLE IF NOT EXISTS` needs the CREATE privilege on the
    // schema even when the table exists, and a role that may only read and write the tables
    // (PostgreSQL 15 no longer lets every role create in `public`) must open a current schema.
    let missing: bool = tx
        .query_one("SELECT to_regclass('integrations_schema') IS NULL", &[])
        .await
        .map_err(err)?
        .get(0);
    if missing {
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS integrations_schema (
                 component text    PRIMARY KEY,
                 version   integer NOT NULL
             )",
        )
        .await
        .map_err(err)?;
    }
    let found: i32 = tx
        .query_opt(
            "SELECT version FROM integrations_schema WHERE component = $1",
            &[&component],
        )
        .await
        .map_err(err)?
        .map_or(0, |row| row.get(0));
    let found = u32::try_from(found).map_err(|_| StoreError::Corrupt {
        store: STORE,
        location: location.to_string(),
        reason: format!("integrations_schema holds a negative version {found} for {component}"),
    })?;
    if found > latest {
        return Err(StoreError::UnsupportedVersion {
            store: STORE,
            location: location.to_string(),
            found: found.into(),
            supported: latest.into(),
        });
    }
    if found == latest {
        return Ok(());
    }
    for migration in &migrations[found as usize..] {
        tx.batch_execute(migration).await.map_err(err)?;
    }
    let version = i32::try_from(latest).unwrap_or(i32::MAX);
    tx.execute(
        "INSERT INTO integrations_schema (component, version) VALUES ($1, $2)
         ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version",
        &[&component, &version],
    )
    .await
    .map_err(err)?;
    tx.commit().await.map_err(err)?;
    tracing::info!(
        location,
        component,
        from = found,
        to = latest,
        "migrated the schema"
    );
    Ok(())
}
