//! The walk over a body: one pass with the [`json`](super::json) reader,
//! checking every field against its [`Kind`] with its JSON path.
//!
//! Two uses share it, so they cannot disagree on what a body means:
//! validation ([`validate`]) checks each value and builds nothing (fields
//! nobody describes are skimmed, not copied: whoever needs the event parses
//! the same bytes, a `JSON.parse` in JS); parsing ([`parse`]) builds the
//! typed [`Event`] as it checks, each value through its type's
//! [`Shape::decode`] and the [`Decoder`] the walk implements. The envelope,
//! the null rule, duplicate and missing fields are decided here once.
//!
//! A key the walk checks must appear once: with duplicates, parsers
//! disagree on which value counts (the first or the last), and the body would
//! mean one thing here and another to the application.

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde_json::{Map, Value};

use super::json::{Number, Reader, SyntaxError, Text, Token};
use crate::error::{PayloadError, Quoted, ValidationError};
use crate::event::{
    DATA, Decoder, ENVELOPE, EVENT, Event, EventData, EventType, Field, Kind, ObjectDecoder, Shape,
    TIMESTAMP, Timestamp, UNKNOWN_CALL_ID,
};

/// The envelope of a body that passed validation, borrowed from it.
pub(crate) struct Envelope<'a> {
    pub(crate) name: Cow<'a, str>,
    pub(crate) event_type: Option<EventType>,
    pub(crate) timestamp: Timestamp,
    pub(crate) call_id: Option<Cow<'a, str>>,
}

/// Checks `body` against the envelope and its event type's payload.
pub(crate) fn validate(body: &[u8]) -> Result<Envelope<'_>, PayloadError> {
    let (name, event_type, timestamp, call_id) = walk(body, &mut Validation)?;
    Ok(Envelope { name, event_type, timestamp, call_id: call_id.flatten().map(Text::decode) })
}

/// Checks `body` as [`validate`] does, building the event on the way.
pub(crate) fn parse(body: &[u8]) -> Result<Event, PayloadError> {
    let mut parsing = Parsing { extra: Map::new() };
    let (name, _, timestamp, data) = walk(body, &mut parsing)?;
    let data = data.unwrap_or_else(|| EventData::Unknown { event: name.into_owned(), data: None });
    Ok(Event { timestamp, data, extra: parsing.extra })
}

/// What an envelope walk yields: the name, its type, the timestamp and what
/// the visitor made of `data` (nothing when an unknown event has none).
type Walked<'a, T> = (Cow<'a, str>, Option<EventType>, Timestamp, T);

/// Walks `body` with `visitor`.
///
/// Errors rank as a full parse would report them: a body that is not UTF-8
/// JSON is `invalid_json` even when a field before the broken part is wrong.
fn walk<'a, V: Visitor<'a>>(
    body: &'a [u8],
    visitor: &mut V,
) -> Result<Walked<'a, Option<V::Data>>, PayloadError> {
    let mut reader = Reader::new(body);
    let walked = envelope(&mut reader, visitor).and_then(|envelope| {
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
                    Ok(()) => return PayloadError::Invalid(invalid),
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
pub(crate) enum Stop {
    /// The body is not JSON.
    Syntax(SyntaxError),
    /// A value does not have the shape its field needs.
    Shape(ValidationError),
}

impl From<SyntaxError> for Stop {
    fn from(error: SyntaxError) -> Self {
        Self::Syntax(error)
    }
}

/// The shape error for the value at `path`.
#[cold]
#[inline(never)]
fn fail(path: &Path<'_>, expected: &dyn fmt::Display, found: &dyn fmt::Display) -> Stop {
    Stop::Shape(ValidationError {
        path: path.to_string(),
        expected: expected.to_string(),
        found: found.to_string(),
    })
}

/// The error for a required field that is not there.
#[cold]
#[inline(never)]
fn missing(object: &Path<'_>, field: &Field) -> Stop {
    let expected = format_args!("{} (a required field)", field.kind);
    fail(&object.child(Segment::Key(field.name)), &expected, &"nothing")
}

/// The value found where another was expected, for error messages.
///
/// Not serde's `Unexpected`: its `Display` writes floats out, which links
/// core's float formatting (BENCHMARKS.md, "Levers, one by one");
/// the path already points at the value.
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

/// One value to read, at its place in the body.
struct Walk<'r, 'a, 'p> {
    reader: &'r mut Reader<'a>,
    path: Path<'p>,
}

impl<'r, 'a, 'p> Walk<'r, 'a, 'p> {
    /// The error for a value (starting with `token`) that is not of `kind`.
    #[cold]
    #[inline(never)]
    fn reject(&self, kind: &Kind, token: Token<'_>) -> Stop {
        let text;
        let found = match token {
            Token::Null => Found::Null,
            Token::Bool(_) => Found::Flag,
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
        fail(&self.path, kind, &found)
    }

    // The reading of each kind, which validation and parsing both call.

    fn read_text(&mut self) -> Result<Text<'a>, Stop> {
        match self.reader.token()? {
            Token::String(text) => Ok(text),
            other => Err(self.reject(&Kind::Text, other)),
        }
    }

    fn read_one_of(&mut self, values: &'static [&'static str]) -> Result<usize, Stop> {
        let token = self.reader.token()?;
        if let Token::String(text) = token
            && let Some(index) = values.iter().position(|value| text.is(value))
        {
            return Ok(index);
        }
        Err(self.reject(&Kind::OneOf(values), token))
    }

    fn read_timestamp(&mut self) -> Result<Timestamp, Stop> {
        let token = self.reader.token()?;
        if let Token::String(text) = token
            && let Some(timestamp) = Timestamp::parse(text.decode())
        {
            return Ok(timestamp);
        }
        Err(self.reject(&Kind::Timestamp, token))
    }

    fn read_count(&mut self) -> Result<u64, Stop> {
        match self.reader.token()? {
            Token::Number(Number::Unsigned(value)) => Ok(value),
            other => Err(self.reject(&Kind::Count, other)),
        }
    }

    fn read_number(&mut self) -> Result<Number<'a>, Stop> {
        match self.reader.token()? {
            Token::Number(number) => Ok(number),
            other => Err(self.reject(&Kind::Number, other)),
        }
    }

    fn read_score(&mut self) -> Result<Number<'a>, Stop> {
        match self.reader.token()? {
            Token::Number(number) if number.within_unit() => Ok(number),
            other => Err(self.reject(&Kind::Score, other)),
        }
    }

    fn read_flag(&mut self) -> Result<bool, Stop> {
        match self.reader.token()? {
            Token::Bool(value) => Ok(value),
            other => Err(self.reject(&Kind::Flag, other)),
        }
    }

    /// An array of strings, each handed to `each`.
    fn read_text_list(&mut self, mut each: impl FnMut(Text<'a>)) -> Result<(), Stop> {
        match self.reader.token()? {
            Token::Array => {}
            other => return Err(self.reject(&Kind::TextList, other)),
        }
        let mut index = 0;
        while self.reader.next_element(index)? {
            let path = self.path.child(Segment::Index(index));
            each(Walk { reader: &mut *self.reader, path }.read_text()?);
            index += 1;
        }
        Ok(())
    }

    /// The opening `{` of an object of `kind` (any object, or one with fields).
    fn read_object_start(&mut self, kind: &Kind) -> Result<(), Stop> {
        match self.reader.token()? {
            Token::Object => Ok(()),
            other => Err(self.reject(kind, other)),
        }
    }

    /// The members of an object described by `fields`, its `{` read.
    fn members(self, fields: &'static [Field]) -> Members<'r, 'a, 'p> {
        Members { reader: self.reader, path: self.path, fields, present: 0, read: 0, current: 0 }
    }

    /// Checks the value against `kind`, building nothing. Yields the string
    /// a `call_id` would be: the value itself when a string, or the
    /// `call_id` of an object with fields.
    fn check(mut self, kind: &'static Kind) -> Result<Option<Text<'a>>, Stop> {
        match kind {
            Kind::Text => return self.read_text().map(Some),
            Kind::OneOf(values) => drop(self.read_one_of(values)?),
            Kind::Timestamp => drop(self.read_timestamp()?),
            Kind::Count => drop(self.read_count()?),
            Kind::Number => drop(self.read_number()?),
            Kind::Score => drop(self.read_score()?),
            Kind::Flag => drop(self.read_flag()?),
            Kind::TextList => self.read_text_list(drop)?,
            Kind::Object => {
                self.read_object_start(kind)?;
                self.reader.skip_rest(&Token::Object)?;
            }
            Kind::Any => match self.reader.token()? {
                Token::String(text) => return Ok(Some(text)),
                other => self.reader.skip_rest(&other)?,
            },
            Kind::Unknown => match self.reader.token()? {
                Token::Object => return self.members(UNKNOWN_FIELDS).check(),
                other => self.reader.skip_rest(&other)?,
            },
            Kind::Fields(fields) => {
                self.read_object_start(kind)?;
                return self.members(fields).check();
            }
        }
        Ok(None)
    }

    /// An unknown event's `data`, built as [`Kind::Unknown`] checks it.
    fn unknown(self) -> Result<Value, Stop> {
        match self.reader.token()? {
            Token::Object => {
                let mut data = Map::new();
                let mut members = self.members(UNKNOWN_FIELDS);
                while let Some(index) = members.next_member(&mut data)? {
                    let value = members.reader.value()?;
                    data.insert(UNKNOWN_FIELDS[index].name.into(), value);
                }
                Ok(Value::Object(data))
            }
            other => Ok(self.reader.value_of(other)?),
        }
    }
}

/// The fields of an unknown event's `data` the walk looks at: a string
/// `call_id` is picked up for logs (and, as any described key, must appear once).
static UNKNOWN_FIELDS: &[Field] =
    &[Field { name: UNKNOWN_CALL_ID, kind: Kind::Any, required: false, call_id: true }];

/// The typed build reads its values here: each method is the reading of its
/// kind above (the one validation uses), then the value kept.
impl<'r, 'a, 'p> Decoder<'a> for Walk<'r, 'a, 'p> {
    type Error = Stop;
    type Object = Members<'r, 'a, 'p>;

    fn text(mut self) -> Result<Cow<'a, str>, Stop> {
        self.read_text().map(Text::decode)
    }

    fn one_of(mut self, values: &'static [&'static str]) -> Result<usize, Stop> {
        self.read_one_of(values)
    }

    fn count(mut self) -> Result<u64, Stop> {
        self.read_count()
    }

    fn number(mut self) -> Result<serde_json::Number, Stop> {
        let number = self.read_number()?;
        Ok(self.reader.number_value(number)?)
    }

    fn score(mut self) -> Result<serde_json::Number, Stop> {
        let number = self.read_score()?;
        Ok(self.reader.number_value(number)?)
    }

    fn flag(mut self) -> Result<bool, Stop> {
        self.read_flag()
    }

    fn text_list(mut self) -> Result<Vec<String>, Stop> {
        let mut list = Vec::new();
        self.read_text_list(|text| list.push(text.decode().into_owned()))?;
        Ok(list)
    }

    fn object(mut self) -> Result<Map<String, Value>, Stop> {
        self.read_object_start(&Kind::Object)?;
        Ok(self.reader.members()?)
    }

    fn fields(mut self, fields: &'static [Field]) -> Result<Members<'r, 'a, 'p>, Stop> {
        self.read_object_start(&Kind::Fields(fields))?;
        Ok(self.members(fields))
    }
}

/// Where an object's members nobody describes go, and its optional fields
/// sent as `null`: skimmed by validation, kept by parsing.
trait Sink<'a> {
    /// A member whose key no field has; its value is next.
    fn other(&mut self, key: Text<'a>, reader: &mut Reader<'a>) -> Result<(), Stop>;
    /// An optional field sent as `null` (already read).
    fn null(&mut self, name: &'static str);
}

/// Validation: nothing is kept.
struct Validation;

impl<'a> Sink<'a> for Validation {
    fn other(&mut self, _: Text<'a>, reader: &mut Reader<'a>) -> Result<(), Stop> {
        Ok(reader.skip()?)
    }

    fn null(&mut self, _: &'static str) {}
}

/// Parsing: kept as sent, with the fields nobody describes.
impl<'a> Sink<'a> for Map<String, Value> {
    fn other(&mut self, key: Text<'a>, reader: &mut Reader<'a>) -> Result<(), Stop> {
        let value = reader.value()?;
        // A repeated unknown key keeps its last value, as in serde_json.
        self.insert(key.decode().into_owned(), value);
        Ok(())
    }

    fn null(&mut self, name: &'static str) {
        self.insert(name.into(), Value::Null);
    }
}

/// The members of an object described by a field table, one at a time.
pub(crate) struct Members<'r, 'a, 'p> {
    reader: &'r mut Reader<'a>,
    /// The object's.
    path: Path<'p>,
    fields: &'static [Field],
    /// Bit i: `fields[i]` was seen (`payloads!` asserts fewer than 64 fields).
    present: u64,
    /// Members read so far.
    read: usize,
    /// The field [`next_member`](Self::next_member) named last.
    current: usize,
}

impl<'a> Members<'_, 'a, '_> {
    /// The index of the next member the table describes, with its value
    /// still to read, or `None` at the end (the object is closed). The
    /// others go to `sink`, and so do optional fields sent as `null`: the
    /// null rule, for every object the walk reads.
    fn next_member(&mut self, sink: &mut impl Sink<'a>) -> Result<Option<usize>, Stop> {
        while let Some(key) = self.reader.next_key(self.read)? {
            self.read += 1;
            let Some(index) = self.fields.iter().position(|field| key.is(field.name)) else {
                sink.other(key, self.reader)?;
                continue;
            };
            let field = &self.fields[index];
            if self.present & (1 << index) != 0 {
                let path = self.path.child(Segment::Key(field.name));
                return Err(fail(&path, &"each field once", &"a duplicate"));
            }
            self.present |= 1 << index;
            if !field.required && self.reader.null()? {
                sink.null(field.name);
                continue;
            }
            self.current = index;
            return Ok(Some(index));
        }
        Ok(None)
    }

    /// The value of the member [`next_member`](Self::next_member) named.
    fn value_walk(&mut self) -> Walk<'_, 'a, '_> {
        let path = self.path.child(Segment::Key(self.fields[self.current].name));
        Walk { reader: &mut *self.reader, path }
    }

    /// Checks every member, building nothing; yields the `call_id` field's string.
    fn check(mut self) -> Result<Option<Text<'a>>, Stop> {
        let mut call_id = None;
        while let Some(index) = self.next_member(&mut Validation)? {
            let field = &self.fields[index];
            let text = self.value_walk().check(&field.kind)?;
            if field.call_id {
                call_id = text;
            }
        }
        let seen = self.present;
        match self
            .fields
            .iter()
            .enumerate()
            .find(|(index, field)| field.required && seen & (1 << index) == 0)
        {
            Some((_, field)) => Err(missing(&self.path, field)),
            None => Ok(call_id),
        }
    }
}

impl<'a> ObjectDecoder<'a> for Members<'_, 'a, '_> {
    type Error = Stop;

    fn next(&mut self, extra: &mut Map<String, Value>) -> Result<Option<usize>, Stop> {
        self.next_member(extra)
    }

    fn value<T: Shape>(&mut self) -> Result<T, Stop> {
        T::decode(self.value_walk())
    }

    fn missing(&self, index: usize) -> Stop {
        missing(&self.path, &self.fields[index])
    }
}

/// What an envelope walk makes of `data` (and of the members nobody describes).
trait Visitor<'a>: Sink<'a> {
    /// What it makes of `data`.
    type Data;
    /// `data`, for an event named `name` (of the known type `event_type`, or not).
    fn data(
        &mut self,
        walk: Walk<'_, 'a, '_>,
        name: &str,
        event_type: Option<EventType>,
    ) -> Result<Self::Data, Stop>;
}

/// Validation checks `data` against its type's table and keeps its call id.
impl<'a> Visitor<'a> for Validation {
    type Data = Option<Text<'a>>;

    fn data(
        &mut self,
        walk: Walk<'_, 'a, '_>,
        _: &str,
        event_type: Option<EventType>,
    ) -> Result<Self::Data, Stop> {
        walk.check(event_type.map_or(&Kind::Unknown, EventType::payload_kind))
    }
}

/// Parsing builds the payload, and keeps the envelope's other members.
struct Parsing {
    extra: Map<String, Value>,
}

impl<'a> Sink<'a> for Parsing {
    fn other(&mut self, key: Text<'a>, reader: &mut Reader<'a>) -> Result<(), Stop> {
        self.extra.other(key, reader)
    }

    fn null(&mut self, name: &'static str) {
        self.extra.null(name);
    }
}

impl<'a> Visitor<'a> for Parsing {
    type Data = EventData;

    fn data(
        &mut self,
        walk: Walk<'_, 'a, '_>,
        name: &str,
        event_type: Option<EventType>,
    ) -> Result<EventData, Stop> {
        match event_type {
            Some(event_type) => EventData::decode(event_type, walk),
            None => Ok(EventData::Unknown { event: name.into(), data: Some(walk.unknown()?) }),
        }
    }
}

/// `data` walked in the stream, or skipped when it came before `event`,
/// with the place to come back to.
enum Data<'a, T> {
    Walked(T),
    Deferred(Reader<'a>),
}

/// Reads the envelope, and `data` by the type `event` names.
fn envelope<'a, V: Visitor<'a>>(
    reader: &mut Reader<'a>,
    visitor: &mut V,
) -> Result<Walked<'a, Option<V::Data>>, Stop> {
    let root = Path::ROOT;
    let mut walk = Walk { reader, path: root };
    walk.read_object_start(&Kind::Object)?;
    let mut members = walk.members(&ENVELOPE);
    let mut name: Option<Cow<'a, str>> = None;
    let mut timestamp = None;
    let mut data = None;
    while let Some(index) = members.next_member(visitor)? {
        match index {
            EVENT => name = Some(members.value_walk().read_text()?.decode()),
            TIMESTAMP => timestamp = Some(members.value_walk().read_timestamp()?),
            _ => {
                data = Some(match &name {
                    Some(name) => {
                        let event_type = EventType::from_name(name);
                        Data::Walked(visitor.data(members.value_walk(), name, event_type)?)
                    }
                    None => {
                        let saved = members.reader.clone();
                        members.reader.skip()?;
                        Data::Deferred(saved)
                    }
                });
            }
        }
    }
    let absent = |index: usize| missing(&root, &ENVELOPE[index]);
    let name = name.ok_or_else(|| absent(EVENT))?;
    let timestamp = timestamp.ok_or_else(|| absent(TIMESTAMP))?;
    let event_type = EventType::from_name(&name);
    let data = match data {
        Some(Data::Walked(data)) => Some(data),
        Some(Data::Deferred(mut saved)) => {
            let path = root.child(Segment::Key(ENVELOPE[DATA].name));
            Some(visitor.data(Walk { reader: &mut saved, path }, &name, event_type)?)
        }
        // Only an event of a type this version does not know may leave it out.
        None if event_type.is_some() => return Err(absent(DATA)),
        None => None,
    };
    Ok((name, event_type, timestamp, data))
}
