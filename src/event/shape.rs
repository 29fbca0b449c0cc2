//! What each field of a payload holds, read off its Rust type, and how a
//! value of that type is built from the JSON the validator reads.
//!
//! Every payload struct gets a table of its fields (name, [`Kind`], required
//! or not, whether it is the event's call id) from the `payloads!` macro,
//! which reads each field's type through [`Shape`]. The validator walks a body
//! against these tables in one pass; [`parse_event`](crate::parse_event) walks
//! it the same way and builds each value as it goes, through [`Decoder`].
//!
//! Nothing here reads JSON: the walk (`validate/scan.rs`) implements
//! [`Decoder`], the way a serde format implements `Deserializer`, so the
//! types depend on no reader and the reader on no type.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde_json::{Map, Number, Value};

/// What a JSON value must be.
#[derive(Debug)]
pub(crate) enum Kind {
    /// Any JSON value, not looked into.
    Any,
    /// The `data` of an event type this version does not know: any JSON
    /// value; an object's string `call_id` is still picked up (for logs).
    Unknown,
    /// A string (open enums too: any value is kept).
    Text,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// An RFC 3339 timestamp (a string).
    Timestamp,
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
    /// Whether it must be present and not `null`. An optional field may be
    /// `null`: the value is then kept with the unknown fields, so that it
    /// survives a round trip (the one null rule, applied by the walk).
    pub(crate) required: bool,
    /// Whether it is the call the event concerns (`call_id()`).
    pub(crate) call_id: bool,
}

impl Field {
    /// A field of type `T` (its kind and whether it is required read off the type).
    pub(crate) const fn of<T: Shape>(name: &'static str, call_id: bool) -> Self {
        Self { name, kind: T::KIND, required: T::REQUIRED, call_id }
    }
}

/// A Rust field type: what its JSON must be, and how it is built from it.
/// `Option<T>` makes a field optional.
pub(crate) trait Shape: Sized {
    /// What the JSON value must be.
    const KIND: Kind;
    /// Whether the field must be present and not `null`.
    const REQUIRED: bool = true;

    /// The value of a field that is absent: none for a required one.
    fn absent() -> Option<Self> {
        None
    }

    /// Whether the value is left out when serialized (an absent optional field).
    fn is_absent(&self) -> bool {
        false
    }

    /// Builds the value from the JSON the decoder is at, checking it against
    /// [`KIND`](Self::KIND) with the decoder's method for that kind.
    fn decode<'a, D: Decoder<'a>>(decoder: D) -> Result<Self, D::Error>;
}

/// One JSON value to read, with the method for each [`Kind`]: each method
/// reads the value, checks it is of that kind (an error names the value's
/// place, what was expected and what was found) and returns it.
pub(crate) trait Decoder<'a>: Sized {
    /// Why the value cannot be read.
    type Error;
    /// The fields of an object, one at a time.
    type Object: ObjectDecoder<'a, Error = Self::Error>;

    /// [`Kind::Text`].
    fn text(self) -> Result<Cow<'a, str>, Self::Error>;
    /// [`Kind::OneOf`]: the index of the value in `values`.
    fn one_of(self, values: &'static [&'static str]) -> Result<usize, Self::Error>;
    /// [`Kind::Count`].
    fn count(self) -> Result<u64, Self::Error>;
    /// [`Kind::Number`].
    fn number(self) -> Result<Number, Self::Error>;
    /// [`Kind::Score`].
    fn score(self) -> Result<Number, Self::Error>;
    /// [`Kind::Flag`].
    fn flag(self) -> Result<bool, Self::Error>;
    /// [`Kind::TextList`].
    fn text_list(self) -> Result<Vec<String>, Self::Error>;
    /// [`Kind::Object`].
    fn object(self) -> Result<Map<String, Value>, Self::Error>;
    /// [`Kind::Fields`]: the object's members, for a type to build itself.
    fn fields(self, fields: &'static [Field]) -> Result<Self::Object, Self::Error>;
}

/// The members of an object described by a field table.
pub(crate) trait ObjectDecoder<'a> {
    /// Why a member cannot be read.
    type Error;

    /// The index of the next member the table describes, with a value still
    /// to read ([`value`](Self::value)), or `None` at the end. Members the
    /// table does not describe, and optional ones sent as `null`, go into
    /// `extra` as they are. A described key seen twice is an error.
    fn next(&mut self, extra: &mut Map<String, Value>) -> Result<Option<usize>, Self::Error>;
    /// The value of the member [`next`](Self::next) named.
    fn value<T: Shape>(&mut self) -> Result<T, Self::Error>;
    /// The error for a required field (by index) that was not there.
    fn missing(&self, index: usize) -> Self::Error;
}

impl<T: Shape> Shape for Option<T> {
    const KIND: Kind = T::KIND;
    const REQUIRED: bool = false;

    fn absent() -> Option<Self> {
        Some(None)
    }

    fn is_absent(&self) -> bool {
        self.is_none()
    }

    /// A present value: the walk never gives a `null` here (it keeps it aside).
    fn decode<'a, D: Decoder<'a>>(decoder: D) -> Result<Self, D::Error> {
        T::decode(decoder).map(Some)
    }
}

impl Shape for String {
    const KIND: Kind = Kind::Text;

    fn decode<'a, D: Decoder<'a>>(decoder: D) -> Result<Self, D::Error> {
        decoder.text().map(Cow::into_owned)
    }
}

impl Shape for u64 {
    const KIND: Kind = Kind::Count;

    fn decode<'a, D: Decoder<'a>>(decoder: D) -> Result<Self, D::Error> {
        decoder.count()
    }
}

impl Shape for Number {
    const KIND: Kind = Kind::Number;

    fn decode<'a, D: Decoder<'a>>(decoder: D) -> Result<Self, D::Error> {
        decoder.number()
    }
}

impl Shape for bool {
    const KIND: Kind = Kind::Flag;

    fn decode<'a, D: Decoder<'a>>(decoder: D) -> Result<Self, D::Error> {
        decoder.flag()
    }
}

impl Shape for Vec<String> {
    const KIND: Kind = Kind::TextList;

    fn decode<'a, D: Decoder<'a>>(decoder: D) -> Result<Self, D::Error> {
        decoder.text_list()
    }
}

impl Shape for Map<String, Value> {
    const KIND: Kind = Kind::Object;

    fn decode<'a, D: Decoder<'a>>(decoder: D) -> Result<Self, D::Error> {
        decoder.object()
    }
}

/// What a value of this kind is, for error messages: `expected {kind}`.
impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any | Self::Unknown => f.write_str("any JSON value"),
            Self::Text => f.write_str("a string"),
            Self::OneOf(values) => {
                f.write_str("one of ")?;
                for (index, value) in values.iter().enumerate() {
                    let separator = if index == 0 { "" } else { ", " };
                    write!(f, "{separator}{value:?}")?;
                }
                Ok(())
            }
            Self::Timestamp => {
                f.write_str("an RFC 3339 timestamp such as \"2024-01-15T10:30:00Z\"")
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
