//! TOML files read as JSON values (toml_edit's parser; dates become strings):
//! what the version and migration checks compare.

use std::path::Path;

use serde_json::{Map, Value};
use toml_edit::{Item, Table};

/// The file at `path`, as a JSON object.
pub fn read(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    parse(&text).map_err(|error| format!("{}: {error}", path.display()))
}

/// TOML text as a JSON object.
pub fn parse(text: &str) -> Result<Value, String> {
    let document = toml_edit::Document::parse(text).map_err(|error| error.to_string())?;
    Ok(item(document.as_item()))
}

fn item(item: &Item) -> Value {
    match item {
        Item::None => Value::Null,
        Item::Value(value) => self::value(value),
        Item::Table(table) => self::table(table),
        Item::ArrayOfTables(tables) => Value::Array(tables.iter().map(self::table).collect()),
    }
}

fn table(table: &Table) -> Value {
    Value::Object(table.iter().map(|(key, value)| (key.to_string(), item(value))).collect())
}

fn value(value: &toml_edit::Value) -> Value {
    use toml_edit::Value as Toml;
    match value {
        Toml::String(text) => Value::String(text.value().clone()),
        Toml::Integer(number) => Value::from(*number.value()),
        Toml::Float(number) => Value::from(*number.value()),
        Toml::Boolean(flag) => Value::Bool(*flag.value()),
        Toml::Datetime(time) => Value::String(time.value().to_string()),
        Toml::Array(array) => Value::Array(array.iter().map(self::value).collect()),
        Toml::InlineTable(table) => Value::Object(
            table
                .iter()
                .map(|(key, value)| (key.to_string(), self::value(value)))
                .collect::<Map<_, _>>(),
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_arrays_of_tables_and_inline_tables_become_json() {
        let text = "name = \"x\"\n[a]\nn = 1\nb = true\nlist = [\"p\", { q = 2.5 }]\n[[m]]\ntag = \"v1\"\n[[m]]\ntag = \"v2\"\n";
        assert_eq!(
            super::parse(text).unwrap(),
            serde_json::json!({
                "name": "x",
                "a": { "n": 1, "b": true, "list": ["p", { "q": 2.5 }] },
                "m": [{ "tag": "v1" }, { "tag": "v2" }],
            })
        );
        assert!(super::parse("a = ").is_err());
    }
}
