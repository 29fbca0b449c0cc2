//! The validator: one pass over the body with the [`json`](super::json)
//! reader, checking every field against its [`Kind`] without building any
//! value. Fields nobody describes are skimmed, not copied: whoever needs the
//! event parses the same bytes (a `JSON.parse` in JS, [`crate::Event`] in
//! Rust) and keeps them.
//!
//! A key the validator checks must appear once: with duplicates, parsers
//! disagree on which value counts (the first or the last), and the body would
//! mean one thing here and another to the application.

use alloc::borrow::Cow;
use alloc::string::ToString;
use core::fmt;

use super::json::{Number, Reader, SyntaxError, Token};
use super::shape::{Field, Kind};
use crate::error::{PayloadError, Quoted};
use crate::event::{EventType, Timestamp};

/// The envelope of a body that passed validation, borrowed from it.
pub(crate) struct Envelope<'a> {
    pub(crate) name: Cow<'a, str>,
    pub(crate) event_type: Option<EventType>,
    pub(crate) timestamp: Timestamp,
    pub(crate) call_id: Option<Cow<'a, str>>,
}

/// Checks `body` against the envelope and its event type's payload.
///
/// Errors rank as a full parse would report them: a body that is not UTF-8
/// JSON is `invalid_json` even when a field before the broken part is wrong.
pub(crate) fn scan(body: &[u8]) -> Result<Envelope<'_>, PayloadError> {
    let mut reader = Reader::new(body);
    let walked = envelope(&mut reader).and_then(|envelope| {
        reader.end()?;
        Ok(envelope)
    });
    walked.map_err(|stop| {
        let syntax = match stop {
            Stop::Syntax(error) => error,
            // The walk stopped at a shape error; the rest may not even be JSON.
            Stop::Shape(invalid) => {
                let mut rest = Reader::new(body);
                match rest.skip().and_then(|()| rest.end()) {
                    Ok(()) => return invalid,
                    Err(error) => error,
                }
            }
        };
        let (line, column) = syntax.line_and_column(body);
        PayloadError::InvalidJson { line, column }
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

/// Why the walk stopped.
enum Stop {
    /// The body is not JSON.
    Syntax(SyntaxError),
    /// A value does not have the shape its field needs.
    Shape(PayloadError),
}

impl From<SyntaxError> for Stop {
    fn from(error: SyntaxError) -> Self {
        Self::Syntax(error)
    }
}

/// The shape error for the value at `path`.
#[cold]
#[inline(never)]
fn fail(path: &Path<'_>, expected: impl fmt::Display) -> Stop {
    Stop::Shape(PayloadError::invalid(path.to_string(), expected.to_string()))
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
            Self::Text(text) => write!(f, "string {}", Quoted(text)),
            Self::Array => f.write_str("an array"),
            Self::Object => f.write_str("an object"),
        }
    }
}

/// Checks one value against `kind`. Yields the value when it is a string to
/// capture (the `call_id` a receiver logs and routes by).
struct ValueCheck<'p> {
    path: Path<'p>,
    kind: &'static Kind,
    nullable: bool,
    capture: bool,
}

impl ValueCheck<'_> {
    /// The error for a value this check does not accept.
    #[cold]
    #[inline(never)]
    fn reject(&self, token: Token<'_>) -> Stop {
        let text;
        let found = match token {
            Token::Null => Found::Null,
            Token::Bool => Found::Flag,
            Token::Number(Number::Unsigned(value)) => Found::Unsigned(value),
            Token::Number(Number::Negative(value)) => Found::Signed(value),
            Token::Number(Number::Float(_)) => Found::Float,
            Token::String(string) => {
                text = string.decode();
                Found::Text(&text)
            }
            Token::Array => Found::Array,
            Token::Object => Found::Object,
        };
        fail(&self.path, format_args!("expected {}, found {found}", self.kind))
    }

    /// Reads the next value and checks it.
    fn check<'a>(&self, reader: &mut Reader<'a>) -> Result<Option<Cow<'a, str>>, Stop> {
        let token = reader.token()?;
        let accepted = match token {
            Token::Null => self.nullable,
            Token::Bool => matches!(self.kind, Kind::Flag),
            Token::Number(number) => self.number(number),
            Token::String(text) => match self.kind {
                Kind::Text => true,
                Kind::OneOf(values) => values.iter().any(|value| text.is(value)),
                _ => false,
            },
            Token::Array => return self.array(reader),
            Token::Object => return self.object(reader),
        };
        if !accepted && !matches!(self.kind, Kind::Any) {
            return Err(self.reject(token));
        }
        Ok(match token {
            Token::String(text) if self.capture => Some(text.decode()),
            _ => None,
        })
    }

    fn number(&self, number: Number<'_>) -> bool {
        match self.kind {
            Kind::Number => true,
            Kind::Count => matches!(number, Number::Unsigned(_)),
            Kind::Score => number.within_unit(),
            _ => false,
        }
    }

    fn array(&self, reader: &mut Reader<'_>) -> Result<Option<Cow<'static, str>>, Stop> {
        match self.kind {
            Kind::TextList => {
                let mut index = 0;
                while reader.next_element(index)? {
                    let element = ValueCheck {
                        path: self.path.child(Segment::Index(index)),
                        kind: &Kind::Text,
                        nullable: false,
                        capture: false,
                    };
                    element.check(reader)?;
                    index += 1;
                }
            }
            Kind::Any => reader.skip_rest(&Token::Array)?,
            _ => return Err(self.reject(Token::Array)),
        }
        Ok(None)
    }

    fn object<'a>(&self, reader: &mut Reader<'a>) -> Result<Option<Cow<'a, str>>, Stop> {
        match self.kind {
            Kind::Fields(fields) => self.fields(reader, fields),
            Kind::Any => self.fields(reader, ANY_FIELDS),
            Kind::Object => {
                reader.skip_rest(&Token::Object)?;
                Ok(None)
            }
            _ => Err(self.reject(Token::Object)),
        }
    }

    /// Checks each member of an object against `fields`; yields its `call_id`.
    fn fields<'a>(
        &self,
        reader: &mut Reader<'a>,
        fields: &'static [Field],
    ) -> Result<Option<Cow<'a, str>>, Stop> {
        let mut present = 0_u64; // bit i: fields[i] was seen (payloads! asserts < 64 fields)
        let mut call_id = None;
        let mut members = 0;
        while let Some(index) = next_field(reader, &mut members, fields)? {
            let field = &fields[index];
            let path = self.path.child(Segment::Key(field.name));
            if present & (1 << index) != 0 {
                return Err(fail(&path, "each field once, found a duplicate"));
            }
            present |= 1 << index;
            let check = ValueCheck {
                path,
                kind: &field.kind,
                nullable: !field.required,
                capture: field.name == "call_id",
            };
            if let Some(text) = check.check(reader)? {
                call_id = Some(text);
            }
        }
        match fields
            .iter()
            .enumerate()
            .find(|(index, field)| field.required && present & (1 << index) == 0)
        {
            Some((_, missing)) => {
                Err(fail(&self.path.child(Segment::Key(missing.name)), "missing required field"))
            }
            None => Ok(call_id),
        }
    }
}

/// Reads an object's members up to the next one whose key names one of
/// `fields`, skipping the others: that field's index, or `None` at the end.
/// `members` counts the members read so far.
fn next_field(
    reader: &mut Reader<'_>,
    members: &mut usize,
    fields: &[Field],
) -> Result<Option<usize>, Stop> {
    while let Some(key) = reader.next_key(*members)? {
        *members += 1;
        if let Some(index) = fields.iter().position(|field| key.is(field.name)) {
            return Ok(Some(index));
        }
        reader.skip()?;
    }
    Ok(None)
}

/// The `data` of an unknown event type may hold anything; a string `call_id`
/// is still picked up for logs.
static ANY_FIELDS: &[Field] = &[Field { name: "call_id", kind: Kind::Any, required: false }];

/// The envelope's keys; `data`'s kind depends on `event`.
static ENVELOPE: &[Field] = &[
    Field { name: "event", kind: Kind::Text, required: true },
    Field { name: "timestamp", kind: Kind::Text, required: true },
    Field { name: "data", kind: Kind::Any, required: false },
];
const EVENT: usize = 0;
const TIMESTAMP: usize = 1;
const DATA: usize = 2;

/// `data` checked in the stream, or skipped when it came before `event`,
/// with the place to come back to.
enum Data<'a> {
    Checked(Option<Cow<'a, str>>),
    Deferred(Reader<'a>),
}

/// The check of an envelope field.
fn envelope_field<'p>(path: &'p Path<'p>, index: usize) -> ValueCheck<'p> {
    let field = &ENVELOPE[index];
    ValueCheck {
        path: path.child(Segment::Key(field.name)),
        kind: &field.kind,
        nullable: false,
        capture: true,
    }
}

/// The check of `data` for this event type (anything, for an unknown one).
fn data_check<'p>(path: &'p Path<'p>, event_type: Option<EventType>) -> ValueCheck<'p> {
    ValueCheck {
        path: path.child(Segment::Key("data")),
        kind: event_type.map_or(&Kind::Any, EventType::payload_kind),
        nullable: event_type.is_none(),
        capture: false,
    }
}

/// Reads the envelope and checks `data` against the payload of its type.
fn envelope<'a>(reader: &mut Reader<'a>) -> Result<Envelope<'a>, Stop> {
    let root = Path::ROOT;
    match reader.token()? {
        Token::Object => {}
        other => {
            let object =
                ValueCheck { path: root, kind: &Kind::Object, nullable: false, capture: false };
            return Err(object.reject(other));
        }
    }
    let mut name = None;
    let mut timestamp = None;
    let mut data = None;
    let mut present = [false; 3];
    let mut members = 0;
    while let Some(index) = next_field(reader, &mut members, ENVELOPE)? {
        let check = envelope_field(&root, index);
        if core::mem::replace(&mut present[index], true) {
            return Err(fail(&check.path, "each field once, found a duplicate"));
        }
        match index {
            EVENT => name = check.check(reader)?,
            TIMESTAMP => {
                let text = check.check(reader)?.unwrap_or_default();
                let Some(parsed) = Timestamp::parse(text.as_ref()) else {
                    return Err(fail(
                        &check.path,
                        format_args!(
                            "expected an RFC 3339 timestamp such as \"2024-01-15T10:30:00Z\", found {}",
                            Quoted(&text)
                        ),
                    ));
                };
                timestamp = Some(parsed);
            }
            _ => {
                data = Some(match &name {
                    Some(name) => {
                        Data::Checked(data_check(&root, EventType::from_name(name)).check(reader)?)
                    }
                    None => {
                        let saved = reader.clone();
                        reader.skip()?;
                        Data::Deferred(saved)
                    }
                });
            }
        }
    }
    let missing = |index: usize| {
        fail(&root.child(Segment::Key(ENVELOPE[index].name)), "missing required field")
    };
    let name: Cow<'a, str> = name.ok_or_else(|| missing(EVENT))?;
    let timestamp = timestamp.ok_or_else(|| missing(TIMESTAMP))?;
    let event_type = EventType::from_name(&name);
    let call_id = match data {
        Some(Data::Checked(call_id)) => call_id,
        Some(Data::Deferred(mut saved)) => data_check(&root, event_type).check(&mut saved)?,
        None if event_type.is_some() => return Err(missing(DATA)),
        None => None,
    };
    Ok(Envelope { name, event_type, timestamp, call_id })
}
