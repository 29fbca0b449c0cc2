//! What each field of a payload must hold, read off its Rust type.
//!
//! Every payload struct gets a table of its fields (name, [`Kind`], required
//! or not) from the `payloads!` macro, which reads each field's type through
//! [`Shape`]. The validator walks the body against these tables in one pass,
//! so the struct definitions stay the only description of a payload.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde_json::{Map, Number, Value};

/// What a JSON value must be.
#[derive(Debug)]
pub(crate) enum Kind {
    /// Any JSON value (the `data` of an unknown event type).
    Any,
    /// A string (open enums too: any value is kept).
    Text,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// A non-negative integer.
    Count,
    /// Any number.
    Number,
    /// A number in [-1, 1].
    Score,
    /// `true` or `false`.
    Flag,
    /// An array of strings.
    TextList,
    /// Any object.
    Object,
    /// An object with these fields (and any others, kept).
    Fields(&'static [Field]),
}

/// One field of an object.
#[derive(Debug)]
pub(crate) struct Field {
    /// The key.
    pub(crate) name: &'static str,
    /// What its value must be.
    pub(crate) kind: Kind,
    /// Whether it must be present and not `null`.
    pub(crate) required: bool,
}

/// The [`Kind`] of a Rust field type; `Option<T>` makes a field optional.
pub(crate) trait Shape {
    /// What the JSON value must be.
    const KIND: Kind;
    /// Whether the field must be present and not `null`.
    const REQUIRED: bool = true;
}

impl<T: Shape> Shape for Option<T> {
    const KIND: Kind = T::KIND;
    const REQUIRED: bool = false;
}

impl Shape for String {
    const KIND: Kind = Kind::Text;
}

impl Shape for u64 {
    const KIND: Kind = Kind::Count;
}

impl Shape for Number {
    const KIND: Kind = Kind::Number;
}

impl Shape for bool {
    const KIND: Kind = Kind::Flag;
}

impl Shape for Vec<String> {
    const KIND: Kind = Kind::TextList;
}

impl Shape for Map<String, Value> {
    const KIND: Kind = Kind::Object;
}

/// What a value of this kind is, for error messages: `expected {kind}`.
impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any JSON value"),
            Self::Text => f.write_str("a string"),
            Self::OneOf(values) => {
                f.write_str("one of ")?;
                for (index, value) in values.iter().enumerate() {
                    let separator = if index == 0 { "" } else { ", " };
                    write!(f, "{separator}{value:?}")?;
                }
                Ok(())
            }
            Self::Count => f.write_str("a non-negative integer"),
            Self::Number => f.write_str("a number"),
            Self::Score => f.write_str("a number in [-1, 1]"),
            Self::Flag => f.write_str("a boolean"),
            Self::TextList => f.write_str("an array of strings"),
            Self::Object | Self::Fields(_) => f.write_str("an object"),
        }
    }
}
