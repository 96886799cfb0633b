//! A definition's configuration fields: the standard ones with env keys prefixed by the
//! upper-cased id, and one per placeholder.
//!
//! The configuration loader takes `&'static` field tables, made for providers compiled in. A
//! definition read at run time has its table made once and kept for the life of the process:
//! tables are interned, so building managers again and again (every test, every CLI command)
//! adds nothing after the first time.

use std::sync::Mutex;

use auth_core::config::{ConfigField, FieldKind};
use auth_core::provider::ClientAuthMethod;

use crate::definition::Definition;

/// A field before it is made `'static`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OwnedField {
    name: String,
    kind: FieldKind,
    env_key: String,
    default: Option<String>,
}

/// Every table made so far, by its owned form.
static TABLES: Mutex<Vec<(Vec<OwnedField>, &'static [ConfigField])>> = Mutex::new(Vec::new());

/// The environment-key prefix of a provider: its id in upper case.
pub(crate) fn env_prefix(id: &str) -> String {
    id.to_ascii_uppercase()
}

/// The env key of a provider's field: `{ID}_{NAME}`, both upper-cased.
pub(crate) fn env_key(id: &str, name: &str) -> String {
    format!("{}_{}", env_prefix(id), name.to_ascii_uppercase())
}

/// The configuration fields of `definition`, in this order: `client_id`, `client_secret`,
/// `redirect_uri`, `default_scope`, the four URLs, `token_auth_method`, then the placeholders.
pub(crate) fn fields_of(definition: &Definition) -> &'static [ConfigField] {
    let field = |name: &str, kind: FieldKind, default: Option<String>| OwnedField {
        name: name.to_string(),
        kind,
        env_key: env_key(&definition.id, name),
        default,
    };
    // A URL with placeholders has no fixed default: it is filled when the provider is built.
    let url_default = |template: Option<&String>| template.filter(|t| !t.contains('{')).cloned();
    let mut owned = vec![
        field("client_id", FieldKind::Text, None),
        field("client_secret", FieldKind::Secret, None),
        field("redirect_uri", FieldKind::RedirectUri, None),
        field(
            "default_scope",
            FieldKind::List,
            (!definition.scopes.is_empty()).then(|| definition.scopes.join(" ")),
        ),
        field(
            "authorization_url",
            FieldKind::Url,
            url_default(Some(&definition.authorization_url)),
        ),
        field(
            "token_url",
            FieldKind::Url,
            url_default(Some(&definition.token_url)),
        ),
        field(
            "revocation_url",
            FieldKind::Url,
            url_default(definition.revocation_url.as_ref()),
        ),
        field(
            "api_base_url",
            FieldKind::Url,
            url_default(definition.api_base_url.as_ref()),
        ),
        field(
            "token_auth_method",
            FieldKind::OneOf(ClientAuthMethod::NAMES),
            Some(definition.client_auth.as_str().to_string()),
        ),
    ];
    for (name, default) in &definition.placeholders {
        owned.push(field(name, FieldKind::Text, Some(default.clone())));
    }
    intern(owned)
}

fn intern(owned: Vec<OwnedField>) -> &'static [ConfigField] {
    let mut tables = TABLES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, table)) = tables.iter().find(|(known, _)| *known == owned) {
        return table;
    }
    let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
    let table: Vec<ConfigField> = owned
        .iter()
        .map(|f| {
            let env_keys: &'static [&'static str] =
                Box::leak(vec![leak(&f.env_key)].into_boxed_slice());
            let field = ConfigField::new(leak(&f.name), f.kind, env_keys);
            match &f.default {
                Some(default) => field.with_default(leak(default)),
                None => field,
            }
        })
        .collect();
    let table: &'static [ConfigField] = Box::leak(table.into_boxed_slice());
    tables.push((owned, table));
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::{BUILTIN, parse_builtin};
    use crate::definition::STANDARD_FIELDS;

    #[test]
    fn every_table_starts_with_the_standard_fields_and_their_env_keys() {
        for (id, text) in BUILTIN {
            let table = fields_of(&parse_builtin(id, text).unwrap());
            let names: Vec<&str> = table.iter().map(|f| f.name).collect();
            assert_eq!(names[..STANDARD_FIELDS.len()], STANDARD_FIELDS, "{id}");
            for field in &table[..STANDARD_FIELDS.len()] {
                assert_eq!(field.env_keys, [env_key(id, field.name).as_str()], "{id}");
            }
        }
    }
}
