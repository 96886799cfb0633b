//! Where definitions come from: the built-in set, then the files named by the config file's
//! top-level `providers` list (paths relative to the config file) and by `INTEGRATIONS_PROVIDERS`
//! (paths separated like `PATH`). A later definition of an id replaces an earlier one, so a file
//! can adjust a built-in provider.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use auth_core::ConfigError;
use auth_core::config::{ConfigLoader, PROVIDERS_KEY, read_failure, toml_failure};
use auth_core::provider::Factories;

use crate::builtin::{BUILTIN, builtin_definitions};
use crate::definition::{Definition, parse};
use crate::provider::{BuiltinFactory, DefinitionFactory};

/// The env key listing definition files, separated like `PATH`.
pub const PROVIDERS_ENV: &str = "INTEGRATIONS_PROVIDERS";

/// Reads and validates one definition file.
pub fn load_file(path: &Path) -> Result<Vec<Definition>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::DefinitionFile {
        path: path.display().to_string(),
        reason: read_failure(&e),
    })?;
    parse(&text, &path.display().to_string())
}

/// Every definition this configuration knows: built-in ones, then users' files in order.
pub fn definitions(loader: &ConfigLoader) -> Result<Vec<Definition>, ConfigError> {
    let users = user_definitions(loader)?;
    let mut all = builtin_definitions();
    all.retain(|d| !users.iter().any(|u| u.id == d.id));
    all.extend(users);
    Ok(all)
}

/// The definitions of users' files, in order; a later definition of an id replaces an earlier one.
fn user_definitions(loader: &ConfigLoader) -> Result<Vec<Definition>, ConfigError> {
    let mut all: Vec<Definition> = Vec::new();
    for path in definition_files(loader)? {
        for definition in load_file(&path)? {
            all.retain(|d| d.id != definition.id);
            all.push(definition);
        }
    }
    Ok(all)
}

/// The definition files of the config file's `providers` list and of `INTEGRATIONS_PROVIDERS`.
fn definition_files(loader: &ConfigLoader) -> Result<Vec<PathBuf>, ConfigError> {
    let mut files = Vec::new();
    if let Some(config) = loader.file() {
        let file_error = |reason: &str| ConfigError::File {
            path: config.display().to_string(),
            reason: reason.to_string(),
        };
        let text = std::fs::read_to_string(&config).map_err(|e| file_error(&read_failure(&e)))?;
        // The parser's message can quote a line holding a secret: only where it points is said.
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| file_error(&toml_failure(&text, e.span())))?;
        if let Some(list) = table.get(PROVIDERS_KEY) {
            let paths = list
                .as_array()
                .filter(|items| items.iter().all(toml::Value::is_str))
                .ok_or_else(|| {
                    file_error("`providers` must be a list of paths to provider definition files")
                })?;
            let dir = config.parent().unwrap_or(Path::new("."));
            files.extend(
                paths
                    .iter()
                    .filter_map(toml::Value::as_str)
                    .map(|p| dir.join(p)),
            );
        }
    }
    if let Some(list) = loader.env().get_os(PROVIDERS_ENV) {
        files.extend(std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()));
    }
    Ok(files)
}

/// Users' files are read and checked now; a built-in definition is parsed only when the manager's
/// builder needs more than its id (see [`BuiltinFactory`]).
fn load(loader: &ConfigLoader) -> Result<Factories, ConfigError> {
    let users = user_definitions(loader)?;
    let mut factories: Factories = BUILTIN
        .iter()
        .filter(|(id, _)| !users.iter().any(|u| u.id == *id))
        .map(|(id, text)| Arc::new(BuiltinFactory::new(id, text)) as _)
        .collect();
    factories.extend(
        users
            .into_iter()
            .map(|d| Arc::new(DefinitionFactory(Arc::new(d))) as _),
    );
    Ok(factories)
}

auth_core::inventory::submit! {
    auth_core::ProviderSource {
        name: "declarative providers",
        load,
    }
}
