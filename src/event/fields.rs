//! Field types shared by the payloads: timestamps, bounded numbers, enums.
//!
//! Strict types reject values the documentation rules out (`direction` is
//! `inbound` or `outbound`; a sentiment score lies in [-1, 1]). Enum-like
//! strings that the documentation shows only by example are *open*: known
//! values get a variant, any other value is kept as [`Other`](EndReason::Other)
//! and serialized back unchanged, so a new value never rejects a genuine event.

use alloc::string::String;
use core::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Number;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::shape::{Decoder, Kind, Shape};

/// An RFC 3339 timestamp, kept exactly as sent.
///
/// ```
/// use threetone_webhooks::Timestamp;
///
/// let t = Timestamp::parse("2024-01-15T10:30:00Z").unwrap();
/// assert_eq!(t.unix_seconds(), 1_705_314_600);
/// assert_eq!(t.as_str(), "2024-01-15T10:30:00Z");
/// assert!(Timestamp::parse("15/01/2024").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    text: String,
    unix_seconds: i64,
}

impl Timestamp {
    /// Parses an RFC 3339 timestamp; `None` if `text` is not one.
    pub fn parse(text: impl Into<String>) -> Option<Self> {
        let text = text.into();
        let parsed = OffsetDateTime::parse(&text, &Rfc3339).ok()?;
        Some(Self { unix_seconds: parsed.unix_timestamp(), text })
    }

    /// The UTC timestamp for `unix_seconds`, written as `YYYY-MM-DDTHH:MM:SSZ`;
    /// `None` outside the years 0 to 9999.
    pub fn from_unix_seconds(unix_seconds: i64) -> Option<Self> {
        let utc = OffsetDateTime::from_unix_timestamp(unix_seconds).ok()?;
        if !(0..=9999).contains(&utc.year()) {
            return None;
        }
        let text = alloc::format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            utc.year(),
            u8::from(utc.month()),
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second()
        );
        Some(Self { text, unix_seconds })
    }

    /// Seconds since the Unix epoch (fractions of a second dropped).
    pub fn unix_seconds(&self) -> i64 {
        self.unix_seconds
    }

    /// The timestamp as it was sent.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(text).ok_or_else(|| {
            D::Error::custom("expected an RFC 3339 timestamp such as \"2024-01-15T10:30:00Z\"")
        })
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> alloc::borrow::Cow<'static, str> {
        "Timestamp".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 timestamp, e.g. 2024-01-15T10:30:00Z",
        })
    }
}

/// A sentiment score in [-1, 1], kept as the number that was sent.
///
/// The range is decided on the number's decimal text, never on a rounded
/// float, so every build agrees on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct SentimentScore(Number);

impl SentimentScore {
    /// The score as a float.
    pub fn value(&self) -> f64 {
        self.0.as_f64().unwrap_or(f64::NAN)
    }
}

impl Shape for SentimentScore {
    const KIND: Kind = Kind::Score;

    fn decode<'a, D: Decoder<'a>>(decoder: D) -> Result<Self, D::Error> {
        decoder.score().map(Self)
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for SentimentScore {
    fn schema_name() -> alloc::borrow::Cow<'static, str> {
        "SentimentScore".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "number", "minimum": -1, "maximum": 1 })
    }
}

/// Defines a closed enum: a variant per documented value, and nothing else
/// accepted. The values are listed once, here: the validator's table, the
/// build, serialization and the JSON Schema read them.
macro_rules! closed_enum {
    (
        $(#[doc = $doc:literal])*
        $name:ident { $($(#[doc = $variant_doc:literal])* $variant:ident = $value:literal,)+ }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[doc = $variant_doc])* $variant,)+
        }

        impl $name {
            /// Every value, in the order of [`VALUES`](Self::VALUES).
            const ALL: &'static [Self] = &[$(Self::$variant),+];
            /// The wire names.
            const VALUES: &'static [&'static str] = &[$($value),+];

            /// The value as sent on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $value,)+
                }
            }
        }

        impl Shape for $name {
            const KIND: Kind = Kind::OneOf(Self::VALUES);

            fn decode<'a, D: Decoder<'a>>(decoder: D) -> Result<Self, D::Error> {
                // An index into VALUES, which ALL follows.
                decoder.one_of(Self::VALUES).map(|index| Self::ALL[index])
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> alloc::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                // As schemars derives it for a unit enum: each value with its doc.
                let values = [$(schemars::json_schema!({
                    "const": $value,
                    "description": doc(&[$($variant_doc),*]),
                    "type": "string",
                })),+];
                schemars::json_schema!({ "description": doc(&[$($doc),*]), "oneOf": values })
            }
        }
    };
}

/// A doc comment's text, as schemars writes it into a description.
#[cfg(feature = "schema")]
fn doc(lines: &[&str]) -> String {
    let lines: alloc::vec::Vec<&str> =
        lines.iter().map(|line| line.strip_prefix(' ').unwrap_or(line)).collect();
    String::from(lines.join("\n").trim())
}

closed_enum! {
    /// Direction of a call. Documented values only.
    Direction {
        /// The customer called in.
        Inbound = "inbound",
        /// The agent called out.
        Outbound = "outbound",
    }
}

/// Defines an open enum: a variant per known value plus `Other(String)`.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$variant_meta:meta])* $variant:ident = $value:literal,)+ }) => {
        $(#[$meta])*
        ///
        /// Open: a value not listed here is kept in `Other` and serialized back
        /// as sent. Build values with `From<String>` so known ones map to their variant.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
            /// A value this version does not know.
            Other(String),
        }

        impl $name {
            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $value,)+
                    Self::Other(value) => value,
                }
            }
        }

        impl Shape for $name {
            const KIND: Kind = Kind::Text;

            fn decode<'a, D: Decoder<'a>>(decoder: D) -> Result<Self, D::Error> {
                let text = decoder.text()?;
                Ok(match &*text {
                    $($value => Self::$variant,)+
                    _ => Self::Other(text.into_owned()),
                })
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                match value.as_str() {
                    $($value => Self::$variant,)+
                    _ => Self::Other(value),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> alloc::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "description": "Open set: other values are accepted and kept.",
                    "examples": [$($value),+],
                })
            }
        }
    };
}

open_enum! {
    /// Where a call came from.
    CallSource {
        /// The customer's phone system (the documented example).
        PhoneSystem = "phone_system",
    }
}

open_enum! {
    /// Why a call ended.
    EndReason {
        /// The call ran to its end (the documented example).
        Completed = "completed",
    }
}

open_enum! {
    /// Outcome of the customer's request.
    ResolutionStatus {
        /// Resolved (the documented example).
        Resolved = "resolved",
    }
}

open_enum! {
    /// Overall sentiment of a conversation.
    Sentiment {
        /// Positive (the documented example).
        Positive = "positive",
        /// Neutral.
        Neutral = "neutral",
        /// Negative.
        Negative = "negative",
    }
}

open_enum! {
    /// Why a conversation was escalated.
    EscalationReason {
        /// The customer asked for a human (the documented example).
        CustomerRequestedHuman = "customer_requested_human",
    }
}

open_enum! {
    /// What triggered an escalation.
    EscalationTrigger {
        /// A keyword was detected (the documented example).
        KeywordDetected = "keyword_detected",
    }
}
