//! Property tests of connector params: validation never panics on any JSON, and params that pass
//! validation build a request whose path keeps the catalog's shape, whatever the strings hold; a
//! result is measured in the characters of its JSON text, and never exceeds the bound its answer's
//! length sets. The cargo-fuzz target `connector_params`
//! feeds the same validation and request building.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use url::Url;

use super::catalog::{In, OPERATIONS, Operation, Ty};
use super::{
    MAX_NUMBER_CHARS, build_request, data_only, json_chars, object, query_value, resolve,
    result_chars_bound, validate,
};

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn operation() -> impl Strategy<Value = &'static Operation> {
    prop::sample::select(OPERATIONS.iter().collect::<Vec<_>>())
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        Just(json!(1.5)),
        Just(json!(1e300)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Strings an agent (or a prompt injection) could put in a gid or a query value.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            ".",
            "..",
            "./",
            "../users",
            "%2e%2e",
            ".%2E",
            "a/b",
            "a\\b",
            "a?b=c",
            "a#b",
            "a b",
            "a+b",
            "a\r\nX-Injected: 1",
            "\u{0}",
            "é",
            "\u{202e}",
            "//evil.example",
            "https://evil.example/",
            "@evil.example",
            "1;2",
            "%",
            "%zz",
        ])
        .prop_map(String::from),
        any::<String>(),
        "[0-9]{1,16}",
    ]
}

/// A value for a param, usually of its type, sometimes not.
fn value_for(ty: Ty) -> BoxedStrategy<Value> {
    let right = match ty {
        Ty::Str => hostile_text().prop_map(Value::String).boxed(),
        Ty::Int(min, max) => prop_oneof![
            (min..=max).prop_map(Value::from),
            any::<i64>().prop_map(Value::from)
        ]
        .boxed(),
        Ty::Integer => any::<i64>().prop_map(Value::from).boxed(),
        Ty::Num => prop_oneof![
            any::<i64>().prop_map(Value::from),
            (-1e9f64..1e9).prop_map(Value::from)
        ]
        .boxed(),
        Ty::List => prop::collection::vec(any_json(), 0..3)
            .prop_map(Value::Array)
            .boxed(),
        Ty::BatchActions => prop::collection::vec(
            (
                hostile_text(),
                prop::sample::select(vec!["get", "post", "put", "delete", "patch", "head", "GET"]),
            )
                .prop_map(|(path, method)| json!({"relative_path": path, "method": method})),
            0..12,
        )
        .prop_map(Value::Array)
        .boxed(),
        Ty::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Ty::StrList => prop::collection::vec(hostile_text().prop_map(Value::String), 0..3)
            .prop_map(Value::Array)
            .boxed(),
        Ty::Enum(values) => prop_oneof![
            prop::sample::select(values.to_vec()).prop_map(Value::from),
            hostile_text().prop_map(Value::String),
        ]
        .boxed(),
        Ty::Object => prop::collection::btree_map("[a-z0-9_]{1,8}", any_json(), 0..3)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
            .boxed(),
    };
    prop_oneof![9 => right, 1 => any_json()].boxed()
}

/// An operation and params for it (output control included): required params usually present,
/// optional ones sometimes, and now and then a param the operation does not have.
fn operation_and_params() -> impl Strategy<Value = (&'static Operation, Value)> {
    operation().prop_flat_map(|op| {
        let params: Vec<_> = op
            .all_params()
            .map(|p| {
                let presence = if p.required { 0.95 } else { 0.4 };
                prop::option::weighted(presence, value_for(p.ty)).prop_map(move |v| (p.name, v))
            })
            .collect();
        let unknown = prop::option::weighted(0.05, ("[a-z_]{1,8}", any_json()));
        (Just(op), params, unknown).prop_map(|(op, params, unknown)| {
            let mut map: Map<String, Value> = params
                .into_iter()
                .filter_map(|(name, value)| Some((name.to_string(), value?)))
                .collect();
            if let Some((name, value)) = unknown {
                map.insert(name, value);
            }
            (op, Value::Object(map))
        })
    })
}

/// The segments of `path` after percent-decoding, as the server sees them.
fn decoded_segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(|segment| {
            let query = format!("x={}", segment.replace('+', "%2B"));
            url::form_urlencoded::parse(query.as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect()
}

/// Numbers whose text grows when written back: exponents, negative zero, integers past 64 bits.
fn growing_number() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "1e9",
        "9e15",
        "-0",
        "1E22",
        "0.1",
        "-1e-7",
        "5e-324",
        "1e308",
        "18446744073709551616",
        "-9223372036854775809",
    ])
    .prop_map(str::to_string)
}

/// JSON text written as tersely as JSON allows, or with escapes: what an answer could hold that
/// grows most when written back compact.
fn terse_json_text() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        growing_number(),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        // Strings as escapes, written back as long or shorter.
        prop::sample::select(vec![
            r#""\u00e9""#,
            r#""\/""#,
            r#""\u0001""#,
            r#""\ud83d\ude00""#,
            r#""\n""#,
            r#""é""#,
        ])
        .prop_map(str::to_string),
        any::<String>().prop_map(|s| Value::String(s).to_string()),
        prop::sample::select(vec!["true", "false", "null", "{}", "[]"]).prop_map(str::to_string),
    ];
    let mixed = atom.prop_recursive(3, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec(("[a-z_]{0,8}", inner), 0..8).prop_map(|fields| {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|(key, value)| format!("{}:{value}", Value::String(key.clone())))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    });
    // Long runs of one growing number: the most a result grows (about 4.5 times, for `9e15`).
    let growing = (growing_number(), 1..400_usize)
        .prop_map(|(number, count)| format!("[{}]", vec![number; count].join(",")));
    prop_oneof![mixed, growing]
}

#[test]
fn no_number_is_written_back_longer_than_the_bound_allows() {
    for text in [
        "-2.2250738585072014e-308",
        "-1.7976931348623157e308",
        "-4.9406564584124654e-324",
        "-0.000012345678901234567",
        "-9223372036854775808",
        "18446744073709551615",
        "-18446744073709551616",
        "1e15",
        "-0",
    ] {
        let number: Value = serde_json::from_str(text).unwrap();
        assert!(json_chars(&number) <= MAX_NUMBER_CHARS, "{text} → {number}");
    }
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn a_result_is_measured_in_the_characters_of_its_json_text(value in any_json()) {
        prop_assert_eq!(json_chars(&value), value.to_string().chars().count());
    }

    #[test]
    fn a_result_never_exceeds_the_bound_its_answers_length_sets(
        data in terse_json_text(),
        next_page in terse_json_text(),
    ) {
        let text = format!(r#"{{"data":{data},"next_page":{next_page}}}"#);
        let mut answer: Value = serde_json::from_str(&text).unwrap();
        let bound = result_chars_bound(text.len());
        let mut take = |field| answer.get_mut(field).map(Value::take).unwrap_or(Value::Null);
        let (data, next_page) = (take("data"), take("next_page"));
        let listed = object([("data", data), ("meta", object([("next_page", next_page)]))]);
        prop_assert!(json_chars(&listed) <= bound, "{} > {bound} for {text}", json_chars(&listed));
        let answer: Value = serde_json::from_str(&text).unwrap();
        let got = data_only(answer);
        prop_assert!(json_chars(&got) <= bound, "{} > {bound} for {text}", json_chars(&got));
    }

    #[test]
    fn validation_never_panics(
        entity in prop_oneof![operation().prop_map(|op| op.entity.to_string()), any::<String>()],
        action in prop_oneof![operation().prop_map(|op| op.action.to_string()), any::<String>()],
        params in any_json(),
    ) {
        if let Err(e) = super::AsanaConnector::validate(&entity, &action, &params) {
            prop_assert!(!e.is_retryable() && !e.needs_reauthorization());
            prop_assert!(e.to_json()["error"]["message"].is_string());
        }
    }

    #[test]
    fn validated_params_keep_the_endpoint_shape(
        (op, params) in operation_and_params(),
    ) {
        let found = resolve(op.entity, op.action).unwrap();
        prop_assert_eq!((found.entity, found.action, found.path()), (op.entity, op.action, op.path()));
        let Ok(valid) = validate(op, params) else {
            return Ok(());
        };
        let (path, query, body) = build_request(op, &valid);

        // A param with a path of its own (`tasks.list` with `tag`) moves the call there and into
        // that path.
        let via = op.params.iter().find_map(|param| {
            let endpoint = op.via(param.name)?;
            valid.contains_key(param.name).then_some((param.name, endpoint))
        });
        let template = via.map_or(op.path(), |(_, endpoint)| endpoint.path);

        // The path has the template's segments, each the param's exact value, percent-encoded so
        // that nothing in it is a separator, a dot segment or a control character.
        let template: Vec<&str> = template.trim_start_matches('/').split('/').collect();
        let segments = decoded_segments(&path);
        prop_assert_eq!(segments.len(), template.len(), "{}", path);
        for (segment, part) in segments.iter().zip(&template) {
            match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => {
                    // The endpoint's name for a path param is the param's wire name, or the
                    // `Via` param's.
                    let param = via.map_or(name, |(param, _)| param);
                    let param = op.params.iter().find(|p| p.wire == param).map_or(param, |p| p.name);
                    prop_assert_eq!(Some(segment.as_str()), valid[param].as_str())
                }
                None => prop_assert_eq!(segment, part),
            }
        }
        prop_assert!(
            path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/%-._*".contains(&b)),
            "{}", path
        );

        // Joined to the API base as the client does, the URL keeps exactly that path.
        let base = Url::parse("https://app.asana.com/api/1.0").unwrap();
        let url = Url::parse(&format!("{}{}", base.as_str().trim_end_matches('/'), path)).unwrap();
        prop_assert_eq!(url.origin(), base.origin());
        prop_assert_eq!(url.path(), format!("/api/1.0{path}"));
        prop_assert!(url.query().is_none() && url.fragment().is_none());

        // Query pairs and the body hold the params where the catalog puts them.
        for param in op.params {
            let Some(value) = valid.get(param.name) else { continue };
            match op.at(param) {
                _ if via.is_some_and(|(name, _)| name == param.name) => {}
                In::Path | In::Local => {}
                // `select_fields` is merged into `opt_fields`, so that one is checked by the
                // connector's own tests.
                In::Query if param.name == "opt_fields" && valid.contains_key("select_fields") => {}
                In::Query => {
                    let sent = query.iter().find(|(k, _)| k == param.wire).map(|(_, v)| v.clone());
                    if value.as_array().is_some_and(Vec::is_empty) {
                        prop_assert_eq!(sent, None);
                    } else {
                        prop_assert_eq!(sent, Some(query_value(value)));
                    }
                }
                // Links are sent as multipart by the attachments client, not as a JSON body.
                In::Body => {
                    if let Some(body) = &body {
                        prop_assert_eq!(body["data"].get(param.wire), Some(value));
                    }
                }
            }
        }
    }
}
