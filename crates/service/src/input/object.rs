//! Nested request objects read from JSON objects only. serde also reads a struct from an array
//! (its fields in order), which no client means and no schema allows; where a body nests a
//! struct (`commands[i].body`, `calls[i]`, `records[i]`, `record`) these readers refuse it, as
//! the top level of every body already does (`body::parse_object`).

use serde::de::{Deserialize, Deserializer, Visitor};

/// A deserializer that reads whatever is asked of it as a map (a JSON object).
struct MapOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for MapOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// A struct `T` that only a JSON object gives.
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Obj<T>, D::Error> {
        T::deserialize(MapOnly(d)).map(Obj)
    }
}

/// `#[serde(deserialize_with = "object")]`: a struct from a JSON object only.
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Obj::deserialize(d).map(|o| o.0)
}

/// An optional struct: `null` or a JSON object.
pub fn opt_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Obj<T>>::deserialize(d).map(|o| o.map(|o| o.0))
}

/// An array of structs, each a JSON object.
pub fn objects<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Vec::<Obj<T>>::deserialize(d).map(|v| v.into_iter().map(|o| o.0).collect())
}

/// An optional array of structs, each a JSON object.
pub fn opt_objects<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Vec<Obj<T>>>::deserialize(d).map(|o| o.map(|v| v.into_iter().map(|o| o.0).collect()))
}

#[cfg(test)]
mod tests {
    use crate::input::body::parse_object;
    use crate::input::control::{EndRequest, IngestRequest};
    use crate::input::reconcile::ReconcileRequest;

    #[test]
    fn a_nested_struct_given_as_an_array_is_refused_naming_its_place() {
        let e = parse_object::<IngestRequest>(br#"{"calls": [["c1", "m1"]]}"#).unwrap_err();
        assert!(e.detail.starts_with("calls[0]"), "{e}");
        let e = parse_object::<ReconcileRequest>(br#"{"records": [["t", "c"]]}"#).unwrap_err();
        assert!(e.detail.starts_with("records[0]"), "{e}");
        let e = parse_object::<EndRequest>(br#"{"record": ["c1"]}"#).unwrap_err();
        assert!(e.detail.starts_with("record"), "{e}");
        // The same structs as objects, and an absent or null optional one, are read.
        assert!(parse_object::<EndRequest>(br#"{"record": null}"#).is_ok());
        assert!(parse_object::<EndRequest>(br#"{}"#).is_ok());
        assert!(parse_object::<ReconcileRequest>(br#"{"kamailio_acc": ""}"#).is_ok());
    }
}
