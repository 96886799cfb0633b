//! The answer's `data` as JSON text, for a caller that writes it out as JSON: the whole answer
//! checked as reading it into a `Value` checks it (the same errors, at the same positions),
//! without building one, then `data`'s text taken as it is.

use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::Value;
use serde_json::value::RawValue;

use super::transport::{ApiRequest, ApiResponse, body_of, decode_error};
use crate::error::AsanaError;

/// The key with which serde_json (its `raw_value` feature, on in this workspace) marks an object
/// that stands for the JSON text in its one string: a `Value` read of an object whose first key
/// is this reads that text instead of the object.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// `data`'s text in the answer `response` to `req` (`null` when it has none), once the whole
/// answer passed every check reading it into a `Value` makes: its syntax, nesting depth,
/// numbers' range, strings' escapes and UTF-8. A failure is the [`AsanaError::Decode`] that
/// reading it into a `Value` gives. An answer holding serde_json's raw-value token (see
/// [`RAW_VALUE_TOKEN`]) is read as a `Value` reads it, and its `data` written back.
pub(crate) fn data_text(
    req: &ApiRequest,
    response: &ApiResponse,
) -> Result<Box<RawValue>, AsanaError> {
    let body = body_of(response);
    let failed =
        |e: serde_json::Error| decode_error(req, response, std::any::type_name::<Value>(), &e);
    let token = Cell::new(false);
    let mut reader = serde_json::Deserializer::from_slice(body);
    Checked { token: &token }
        .deserialize(&mut reader)
        .and_then(|()| reader.end())
        .map_err(failed)?;
    if token.get() {
        let value: Value = serde_json::from_slice(body).map_err(failed)?;
        return serde_json::value::to_raw_value(&value["data"]).map_err(failed);
    }
    let answer: DataText = serde_json::from_slice(body).map_err(failed)?;
    Ok(answer.data.unwrap_or_else(|| RawValue::NULL.to_owned()))
}

/// Reads a JSON value through as a `Value` read does, every scalar parsed and every level
/// entered, and keeps nothing (`IgnoredAny`, and reading a `RawValue`, only follow the grammar);
/// sets `token` when an object's first key is [`RAW_VALUE_TOKEN`].
#[derive(Clone, Copy)]
struct Checked<'a> {
    token: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Checked<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut first = Some(self.token);
        while map
            .next_key_seed(CheckedKey {
                token: first.take(),
            })?
            .is_some()
        {
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

/// An object's key, read as [`Checked`] reads strings; the first one of an object is compared
/// with [`RAW_VALUE_TOKEN`] (into `token`).
struct CheckedKey<'a> {
    token: Option<&'a Cell<bool>>,
}

impl<'de> DeserializeSeed<'de> for CheckedKey<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for CheckedKey<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<(), E> {
        if let Some(token) = self.token
            && key == RAW_VALUE_TOKEN
        {
            token.set(true);
        }
        Ok(())
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
