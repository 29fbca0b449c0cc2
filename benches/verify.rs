//! `verify`, `verify_event` (verify and validate in one pass) and
//! `construct_event` (verify, validate and build the typed event) at 256 B,
//! 1 KiB and 16 KiB.
//!
//! Run with `cargo xtask bench`. Bodies are `system_error` events whose
//! message is padded to the target size.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use threetone_webhooks::{Options, Verifier};

const SIZES: [usize; 3] = [256, 1024, 16 * 1024];

/// A valid `system_error` event of exactly `size` bytes (the smallest realistic
/// frame; the documented payloads alone are larger than 256 B).
fn event_of_size(size: usize) -> Vec<u8> {
    let frame = |message: &str| {
        format!(
            r#"{{"event":"system_error","timestamp":"2024-01-15T10:35:00Z","data":{{"error_code":"asr_unavailable","severity":"high","component":"speech_to_text","call_id":"call_abc123","error_message":"{message}"}}}}"#
        )
    };
    let padding = size.saturating_sub(frame("").len());
    let body = frame(&"x".repeat(padding)).into_bytes();
    assert_eq!(body.len(), size, "frame is larger than {size} bytes");
    body
}

/// What each benchmark group runs on one body.
#[derive(Clone, Copy)]
enum Work {
    Verify,
    VerifyEvent,
    ConstructEvent,
}

fn benches(c: &mut Criterion) {
    let verifier = Verifier::new("whsec_benchmark_secret").unwrap();
    let options = Options::default();
    let groups = [
        ("verify", Work::Verify),
        ("verify_event", Work::VerifyEvent),
        ("construct_event", Work::ConstructEvent),
    ];
    for (name, work) in groups {
        let mut group = c.benchmark_group(name);
        for size in SIZES {
            let body = event_of_size(size);
            let header = verifier.sign(&body);
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_with_input(BenchmarkId::from_parameter(size), &body, |b, body| {
                let inputs = || (black_box(body.as_slice()), black_box(header.as_str()));
                match work {
                    Work::Verify => b.iter(|| {
                        let (body, header) = inputs();
                        verifier.verify(body, header).unwrap();
                    }),
                    Work::VerifyEvent => b.iter(|| {
                        let (body, header) = inputs();
                        verifier.verify_event(body, header, &options).unwrap();
                    }),
                    Work::ConstructEvent => b.iter(|| {
                        let (body, header) = inputs();
                        verifier.construct_event(body, header, &options).unwrap();
                    }),
                }
            });
        }
        group.finish();
    }
}

criterion_group!(verify, benches);
criterion_main!(verify);
