//! The validator's JSON reader against serde_json, the parser of record: on
//! any body, validation says `invalid_json` exactly when serde_json refuses
//! to parse it, and the position it reports points at the broken byte.

use proptest::prelude::*;
use serde_json::Value;
use threetone_webhooks::{
    EventType, Options, PayloadError, Timestamp, sample_event, validate_event,
};

/// Whether serde_json parses `body` as a JSON value.
fn serde_json_accepts(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body).is_ok()
}

/// Whether validation calls `body` invalid JSON (any other outcome means the
/// reader took it for JSON).
fn validator_says_invalid_json(body: &[u8]) -> bool {
    matches!(validate_event(body, &Options::default()), Err(PayloadError::InvalidJson { .. }))
}

fn assert_agree(body: &[u8]) {
    assert_eq!(
        validator_says_invalid_json(body),
        !serde_json_accepts(body),
        "validator and serde_json disagree on {:?}",
        String::from_utf8_lossy(body)
    );
}

/// Pieces that sit on the edges of the grammar, to splice into bodies.
const PIECES: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\\u",
    b"\\u00e9",
    b"\\uD83D\\uDE00",
    b"\\ud83d",
    b"\\uDC00",
    b"\\uD83Dx",
    b"\\uD83D\\u0041",
    b"\\x",
    b"\\/",
    b"\\b\\f\\n\\r\\t",
    b",",
    b":",
    b"[",
    b"]",
    b"{",
    b"}",
    b"[]",
    b"{}",
    b",]",
    b",}",
    b"1e400",
    b"-1e400",
    b"1e308",
    b"1e-400",
    b"1.7976931348623159e308",
    b"-0",
    b"0x1",
    b"01",
    b"1.",
    b".5",
    b"1e",
    b"1e+",
    b"-",
    b"+1",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"tru",
    b"nul",
    b"false",
    b"null",
    b" ",
    b"\t",
    b"\r\n",
    b"\x0b",
    b"\x00",
    b"\x1f",
    b"\x7f",
    b"\xc3\xa9",
    b"\xff",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xe2\x82",
    b"\xef\xbb\xbf",
    "é日本語😀".as_bytes(),
];

/// A valid event of any type, or a small JSON text.
fn seed() -> impl Strategy<Value = Vec<u8>> {
    let event = prop::sample::select(EventType::ALL.to_vec()).prop_map(|event_type| {
        let now = Timestamp::from_unix_seconds(1_705_314_600).unwrap();
        sample_event(event_type, &now, "p1").into_bytes()
    });
    let small = prop::sample::select(vec![
        r#"{"event":"x","timestamp":"2024-01-15T10:30:00Z","data":{"a":[1,2.5,-3e2,"s",null,true]}}"#,
        r#"{"data":{"call_id":"c\u0031"},"event":"agent_busy","timestamp":"2024-01-15T10:30:00Z"}"#,
        r#"[1, {"a": "b"}, []]"#,
        r#""text""#,
        "0",
        "",
    ])
    .prop_map(|text| text.as_bytes().to_vec());
    prop_oneof![3 => event, 1 => small]
}

/// One edit: splice a piece in, cut a range out, or overwrite a byte.
#[derive(Debug, Clone)]
enum Edit {
    Insert { at: prop::sample::Index, piece: &'static [u8] },
    Remove { at: prop::sample::Index, length: usize },
    Replace { at: prop::sample::Index, byte: u8 },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<prop::sample::Index>(), prop::sample::select(PIECES))
            .prop_map(|(at, piece)| Edit::Insert { at, piece }),
        (any::<prop::sample::Index>(), 1..4usize)
            .prop_map(|(at, length)| Edit::Remove { at, length }),
        (any::<prop::sample::Index>(), any::<u8>())
            .prop_map(|(at, byte)| Edit::Replace { at, byte }),
    ]
}

fn apply(body: &mut Vec<u8>, edit: &Edit) {
    match edit {
        Edit::Insert { at, piece } => {
            let at = at.index(body.len() + 1);
            body.splice(at..at, piece.iter().copied());
        }
        Edit::Remove { at, length } if !body.is_empty() => {
            let at = at.index(body.len());
            body.drain(at..(at + length).min(body.len()));
        }
        Edit::Replace { at, byte } if !body.is_empty() => {
            let at = at.index(body.len());
            body[at] = *byte;
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn validation_calls_a_body_invalid_json_exactly_when_serde_json_refuses_it(
        seed in seed(),
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let mut body = seed;
        for edit in &edits {
            apply(&mut body, edit);
        }
        prop_assert_eq!(
            validator_says_invalid_json(&body),
            !serde_json_accepts(&body),
            "disagree on {:?}",
            String::from_utf8_lossy(&body)
        );
    }
}

#[test]
fn nesting_is_limited_as_serde_json_limits_it() {
    for depth in [126, 127, 128, 129] {
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        let data = format!(
            r#"{{"event":"new_type","timestamp":"2024-01-15T10:30:00Z","data":{}}}"#,
            "[".repeat(depth - 1) + &"]".repeat(depth - 1)
        );
        let data_first = format!(
            r#"{{"data":{},"event":"new_type","timestamp":"2024-01-15T10:30:00Z"}}"#,
            "[".repeat(depth - 1) + &"]".repeat(depth - 1)
        );
        for body in [arrays, objects, data, data_first] {
            assert_agree(body.as_bytes());
        }
    }
}

#[test]
fn strings_are_checked_as_serde_json_checks_them() {
    let string = |inner: &[u8]| {
        let mut body =
            br#"{"event":"agent_busy","timestamp":"2024-01-15T10:30:00Z","data":{"call_id":"#
                .to_vec();
        body.push(b'"');
        body.extend_from_slice(inner);
        body.extend_from_slice(b"\"}}");
        body
    };
    for inner in [
        &b"plain"[..],
        "日本語 and é".as_bytes(),
        b"\\u00e9\\uD83D\\uDE00",
        b"\\uD83D",
        b"\\uDE00",
        b"\\uD83D\\u0041",
        b"\\uD83Dabc",
        b"\\u12",
        b"\\u12G4",
        b"\\a",
        b"tab\there",
        b"del\x7f",
        b"\xc3",
        b"\xc3\xa9\xff",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xe0\x80\x80",
        // Long enough for the eight-byte scan, a special byte in each place.
        b"0123456789abcdef\"",
        b"0123456789abcde\\\\f",
        b"01234567\x0189abcdef",
        b"0123456789abcd\xc3\xa9ef0123456789",
    ] {
        assert_agree(&string(inner));
    }
}

#[test]
fn numbers_are_read_as_serde_json_reads_them() {
    for number in [
        "0",
        "-0",
        "1",
        "-1",
        "0.5",
        "-0.5e-3",
        "1E5",
        "1e+5",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "1e308",
        "1e309",
        "1.7976931348623157e308",
        "1.7976931348623159e308",
        "-1e400",
        "1e-400",
        "01",
        "1.",
        ".5",
        "1e",
        "-",
        "+1",
        "0x10",
        "1_000",
    ] {
        let body =
            format!(r#"{{"event":"new_type","timestamp":"2024-01-15T10:30:00Z","data":{number}}}"#);
        assert_agree(body.as_bytes());
        let body = format!(
            r#"{{"event":"new_type","timestamp":"2024-01-15T10:30:00Z","data":{{"n":{number}}}}}"#
        );
        assert_agree(body.as_bytes());
    }
    assert_agree(format!("1{}", "0".repeat(400)).as_bytes());
    assert_agree(format!("1{}", "0".repeat(300)).as_bytes());
}

#[test]
fn an_escaped_key_names_the_same_field() {
    let body = br#"{"\u0065vent":"agent_busy","timestamp":"2024-01-15T10:30:00Z","data":{"call\u005fid":"c\u00e9"}}"#;
    let event = validate_event(body, &Options::default()).unwrap();
    assert_eq!(event.event_type(), Some(EventType::AgentBusy));
    assert_eq!(event.call_id(), Some("cé"));
}

#[test]
fn positions_point_at_the_broken_byte() {
    let position = |body: &str| match validate_event(body.as_bytes(), &Options::default()) {
        Err(PayloadError::InvalidJson { line, column }) => (line, column),
        other => panic!("not invalid JSON: {other:?}"),
    };
    assert_eq!(position(r#"{"event":}"#), (1, 10));
    assert_eq!(position("{\n  \"event\": \"x\",\n  \"data\": tru\n}"), (3, 14));
    assert_eq!(position(r#"{"event":"agent_busy","data":{"call_id":5}} x"#), (1, 45));
    assert_eq!(position(r#"{"event":"a"#), (1, 12));
    assert_eq!(position("{\"event\":\"\u{e9}\u{1}\"}"), (1, 13));
    assert_eq!(position("{\"event\":\"\u{e9}\"\u{e9}}"), (1, 14));
}
