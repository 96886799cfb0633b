//! The answer's `data` as JSON text, for a caller that writes it out as JSON: the whole answer
//! checked as reading it into a `Value` checks it (the same errors, at the same positions),
//! without building one, then `data`'s text taken as it is.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::transport::{ApiRequest, ApiResponse, decode_as};
use crate::error::AsanaError;

/// `data`'s text in the answer `response` to `req` (`null` when it has none), once the whole
/// answer passed every check reading it into a `Value` makes: its syntax, nesting depth,
/// numbers' range, strings' escapes and UTF-8. A failure is the [`AsanaError::Decode`] that
/// reading it into a `Value` gives.
pub(crate) fn data_text(
    req: &ApiRequest,
    response: &ApiResponse,
) -> Result<Box<RawValue>, AsanaError> {
    let as_value = std::any::type_name::<Value>();
    decode_as::<Checked>(req, response, as_value)?;
    let answer: DataText = decode_as(req, response, as_value)?;
    Ok(answer.data.unwrap_or_else(|| RawValue::NULL.to_owned()))
}

/// A JSON value read through as a `Value` is, every scalar parsed and every level entered, and
/// kept nowhere. (`IgnoredAny`, and reading a `RawValue`, only follow the grammar.)
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_key::<Checked>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

/// An answer of Asana's, of which only `data` is kept, as its text: as
/// `Value::get_mut("data")` would find it (the last `data` of an object; none in an answer that
/// is not an object, or whose `data` is `null`).
struct DataText {
    data: Option<Box<RawValue>>,
}

impl<'de> Deserialize<'de> for DataText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DataVisitor)
    }
}

/// Reads an answer into [`DataText`].
struct DataVisitor;

impl DataVisitor {
    /// An answer that is not an object has no `data`.
    fn none<E>(self) -> Result<DataText, E> {
        Ok(DataText { data: None })
    }
}

impl<'de> Visitor<'de> for DataVisitor {
    type Value = DataText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON answer")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DataText, A::Error> {
        let mut data = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Data => data = map.next_value()?,
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(DataText { data })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DataText, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<DataText, E> {
        self.none()
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<DataText, E> {
        self.none()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<DataText, E> {
        self.none()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<DataText, E> {
        self.none()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<DataText, E> {
        self.none()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<DataText, E> {
        self.none()
    }
}

/// A key of an answer: `data` or any other.
enum Key {
    Data,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(if key == "data" { Key::Data } else { Key::Other })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}
