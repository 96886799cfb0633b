//! The built-in definitions, embedded from `builtin/*.toml`.

use crate::definition::{Definition, parse};

/// Each built-in definition's id and text.
const BUILTIN: [(&str, &str); 8] = [
    ("github", include_str!("../builtin/github.toml")),
    ("google", include_str!("../builtin/google.toml")),
    ("hubspot", include_str!("../builtin/hubspot.toml")),
    ("linear", include_str!("../builtin/linear.toml")),
    ("microsoft", include_str!("../builtin/microsoft.toml")),
    ("notion", include_str!("../builtin/notion.toml")),
    ("salesforce", include_str!("../builtin/salesforce.toml")),
    ("slack", include_str!("../builtin/slack.toml")),
];

/// The built-in definitions. Each is checked by this crate's tests; one that failed to parse
/// would be left out with an error in the log, never take the others down.
pub fn builtin_definitions() -> Vec<Definition> {
    BUILTIN
        .iter()
        .flat_map(|(id, text)| match parse(text, &format!("built-in:{id}")) {
            Ok(definitions) => definitions,
            Err(e) => {
                tracing::error!(error = %e, "a built-in provider definition is invalid");
                Vec::new()
            }
        })
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
