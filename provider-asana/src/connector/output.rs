//! Output control for agents: `select_fields` / `exclude_fields` applied to returned records.

use serde_json::Value;

/// Keeps only the `paths` (dotted, e.g. `assignee.name`) of each record in `data` (an object or
/// an array of them), and every `gid`.
pub(crate) fn select(data: &mut Value, paths: &[&str]) {
    let paths: Vec<Vec<&str>> = paths.iter().map(|p| p.split('.').collect()).collect();
    keep(data, &paths);
}

fn keep(value: &mut Value, paths: &[Vec<&str>]) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|item| keep(item, paths)),
        Value::Object(object) => {
            object.retain(|key, _| key == "gid" || paths.iter().any(|p| p[0] == key));
            for (key, field) in object.iter_mut() {
                let tails: Vec<Vec<&str>> = paths
                    .iter()
                    .filter(|p| p[0] == key)
                    .map(|p| p[1..].to_vec())
                    .collect();
                // A field named whole is kept whole.
                if !tails.is_empty() && tails.iter().all(|t| !t.is_empty()) {
                    keep(field, &tails);
                }
            }
        }
        _ => {}
    }
}

/// Removes the `paths` (dotted) from each record in `data`.
pub(crate) fn exclude(data: &mut Value, paths: &[&str]) {
    for path in paths {
        let path: Vec<&str> = path.split('.').collect();
        remove(data, &path);
    }
}

fn remove(value: &mut Value, path: &[&str]) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|item| remove(item, path)),
        Value::Object(object) => match path {
            [] => {}
            [last] => {
                object.remove(*last);
            }
            [head, rest @ ..] => {
                if let Some(field) = object.get_mut(*head) {
                    remove(field, rest);
                }
            }
        },
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn select_keeps_named_paths_and_gids() {
        let mut data = json!([
            {"gid": "1", "name": "A", "notes": "long", "assignee": {"gid": "9", "name": "Ada", "email": "a@x"},
             "memberships": [{"project": {"gid": "3", "name": "P"}, "section": {"gid": "4"}}]},
            {"gid": "2", "name": "B", "assignee": null}
        ]);
        select(
            &mut data,
            &["name", "assignee.name", "memberships.project.name"],
        );
        assert_eq!(
            data,
            json!([
                {"gid": "1", "name": "A", "assignee": {"gid": "9", "name": "Ada"},
                 "memberships": [{"project": {"gid": "3", "name": "P"}}]},
                {"gid": "2", "name": "B", "assignee": null}
            ])
        );
        let mut one = json!({"gid": "1", "name": "A", "assignee": {"gid": "9", "name": "Ada"}});
        select(&mut one, &["assignee", "assignee.name"]);
        assert_eq!(
            one,
            json!({"gid": "1", "assignee": {"gid": "9", "name": "Ada"}})
        );
    }

    #[test]
    fn exclude_removes_named_paths_only() {
        let mut data = json!({"gid": "1", "notes": "long", "assignee": {"gid": "9", "email": "a@x"},
                              "followers": [{"gid": "5", "email": "b@x"}]});
        exclude(
            &mut data,
            &["notes", "assignee.email", "followers.email", "missing.x"],
        );
        assert_eq!(
            data,
            json!({"gid": "1", "assignee": {"gid": "9"}, "followers": [{"gid": "5"}]})
        );
    }
}
