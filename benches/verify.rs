//! `verify` and `construct_event` at 256 B, 1 KiB and 16 KiB.
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

fn benches(c: &mut Criterion) {
    let verifier = Verifier::new("whsec_benchmark_secret").unwrap();
    let options = Options::default();
    for (name, construct) in [("verify", false), ("construct_event", true)] {
        let mut group = c.benchmark_group(name);
        for size in SIZES {
            let body = event_of_size(size);
            let header = verifier.sign(&body);
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_with_input(BenchmarkId::from_parameter(size), &body, |b, body| {
                if construct {
                    b.iter(|| {
                        verifier
                            .construct_event(black_box(body), black_box(&header), &options)
                            .unwrap()
                    });
                } else {
                    b.iter(|| verifier.verify(black_box(body), black_box(&header)).unwrap());
                }
            });
        }
        group.finish();
    }
}

criterion_group!(verify, benches);
criterion_main!(verify);
