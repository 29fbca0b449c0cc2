//! The validator: one pass over the body with serde_json's streaming
//! deserializer, checking every field against its [`Kind`] without building
//! any value. Fields nobody describes are skimmed, not copied: whoever needs
//! the event parses the same bytes (a `JSON.parse` in JS, [`crate::Event`] in
//! Rust) and keeps them.
//!
//! A key the validator checks must appear once: with duplicates, parsers
//! disagree on which value counts (the first or the last), and the body would
//! mean one thing here and another to the application.

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use core::cell::Cell;
use core::fmt;

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::shape::{Field, Kind};
use crate::error::PayloadError;
use crate::event::{EventType, SentimentScore, Timestamp};

/// The envelope of a body that passed validation, borrowed from it.
pub(crate) struct Envelope<'de> {
    pub(crate) name: Cow<'de, str>,
    pub(crate) event_type: Option<EventType>,
    pub(crate) timestamp: Timestamp,
    pub(crate) call_id: Option<Cow<'de, str>>,
}

/// Checks `body` against the envelope and its event type's payload.
///
/// Errors rank as a full parse would report them: a body that is not UTF-8
/// JSON is `invalid_json` even when a field before the broken part is wrong.
pub(crate) fn scan(body: &[u8]) -> Result<Envelope<'_>, PayloadError> {
    // JSON is UTF-8 (RFC 8259); checking it once up front lets the walk
    // borrow strings without checking each again.
    let text = core::str::from_utf8(body).map_err(|error| {
        let (before, _) = body.split_at(error.valid_up_to());
        let line_start = before.iter().rposition(|&byte| byte == b'\n').map_or(0, |at| at + 1);
        let line = 1 + before.iter().filter(|&&byte| byte == b'\n').count();
        PayloadError::InvalidJson { line, column: before.len() - line_start + 1 }
    })?;
    let failure = Cell::new(None);
    let mut json = serde_json::Deserializer::from_str(text);
    let scanned = json.deserialize_any(EnvelopeCheck { failure: &failure }).and_then(|envelope| {
        json.end()?;
        Ok(envelope)
    });
    scanned.map_err(|error| {
        let invalid_json = |error: serde_json::Error| PayloadError::InvalidJson {
            line: error.line(),
            column: error.column(),
        };
        if !error.is_data() {
            return invalid_json(error);
        }
        // The walk stopped at a shape error; the rest may not even be JSON.
        let mut rest = serde_json::Deserializer::from_str(text);
        if let Err(syntax) = Skip.deserialize(&mut rest).and_then(|()| rest.end()) {
            return invalid_json(syntax);
        }
        // Every shape error records its failure; serde_json raises none.
        failure.take().unwrap_or_else(|| invalid_json(error))
    })
}

/// Where a value sits, e.g. `$.data.topics_discussed[1]`; built on the stack
/// as the walk descends, and only written out for an error.
#[derive(Clone, Copy)]
struct Path<'p> {
    parent: Option<&'p Path<'p>>,
    segment: Segment,
}

#[derive(Clone, Copy)]
enum Segment {
    Root,
    Key(&'static str),
    Index(usize),
}

impl<'p> Path<'p> {
    const ROOT: Path<'static> = Path { parent: None, segment: Segment::Root };

    fn child(&'p self, segment: Segment) -> Path<'p> {
        Path { parent: Some(self), segment }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            parent.fmt(f)?;
        }
        match self.segment {
            Segment::Root => f.write_str("$"),
            Segment::Key(key) => write!(f, ".{key}"),
            Segment::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// Records the first failure with its path, and returns the error that stops
/// serde_json (its message is never shown: the recorded failure is).
#[cold]
#[inline(never)]
fn fail<E: de::Error>(
    failure: &Cell<Option<PayloadError>>,
    path: &Path<'_>,
    expected: impl fmt::Display,
) -> E {
    failure.set(Some(PayloadError::invalid(path.to_string(), expected.to_string())));
    E::custom("invalid payload")
}

/// The value found where another was expected, for error messages.
///
/// Not serde's `Unexpected`: its `Display` writes floats out, which links
/// core's float formatting (about 12 KB of Wasm); the path already points at
/// the value.
enum Found<'a> {
    Null,
    Flag,
    Unsigned(u64),
    Signed(i64),
    Float,
    Text(&'a str),
    Array,
    Object,
}

impl fmt::Display for Found<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Flag => f.write_str("a boolean"),
            Self::Unsigned(value) => write!(f, "integer {value}"),
            Self::Signed(value) => write!(f, "integer {value}"),
            Self::Float => f.write_str("a floating-point number"),
            Self::Text(text) => write!(f, "string {text:?}"),
            Self::Array => f.write_str("an array"),
            Self::Object => f.write_str("an object"),
        }
    }
}

/// Checks one value against `kind`. Yields the value when it is a string to
/// capture (the `call_id` a receiver logs and routes by).
struct ValueCheck<'a> {
    failure: &'a Cell<Option<PayloadError>>,
    path: Path<'a>,
    kind: &'static Kind,
    nullable: bool,
    capture: bool,
}

impl ValueCheck<'_> {
    #[cold]
    #[inline(never)]
    fn mismatch<E: de::Error>(&self, found: Found<'_>) -> E {
        fail(self.failure, &self.path, format_args!("expected {}, found {found}", self.kind))
    }

    fn accept<'de, E: de::Error>(
        &self,
        accepted: bool,
        found: Found<'_>,
    ) -> Result<Option<Cow<'de, str>>, E> {
        if accepted || matches!(self.kind, Kind::Any) {
            Ok(None)
        } else {
            Err(self.mismatch(found))
        }
    }

    fn number<'de, E: de::Error>(
        &self,
        value: f64,
        integer: bool,
        found: Found<'_>,
    ) -> Result<Option<Cow<'de, str>>, E> {
        let accepted = match self.kind {
            Kind::Number => true,
            Kind::Count => integer,
            Kind::Score => SentimentScore::in_range(value),
            _ => false,
        };
        self.accept(accepted, found)
    }

    fn text<'de, E: de::Error>(
        &self,
        text: &str,
        keep: impl FnOnce() -> Cow<'de, str>,
    ) -> Result<Option<Cow<'de, str>>, E> {
        let accepted = match self.kind {
            Kind::Text => true,
            Kind::OneOf(values) => values.contains(&text),
            _ => false,
        };
        self.accept(accepted, Found::Text(text))?;
        Ok(self.capture.then(keep))
    }

    /// Checks each field of an object against `fields`; yields its `call_id`.
    fn fields<'de, A: MapAccess<'de>>(
        &self,
        mut map: A,
        fields: &'static [Field],
    ) -> Result<Option<Cow<'de, str>>, A::Error> {
        let mut present = 0_u64; // bit i: fields[i] was seen (payloads! asserts < 64 fields)
        let mut call_id = None;
        while let Some(key) = map.next_key_seed(FieldKey(fields))? {
            let Some(index) = key else {
                map.next_value_seed(Skip)?;
                continue;
            };
            let field = &fields[index];
            let path = self.path.child(Segment::Key(field.name));
            if present & (1 << index) != 0 {
                return Err(fail(self.failure, &path, "each field once, found a duplicate"));
            }
            present |= 1 << index;
            let check = ValueCheck {
                failure: self.failure,
                path,
                kind: &field.kind,
                nullable: !field.required,
                capture: field.name == "call_id",
            };
            if let Some(text) = map.next_value_seed(check)? {
                call_id = Some(text);
            }
        }
        match fields
            .iter()
            .enumerate()
            .find(|(index, field)| field.required && present & (1 << index) == 0)
        {
            Some((_, missing)) => Err(fail(
                self.failure,
                &self.path.child(Segment::Key(missing.name)),
                "missing required field",
            )),
            None => Ok(call_id),
        }
    }
}

/// The `data` of an unknown event type may hold anything; a string `call_id`
/// is still picked up for logs.
static ANY_FIELDS: &[Field] = &[Field { name: "call_id", kind: Kind::Any, required: false }];

impl<'de> DeserializeSeed<'de> for ValueCheck<'_> {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueCheck<'_> {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.kind, f)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        self.accept(matches!(self.kind, Kind::Flag), Found::Flag)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        self.number(value as f64, true, Found::Unsigned(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        // serde_json only calls this for negative integers.
        self.number(value as f64, false, Found::Signed(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        self.number(value, false, Found::Float)
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        self.text(value, || Cow::Borrowed(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        self.text(value, || Cow::Owned(value.into()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.accept(self.nullable, Found::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        match self.kind {
            Kind::TextList => {
                for index in 0.. {
                    let element = ValueCheck {
                        failure: self.failure,
                        path: self.path.child(Segment::Index(index)),
                        kind: &Kind::Text,
                        nullable: false,
                        capture: false,
                    };
                    if seq.next_element_seed(element)?.is_none() {
                        break;
                    }
                }
                Ok(None)
            }
            Kind::Any => {
                while seq.next_element_seed(Skip)?.is_some() {}
                Ok(None)
            }
            _ => Err(self.mismatch(Found::Array)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        match self.kind {
            Kind::Fields(fields) => self.fields(map, fields),
            Kind::Any => self.fields(map, ANY_FIELDS),
            Kind::Object => {
                while map.next_entry_seed(Skip, Skip)?.is_some() {}
                Ok(None)
            }
            _ => Err(self.mismatch(Found::Object)),
        }
    }
}

/// Skips a value. Not `IgnoredAny`, which skims without a depth limit:
/// going through `deserialize_any` keeps serde_json's nesting limit (128), so
/// validation and a full parse into `Value` accept the same bodies.
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry_seed(Skip, Skip)?.is_some() {}
        Ok(())
    }
}

/// Reads a key as the index of the field it names, if any.
struct FieldKey(&'static [Field]);

impl<'de> DeserializeSeed<'de> for FieldKey {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for FieldKey {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|field| field.name == key))
    }
}

/// The envelope's keys; `data`'s kind depends on `event`.
static ENVELOPE: &[Field] = &[
    Field { name: "event", kind: Kind::Text, required: true },
    Field { name: "timestamp", kind: Kind::Text, required: true },
    Field { name: "data", kind: Kind::Any, required: false },
];
const EVENT: usize = 0;
const TIMESTAMP: usize = 1;
const DATA: usize = 2;

/// `data` checked in the stream, or set aside when it came before `event`.
enum Data<'de> {
    Checked(Option<Cow<'de, str>>),
    Deferred(&'de RawValue),
}

struct EnvelopeCheck<'a> {
    failure: &'a Cell<Option<PayloadError>>,
}

impl<'a> EnvelopeCheck<'a> {
    fn not_an_object<E: de::Error>(&self, found: Found<'_>) -> E {
        fail(self.failure, &Path::ROOT, format_args!("expected an object, found {found}"))
    }

    fn field<'p>(&self, path: &'p Path<'p>, index: usize) -> ValueCheck<'p>
    where
        'a: 'p,
    {
        let field = &ENVELOPE[index];
        ValueCheck {
            failure: self.failure,
            path: path.child(Segment::Key(field.name)),
            kind: &field.kind,
            nullable: false,
            capture: true,
        }
    }

    /// The check of `data` for this event type (anything, for an unknown one).
    fn data<'p>(&self, path: &'p Path<'p>, event_type: Option<EventType>) -> ValueCheck<'p>
    where
        'a: 'p,
    {
        ValueCheck {
            failure: self.failure,
            path: path.child(Segment::Key("data")),
            kind: event_type.map_or(&Kind::Any, EventType::payload_kind),
            nullable: event_type.is_none(),
            capture: false,
        }
    }
}

impl<'de> Visitor<'de> for EnvelopeCheck<'_> {
    type Value = Envelope<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(self.not_an_object(Found::Flag))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Err(self.not_an_object(Found::Unsigned(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Err(self.not_an_object(Found::Signed(value)))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(self.not_an_object(Found::Float))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Err(self.not_an_object(Found::Text(value)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.not_an_object(Found::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.not_an_object(Found::Array))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let root = Path::ROOT;
        let mut name = None;
        let mut timestamp = None;
        let mut data = None;
        let mut present = [false; 3];
        while let Some(key) = map.next_key_seed(FieldKey(ENVELOPE))? {
            let Some(index) = key else {
                map.next_value_seed(Skip)?;
                continue;
            };
            let check = self.field(&root, index);
            if core::mem::replace(&mut present[index], true) {
                return Err(fail(self.failure, &check.path, "each field once, found a duplicate"));
            }
            match index {
                EVENT => name = map.next_value_seed(check)?,
                TIMESTAMP => {
                    let text = map.next_value_seed(check)?.unwrap_or_default();
                    let Some(parsed) = Timestamp::parse(String::from(text.as_ref())) else {
                        return Err(fail(
                            self.failure,
                            &root.child(Segment::Key("timestamp")),
                            format_args!(
                                "expected an RFC 3339 timestamp such as \"2024-01-15T10:30:00Z\", found {text:?}"
                            ),
                        ));
                    };
                    timestamp = Some(parsed);
                }
                _ => {
                    data = Some(match &name {
                        Some(name) => Data::Checked(
                            map.next_value_seed(self.data(&root, EventType::from_name(name)))?,
                        ),
                        None => Data::Deferred(map.next_value()?),
                    });
                }
            }
        }
        let missing = |index: usize| {
            let path = root.child(Segment::Key(ENVELOPE[index].name));
            fail(self.failure, &path, "missing required field")
        };
        let name: Cow<'de, str> = name.ok_or_else(|| missing(EVENT))?;
        let timestamp = timestamp.ok_or_else(|| missing(TIMESTAMP))?;
        let event_type = EventType::from_name(&name);
        let call_id = match data {
            Some(Data::Checked(call_id)) => call_id,
            Some(Data::Deferred(raw)) => {
                let mut json = serde_json::Deserializer::from_str(raw.get());
                self.data(&root, event_type).deserialize(&mut json).map_err(de::Error::custom)?
            }
            None if event_type.is_some() => return Err(missing(DATA)),
            None => None,
        };
        Ok(Envelope { name, event_type, timestamp, call_id })
    }
}
