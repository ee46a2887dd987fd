//! A parsed JSON document as a plain tree, and a small serde deserializer over it.
//!
//! The widget receives the model as a JS object (what `JSON.parse` returns) and its stored record
//! as `JSON.parse`d text; it copies either into a [`Tree`] and reads the serde types from it with
//! [`read`]. This keeps the wasm free of `serde_json` and of a JS-reflection deserializer.
//!
//! It reads what `serde_json` reads from the same document, with two differences that come from
//! JavaScript: a number with an integer value is an integer (`5.0` is read as `5`), and a struct
//! reads only its own fields. The keys it has no field for are collected (with their paths, such
//! as `rules[0].wieght`) instead of failing, so that the caller can report every one of them
//! alongside the validation errors.

use serde::de::{self, DeserializeOwned, Expected, IntoDeserializer, Unexpected, Visitor};
use std::cell::RefCell;
use std::fmt;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    List(Vec<Tree>),
    /// Keys in document order.
    Object(Vec<(String, Tree)>),
}

impl Tree {
    /// The value of `key`, when this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Tree> {
        match self {
            Tree::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Tree::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Tree::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The number, if this is an integer that fits a `u32`.
    pub fn as_u32(&self) -> Option<u32> {
        match integer(self.as_f64()?)? {
            Ok(n) => u32::try_from(n).ok(),
            Err(_) => None,
        }
    }

    /// The number, if this is an integer of at most 2^53 in magnitude.
    pub fn as_i64(&self) -> Option<i64> {
        match integer(self.as_f64()?)? {
            Ok(n) => i64::try_from(n).ok(),
            Err(n) => Some(n),
        }
    }

    /// Each item read with `read`, if this is a list and every item reads.
    pub fn list<T>(&self, read: impl Fn(&Tree) -> Option<T>) -> Option<Vec<T>> {
        match self {
            Tree::List(items) => items.iter().map(read).collect(),
            _ => None,
        }
    }
}

/// Building an object by hand, field by field, in the order serde writes them.
#[derive(Debug, Default)]
pub struct ObjectBuilder(Vec<(String, Tree)>);

impl ObjectBuilder {
    /// Adds a field.
    pub fn field(mut self, key: &str, value: Tree) -> ObjectBuilder {
        self.0.push((key.to_string(), value));
        self
    }

    /// Adds a field unless `skip` (serde's `skip_serializing_if`).
    pub fn field_unless(
        self,
        skip: bool,
        key: &str,
        value: impl FnOnce() -> Tree,
    ) -> ObjectBuilder {
        if skip {
            self
        } else {
            self.field(key, value())
        }
    }

    /// The object.
    pub fn build(self) -> Tree {
        Tree::Object(self.0)
    }
}

impl Tree {
    /// Text.
    pub fn text(s: &str) -> Tree {
        Tree::Text(s.to_string())
    }

    /// A number from anything that converts to `f64` (integers up to 2^53 stay exact).
    pub fn number(n: impl Into<f64>) -> Tree {
        Tree::Number(n.into())
    }

    /// An `i64` as a number (milliseconds since the epoch are far below 2^53).
    pub fn int(n: i64) -> Tree {
        Tree::Number(n as f64)
    }

    /// A list of the items, each written with `write`.
    pub fn list_of<T>(items: &[T], write: impl Fn(&T) -> Tree) -> Tree {
        Tree::List(items.iter().map(write).collect())
    }
}

/// Reading the fields of an object by hand, as serde reads them: a required field must be
/// there; a field with a default may be missing; an optional field may be missing or `null`.
/// Each gives `None` when the value has the wrong type.
pub mod field {
    use super::Tree;

    /// A field that must be there.
    pub fn required<T>(object: &Tree, key: &str, read: impl Fn(&Tree) -> Option<T>) -> Option<T> {
        object.get(key).and_then(read)
    }

    /// A field that takes its default when missing.
    pub fn or_default<T: Default>(
        object: &Tree,
        key: &str,
        read: impl Fn(&Tree) -> Option<T>,
    ) -> Option<T> {
        match object.get(key) {
            None => Some(T::default()),
            Some(value) => read(value),
        }
    }

    /// An `Option` field: missing or `null` is `None`.
    pub fn optional<T>(
        object: &Tree,
        key: &str,
        read: impl Fn(&Tree) -> Option<T>,
    ) -> Option<Option<T>> {
        match object.get(key) {
            None | Some(Tree::Null) => Some(None),
            Some(value) => read(value).map(Some),
        }
    }

    /// Text as an owned string.
    pub fn text(value: &Tree) -> Option<String> {
        value.as_str().map(str::to_string)
    }
}

/// Most unknown keys collected.
const MAX_UNKNOWN: usize = 20;

/// Why a document could not be read as the requested type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeError {
    /// Where (`rules[2].points`; empty for the document itself).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for TreeError {}

impl de::Error for TreeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        TreeError {
            path: String::new(),
            message: msg.to_string(),
        }
    }

    // Written out (serde's default formats floats with `Display`, which the widget cannot afford).
    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::custom(format_args!(
            "invalid type: {}, expected {exp}",
            unexpected(unexp)
        ))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::custom(format_args!(
            "invalid value: {}, expected {exp}",
            unexpected(unexp)
        ))
    }
}

/// What serde's `Unexpected` says, in serde's words (floats written by [`super::number_text`]).
fn unexpected(unexp: Unexpected<'_>) -> String {
    let quoted = |what: &str, value: &str| {
        let mut s = String::from(what);
        s.push_str(" `");
        s.push_str(value);
        s.push('`');
        s
    };
    match unexp {
        Unexpected::Bool(b) => quoted("boolean", if b { "true" } else { "false" }),
        Unexpected::Unsigned(n) => quoted("integer", &n.to_string()),
        Unexpected::Signed(n) => quoted("integer", &n.to_string()),
        Unexpected::Float(v) => quoted("floating point", &super::number_text(v)),
        Unexpected::Char(c) => quoted("character", c.encode_utf8(&mut [0; 4])),
        Unexpected::Str(s) => {
            let mut out = String::from("string \"");
            out.push_str(s);
            out.push('"');
            out
        }
        Unexpected::Bytes(_) => "byte array".to_string(),
        Unexpected::Unit => "unit value".to_string(),
        Unexpected::Option => "Option value".to_string(),
        Unexpected::NewtypeStruct => "newtype struct".to_string(),
        Unexpected::Seq => "sequence".to_string(),
        Unexpected::Map => "map".to_string(),
        Unexpected::Enum => "enum".to_string(),
        Unexpected::UnitVariant => "unit variant".to_string(),
        Unexpected::NewtypeVariant => "newtype variant".to_string(),
        Unexpected::TupleVariant => "tuple variant".to_string(),
        Unexpected::StructVariant => "struct variant".to_string(),
        Unexpected::Other(other) => other.to_string(),
    }
}

impl TreeError {
    /// Sets the path of an error raised at `place`, unless a deeper one is already known.
    #[inline(never)]
    fn at(mut self, place: &Place<'_>) -> TreeError {
        if self.path.is_empty() {
            self.path = place.path();
        }
        self
    }
}

/// Reads `T` from `tree`. Keys that `T` has no field for are ignored and returned with their
/// paths (at most 20).
pub fn read<T: DeserializeOwned>(tree: &Tree) -> Result<(T, Vec<String>), TreeError> {
    let unknown = RefCell::new(Vec::new());
    let value = T::deserialize(Reader {
        tree,
        place: Place::Root,
        unknown: &unknown,
    })?;
    Ok((value, unknown.into_inner()))
}

/// Where a node is: its key or index in its parent. Built on the stack while reading, turned
/// into a path (`rules[0].when.page`) only for an error or an unknown key.
#[derive(Clone, Copy)]
enum Place<'p> {
    Root,
    Key(&'p Place<'p>, &'p str),
    Index(&'p Place<'p>, usize),
}

impl Place<'_> {
    fn path(&self) -> String {
        let mut path = String::new();
        self.write(&mut path);
        path
    }

    fn write(&self, out: &mut String) {
        match self {
            Place::Root => {}
            Place::Key(parent, key) => {
                parent.write(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Place::Index(parent, index) => {
                parent.write(out);
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
        }
    }
}

/// The deserializer: one node of the tree and where it is.
#[derive(Clone, Copy)]
struct Reader<'t, 'p> {
    tree: &'t Tree,
    place: Place<'p>,
    unknown: &'t RefCell<Vec<String>>,
}

impl<'t> Reader<'t, '_> {
    /// The error for a value of the wrong type.
    #[inline(never)]
    fn type_error(&self, expected: &dyn Expected) -> TreeError {
        de::Error::invalid_type(self.unexpected(), expected)
    }

    fn unexpected(&self) -> Unexpected<'t> {
        match self.tree {
            Tree::Null => Unexpected::Unit,
            Tree::Bool(b) => Unexpected::Bool(*b),
            Tree::Number(n) => Unexpected::Float(*n),
            Tree::Text(s) => Unexpected::Str(s),
            Tree::List(_) => Unexpected::Seq,
            Tree::Object(_) => Unexpected::Map,
        }
    }

    fn items(&self) -> Option<Items<'_, 't>> {
        match self.tree {
            Tree::List(items) => Some(Items {
                place: &self.place,
                items: items.iter(),
                index: 0,
                unknown: self.unknown,
            }),
            _ => None,
        }
    }

    fn entries(&self, fields: Option<&'static [&'static str]>) -> Option<Entries<'_, 't>> {
        match self.tree {
            Tree::Object(entries) => Some(Entries {
                place: &self.place,
                entries: entries.iter(),
                fields,
                value: None,
                unknown: self.unknown,
            }),
            _ => None,
        }
    }
}

/// Largest magnitude below which every integer is exactly representable (2^53).
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

/// A number with an integer value as `Ok(unsigned)` or `Err(negative)`, as `serde_json`
/// reads `5` and `-5`; `None` for fractions and magnitudes beyond 2^53.
pub(crate) fn integer(n: f64) -> Option<Result<u64, i64>> {
    if n.fract() != 0.0 || n.abs() >= EXACT_INTEGERS {
        None
    } else if n >= 0.0 {
        Some(Ok(n as u64))
    } else {
        Some(Err(n as i64))
    }
}

impl<'de> de::Deserializer<'de> for Reader<'_, '_> {
    type Error = TreeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        match self.tree {
            Tree::Null => visitor.visit_unit(),
            Tree::Bool(b) => visitor.visit_bool(*b),
            Tree::Number(_) => self.deserialize_u64(visitor),
            Tree::Text(s) => visitor.visit_str(s),
            Tree::List(_) => self.deserialize_seq(visitor),
            Tree::Object(_) => self.deserialize_map(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        match self.tree {
            Tree::Bool(b) => visitor.visit_bool(*b),
            _ => Err(self.type_error(&visitor)),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        match self.tree {
            Tree::Number(n) => match integer(*n) {
                Some(Ok(u)) => visitor.visit_u64(u),
                Some(Err(i)) => visitor.visit_i64(i),
                None => visitor.visit_f64(*n),
            },
            _ => Err(self.type_error(&visitor)),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        match self.tree {
            Tree::Number(n) => visitor.visit_f64(*n),
            _ => Err(self.type_error(&visitor)),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        match self.tree {
            Tree::Text(s) => visitor.visit_str(s),
            _ => Err(self.type_error(&visitor)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        match self.items() {
            Some(items) => visitor.visit_seq(items),
            None => Err(self.type_error(&visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        match self.entries(None) {
            Some(entries) => visitor.visit_map(entries),
            None => Err(self.type_error(&visitor)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        match self.tree {
            Tree::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        match self.entries(Some(fields)) {
            Some(entries) => visitor.visit_map(entries),
            None => Err(self.type_error(&visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        let (name, value) = match self.tree {
            Tree::Text(name) => (name, None),
            Tree::Object(entries) => match entries.as_slice() {
                [(name, value)] => (name, Some(value)),
                _ => {
                    return Err(de::Error::invalid_value(
                        Unexpected::Map,
                        &"a map with a single key",
                    ))
                }
            },
            _ => return Err(self.type_error(&"string or map")),
        };
        visitor.visit_enum(Variant {
            place: &self.place,
            name,
            value,
            unknown: self.unknown,
        })
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i128 u8 u16 u128 f32 char
        bytes byte_buf unit unit_struct tuple_struct identifier
    }
}

/// Reads the node `tree` at `place`, giving its errors that path.
fn read_at<'de, 'p, S: de::DeserializeSeed<'de>>(
    seed: S,
    tree: &Tree,
    place: Place<'p>,
    unknown: &RefCell<Vec<String>>,
) -> Result<S::Value, TreeError> {
    let reader = Reader {
        tree,
        place,
        unknown,
    };
    seed.deserialize(reader).map_err(|e| e.at(&place))
}

/// The items of a list.
struct Items<'p, 't> {
    place: &'p Place<'p>,
    items: std::slice::Iter<'t, Tree>,
    index: usize,
    unknown: &'t RefCell<Vec<String>>,
}

impl<'de> de::SeqAccess<'de> for Items<'_, '_> {
    type Error = TreeError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, TreeError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let place = Place::Index(self.place, self.index);
        self.index += 1;
        read_at(seed, item, place, self.unknown).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The entries of an object; for a struct only those it has fields for.
struct Entries<'p, 't> {
    place: &'p Place<'p>,
    entries: std::slice::Iter<'t, (String, Tree)>,
    fields: Option<&'static [&'static str]>,
    value: Option<(&'t str, &'t Tree)>,
    unknown: &'t RefCell<Vec<String>>,
}

impl<'t> Entries<'_, 't> {
    /// Moves to the next entry to read and returns its key; a struct skips (and records) the
    /// keys it has no field for.
    #[inline(never)]
    fn next_entry(&mut self) -> Option<&'t str> {
        for (key, value) in self.entries.by_ref() {
            if let Some(fields) = self.fields {
                if !fields.contains(&key.as_str()) {
                    let mut unknown = self.unknown.borrow_mut();
                    if unknown.len() < MAX_UNKNOWN {
                        unknown.push(Place::Key(self.place, key).path());
                    }
                    continue;
                }
            }
            self.value = Some((key, value));
            return Some(key);
        }
        None
    }
}

impl<'de> de::MapAccess<'de> for Entries<'_, '_> {
    type Error = TreeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, TreeError> {
        match self.next_entry() {
            Some(key) => seed.deserialize(key.into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, TreeError> {
        match self.value.take() {
            Some((key, value)) => read_at(seed, value, Place::Key(self.place, key), self.unknown),
            None => Err(de::Error::custom("value without a key")),
        }
    }
}

/// An enum: a variant name, with a value unless it is a unit variant written as a string.
struct Variant<'p, 't> {
    place: &'p Place<'p>,
    name: &'t str,
    value: Option<&'t Tree>,
    unknown: &'t RefCell<Vec<String>>,
}

impl<'de, 'p, 't> de::EnumAccess<'de> for Variant<'p, 't> {
    type Error = TreeError;
    type Variant = Self;

    fn variant_seed<V: de::DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self), TreeError> {
        let variant = seed.deserialize(self.name.into_deserializer())?;
        Ok((variant, self))
    }
}

impl Variant<'_, '_> {
    /// The error for a variant written as a string that needs content.
    #[inline(never)]
    fn no_content(&self) -> TreeError {
        de::Error::invalid_type(Unexpected::UnitVariant, &"a variant with content")
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'_, '_> {
    type Error = TreeError;

    fn unit_variant(self) -> Result<(), TreeError> {
        match self.value {
            None | Some(Tree::Null) => Ok(()),
            Some(_) => Err(de::Error::invalid_type(
                Unexpected::NewtypeVariant,
                &"unit variant",
            )),
        }
    }

    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, TreeError> {
        let Some(value) = self.value else {
            return Err(self.no_content());
        };
        read_at(seed, value, Place::Key(self.place, self.name), self.unknown)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        let Some(value) = self.value else {
            return Err(self.no_content());
        };
        let place = Place::Key(self.place, self.name);
        let reader = Reader {
            tree: value,
            place,
            unknown: self.unknown,
        };
        de::Deserializer::deserialize_seq(reader, visitor).map_err(|e| e.at(&place))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        let Some(value) = self.value else {
            return Err(self.no_content());
        };
        let place = Place::Key(self.place, self.name);
        let reader = Reader {
            tree: value,
            place,
            unknown: self.unknown,
        };
        de::Deserializer::deserialize_struct(reader, "", fields, visitor).map_err(|e| e.at(&place))
    }
}

/// The tree of a JSON document, as the widget builds it from the parsed JS object.
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) fn from_json(value: &serde_json::Value) -> Tree {
    match value {
        serde_json::Value::Null => Tree::Null,
        serde_json::Value::Bool(b) => Tree::Bool(*b),
        serde_json::Value::Number(n) => Tree::Number(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Tree::Text(s.clone()),
        serde_json::Value::Array(items) => Tree::List(items.iter().map(from_json).collect()),
        serde_json::Value::Object(entries) => Tree::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), from_json(v)))
                .collect(),
        ),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::model::Model;
    use proptest::prelude::*;
    use serde_json::json;

    fn tree(value: &serde_json::Value) -> Tree {
        from_json(value)
    }

    /// Checks that the tree reader, the hand-written model reader and `serde_json` agree on
    /// `doc`.
    fn agree(doc: &serde_json::Value) -> Result<(), TestCaseError> {
        let by_json = serde_json::from_value::<Model>(doc.clone());
        let by_tree = read::<Model>(&tree(doc));
        let by_hand = crate::model::reader::read_model(&tree(doc));
        match (&by_tree, &by_hand) {
            (Ok((a, unknown_a)), Ok((b, unknown_b))) => {
                prop_assert_eq!(a, b);
                let mut unknown_a = unknown_a.clone();
                let mut unknown_b = unknown_b.clone();
                unknown_a.sort();
                unknown_b.sort();
                prop_assert_eq!(unknown_a, unknown_b);
            }
            (Err(_), Err(_)) => {}
            _ => prop_assert!(false, "{doc}: {by_tree:?} vs {by_hand:?}"),
        }
        match (&by_json, &by_tree) {
            (Ok(a), Ok((b, unknown))) => {
                prop_assert_eq!(a, b);
                prop_assert!(unknown.is_empty());
            }
            (Err(_), Ok((_, unknown))) => prop_assert!(!unknown.is_empty(), "{doc}"),
            (Err(_), Err(_)) => {}
            // serde_json also reads a struct from an array of its fields' values.
            (Ok(_), Err(e)) => prop_assert!(e.message.contains("sequence"), "{doc}: {e}"),
        }
        Ok(())
    }

    #[test]
    fn the_example_models_read_as_serde_json_reads_them() {
        for name in ["saas", "wholesale"] {
            let text = std::fs::read_to_string(format!("www/models/{name}.json")).unwrap();
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
            let (model, unknown) = read::<Model>(&tree(&doc)).unwrap();
            assert!(unknown.is_empty());
            assert_eq!(model, serde_json::from_value::<Model>(doc).unwrap());
        }
    }

    #[test]
    fn unknown_keys_and_errors_have_paths() {
        let doc = json!({"version": 1, "id": "x", "model_version": "1", "pionts": 1,
            "rules": [{"id": "a", "when": {"page": {"path": "/", "qeury": {}}}, "dimension": "fit",
                       "points": 1, "wieght": 2}],
            "tiers": [{"name": "MQL", "min": {"fit": 1}}]});
        let (_, unknown) = read::<Model>(&tree(&doc)).unwrap();
        assert_eq!(
            unknown,
            ["pionts", "rules[0].when.page.qeury", "rules[0].wieght"]
        );
        let doc = json!({"version": 1, "id": "x", "model_version": "1",
            "rules": [{"id": "a", "when": {"visits": {"at_least": "2"}}, "dimension": "fit", "points": 1}],
            "tiers": []});
        let e = read::<Model>(&tree(&doc)).unwrap_err();
        assert_eq!(e.path, "rules[0].when.visits.at_least");
        assert_eq!(e.message, "invalid type: string \"2\", expected u32");
        assert_eq!(
            crate::model::reader::read_model(&tree(&doc)).unwrap_err(),
            e
        );
        let doc = json!({"version": 1, "id": "x", "model_version": "1",
            "rules": [{"id": "a", "when": {"visits": {}}, "dimension": "fit", "points": 1}],
            "tiers": []});
        let e = read::<Model>(&tree(&doc)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "rules[0].when.visits: missing field `at_least`"
        );
        let by_hand = crate::model::reader::read_model(&tree(&doc)).unwrap_err();
        assert_eq!(by_hand.to_string(), e.to_string());
        let e = read::<Model>(&tree(&json!([1]))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid type: sequence, expected struct Model"
        );
    }

    #[test]
    fn numbers_read_as_serde_json_reads_them() {
        let base = json!({"version": 1, "id": "x", "model_version": "1",
            "rules": [{"id": "a", "when": {"visits": {"at_least": 2}}, "dimension": "fit", "points": 1}],
            "tiers": [{"name": "MQL", "min": {"fit": 1}}]});
        for points in [json!(-3), json!(0), json!(2.5), json!(1e10), json!(-1e300)] {
            let mut doc = base.clone();
            doc["rules"][0]["points"] = points;
            agree(&doc).unwrap();
        }
        let mut doc = base;
        doc["rules"][0]["points"] = json!(2.5);
        let e = read::<Model>(&tree(&doc)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "rules[0].points: invalid type: floating point `2.5`, expected i32"
        );
    }

    fn model_like() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            (-3i64..200).prop_map(|n| json!(n)),
            // Fractions only: JSON `1.0` is an integer in JS, so the tree reads it as one.
            (-150i32..150).prop_map(|n| json!((f64::from(n) * 2.0 + 1.0) / 4.0)),
            prop::sample::select(vec![
                "once",
                "every_time",
                "never",
                "fit",
                "intent",
                "product",
                "/pricing",
                "/docs/**",
                "pdf",
                "MQL",
                "a",
                "",
            ])
            .prop_map(|s| json!(s)),
        ];
        let keys = prop::sample::select(vec![
            "version",
            "id",
            "model_version",
            "rules",
            "tiers",
            "when",
            "page",
            "path",
            "query",
            "points",
            "dimension",
            "frequency",
            "decay",
            "min",
            "max",
            "requires",
            "name",
            "limits",
            "fit",
            "total",
            "answer",
            "question",
            "equals",
            "one_of",
            "at_most",
            "at_most_per_window",
            "times",
            "days",
            "half_life_days",
            "visits",
            "at_least",
            "download",
            "extensions",
            "event",
            "properties",
            "calibration",
            "slope",
            "pionts",
        ]);
        leaf.prop_recursive(5, 96, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(keys.clone().prop_map(String::from), inner, 0..7)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A valid model document with one field replaced by an arbitrary value.
    fn mutated_model() -> impl Strategy<Value = serde_json::Value> {
        let text = std::fs::read_to_string("www/models/saas.json").unwrap_or_default();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        (0usize..64, 0usize..12, model_like()).prop_map(move |(rule, field, value)| {
            let mut doc = doc.clone();
            let rules = doc["rules"].as_array().map_or(1, Vec::len).max(1);
            let target = &mut doc["rules"][rule % rules];
            let keys = [
                "id",
                "when",
                "dimension",
                "points",
                "frequency",
                "decay",
                "pionts",
            ];
            match keys.get(field) {
                Some(key) => target[*key] = value,
                None => doc["limits"] = value,
            }
            doc
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn reads_arbitrary_documents_as_serde_json_does(doc in model_like()) {
            agree(&doc)?;
        }

        #[test]
        fn reads_mutated_models_as_serde_json_does(doc in mutated_model()) {
            agree(&doc)?;
        }
    }
}
