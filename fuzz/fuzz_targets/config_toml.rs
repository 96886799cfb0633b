//! A TOML configuration file, through the configuration layering (defaults < file < env < code) into
//! Asana's app credentials. Env values beat the file's.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use auth_core::config::{ConfigLoader, EnvSource};
use libfuzzer_sys::fuzz_target;
use provider_asana::{AsanaAppCredentials, FIELDS, PROVIDER_ID};

/// One file per fuzzing process, rewritten for every input.
fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!(
            "integrations-fuzz-config-{}.toml",
            std::process::id()
        ))
    })
}

fuzz_target!(|data: &[u8]| {
    std::fs::write(path(), data).expect("write the configuration file");
    let env = EnvSource::from_pairs([
        ("ASANA_CLIENT_ID", "env-id"),
        ("ASANA_TOKEN_URL", "http://127.0.0.1:9/token"),
    ]);
    for env in [EnvSource::empty(), env] {
        let with_env = env.get_os("ASANA_CLIENT_ID").is_some();
        match ConfigLoader::new()
            .with_env(env)
            .with_file(path())
            .load(PROVIDER_ID, FIELDS)
        {
            Ok(config) => {
                let app = AsanaAppCredentials::from_config(&config);
                let _ = app.is_configured();
                let _ = format!("{config:?} {app:?}");
                if with_env {
                    assert_eq!(app.client_id.as_deref(), Some("env-id"));
                    assert_eq!(app.token_url.as_str(), "http://127.0.0.1:9/token");
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
