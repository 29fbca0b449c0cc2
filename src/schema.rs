//! JSON Schema (draft 2020-12) for every event, generated from the Rust types
//! so the schema cannot drift from what [`parse_event`](crate::parse_event)
//! accepts. `cargo xtask codegen` writes them to `schema/`.

use alloc::format;
use alloc::vec::Vec;

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::Value;

use crate::event::{EventType, Timestamp};

const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// A self-contained schema for one event type (envelope and payload).
pub fn event_schema(event_type: EventType) -> Value {
    let mut generator = generator();
    let schema = envelope(event_type, &mut generator);
    root(schema, &mut generator)
}

/// A self-contained schema of `ThreeToneEvent`: one of the twelve event
/// schemas, discriminated on `event`.
pub fn union_schema() -> Value {
    let mut generator = generator();
    let branches: Vec<Schema> =
        EventType::ALL.iter().map(|&event_type| envelope(event_type, &mut generator)).collect();
    let schema = json_schema!({
        "title": "ThreeToneEvent",
        "description": "A ThreeTone webhook event, discriminated on `event`.",
        "oneOf": branches,
    });
    root(schema, &mut generator)
}

fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12().for_deserialize().into_generator()
}

fn envelope(event_type: EventType, generator: &mut SchemaGenerator) -> Schema {
    let timestamp = generator.subschema_for::<Timestamp>();
    let data = event_type.payload_schema(generator);
    json_schema!({
        "title": format!("{}Event", event_type.variant_name()),
        "type": "object",
        "properties": {
            "event": { "const": event_type.as_str() },
            "timestamp": timestamp,
            "data": data,
        },
        "required": ["event", "timestamp", "data"],
        "additionalProperties": true,
    })
}

fn root(mut schema: Schema, generator: &mut SchemaGenerator) -> Value {
    schema.insert("$schema".into(), DIALECT.into());
    schema.insert("$defs".into(), Value::Object(generator.take_definitions(true)));
    schema.to_value()
}
