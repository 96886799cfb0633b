//! The built-in definitions, embedded from `builtin/*.toml`.

use auth_core::ConfigError;

use crate::definition::{Definition, parse};

/// Each built-in definition's id and text.
pub(crate) const BUILTIN: [(&str, &str); 8] = [
    ("github", include_str!("../builtin/github.toml")),
    ("google", include_str!("../builtin/google.toml")),
    ("hubspot", include_str!("../builtin/hubspot.toml")),
    ("linear", include_str!("../builtin/linear.toml")),
    ("microsoft", include_str!("../builtin/microsoft.toml")),
    ("notion", include_str!("../builtin/notion.toml")),
    ("salesforce", include_str!("../builtin/salesforce.toml")),
    ("slack", include_str!("../builtin/slack.toml")),
];

/// The built-in definition of `id`, parsed from its `text`.
pub(crate) fn parse_builtin(id: &str, text: &str) -> Result<Definition, ConfigError> {
    let origin = format!("built-in:{id}");
    parse(text, &origin)?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| ConfigError::Definition {
            path: origin,
            line: 1,
            field: "providers".into(),
            reason: format!("no provider has the id `{id}`"),
        })
}

/// [`parse_builtin`], logging a failure: a built-in definition that failed to parse is left out
/// with an error in the log, never takes the others down. Each is checked by this crate's tests.
pub(crate) fn parse_builtin_or_log(id: &str, text: &str) -> Option<Definition> {
    parse_builtin(id, text)
        .inspect_err(|e| tracing::error!(error = %e, "a built-in provider definition is invalid"))
        .ok()
}

/// The built-in definitions, each parsed now (the manager's builder parses one only when its
/// provider is configured or its status is asked for).
pub fn builtin_definitions() -> Vec<Definition> {
    BUILTIN
        .iter()
        .filter_map(|(id, text)| parse_builtin_or_log(id, text))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_and_has_its_file_id() {
        for (id, text) in BUILTIN {
            let definitions = parse(text, id).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(definitions.len(), 1, "{id}");
            assert_eq!(definitions[0].id, id);
        }
        assert_eq!(builtin_definitions().len(), BUILTIN.len());
    }
}
