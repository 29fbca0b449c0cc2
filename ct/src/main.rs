//! Constant-time check of `Verifier::verify` with dudect (the dudect-bencher crate).
//!
//! dudect times one operation on inputs of two classes, interleaved at random,
//! and applies Welch's t-test to the two timing distributions (whole and
//! cropped at many percentiles). A |t| above 5 says the classes take
//! different times. Here both classes are wrong signatures for a random body:
//! Left differs from the right signature in the first digest byte, Right in
//! the last one. A comparison that stops at the first difference is faster on
//! Left.
//!
//! Two benches, on the same kind of inputs:
//! - `verify`: the real [`Verifier::verify`]; its |t| must stay at most 5;
//! - `leaky_verify`: the control, `sign(body) == header` (string comparison,
//!   which stops early); its |t| must exceed 5, or the measurement was too
//!   noisy to see a leak and proves nothing.
//!
//! Usage: without arguments, runs each bench in a child process (dudect-bencher
//! prints its statistics but does not return them), prints |t| and a verdict,
//! and exits non-zero if `verify` leaks or the control does not.
//! `--bench <name>` is the child: dudect's own output for one bench.

use std::fmt::Write as _;
use std::process::{Command, ExitCode};

use dudect_bencher::ctbench::{BenchMetadata, BenchName, BenchOpts, run_benches_console};
use dudect_bencher::rand::{Rng, RngExt};
use dudect_bencher::{BenchRng, Class, CtRunner};
use threetone_webhooks::{Verifier, parse_header};

/// |t| above this means the two classes are distinguishable (dudect's usual threshold).
const T_THRESHOLD: f64 = 5.0;

/// Measurements per bench, taken in batches of [`BATCH`] freshly made inputs.
const MEASUREMENTS: usize = 10_000_000;
const BATCH: usize = 100_000;

/// Length of the random bodies: short, so hashing adds little noise.
const BODY_LEN: usize = 64;

const SECRET: &str = "whsec_dudect";

/// A bench: its name, its function, and whether it is the control that must leak.
struct Bench {
    name: &'static str,
    function: fn(&mut CtRunner, &mut BenchRng),
    must_leak: bool,
}

const BENCHES: [Bench; 2] = [
    Bench { name: "verify", function: verify, must_leak: false },
    Bench { name: "leaky_verify", function: leaky_verify, must_leak: true },
];

/// The real thing.
fn verify(runner: &mut CtRunner, rng: &mut BenchRng) {
    measure(runner, rng, |verifier, body, header| verifier.verify(body, header).is_ok());
}

/// The control: a deliberately non-constant-time check.
fn leaky_verify(runner: &mut CtRunner, rng: &mut BenchRng) {
    measure(runner, rng, |verifier, body, header| verifier.sign(body) == header);
}

/// A timed input: a body and a wrong signature header for it.
struct Input {
    class: Class,
    body: [u8; BODY_LEN],
    header: String,
}

/// Times `check` on [`MEASUREMENTS`] random inputs of both classes.
fn measure(runner: &mut CtRunner, rng: &mut BenchRng, check: fn(&Verifier, &[u8], &str) -> bool) {
    let verifier = Verifier::new(SECRET).expect("the secret is not empty");
    for _ in 0..MEASUREMENTS / BATCH {
        let inputs: Vec<Input> = (0..BATCH).map(|_| wrong_signature(&verifier, rng)).collect();
        for input in &inputs {
            runner.run_one(input.class, || check(&verifier, &input.body, &input.header));
        }
    }
}

/// A random body and its signature with one digest byte changed: the first
/// (class Left) or the last (class Right), picked at random.
fn wrong_signature(verifier: &Verifier, rng: &mut BenchRng) -> Input {
    let mut body = [0u8; BODY_LEN];
    rng.fill_bytes(&mut body);
    let mut digest = parse_header(&verifier.sign(&body)).expect("sign writes a valid header");
    let (class, position) =
        if rng.random::<bool>() { (Class::Left, 0) } else { (Class::Right, digest.len() - 1) };
    digest[position] ^= rng.random_range(1..=u8::MAX);
    Input { class, body, header: format!("sha256={}", hex(&digest)) }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}"); // writing to a String cannot fail
        hex
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => check_all(),
        ["--bench", name] => run_child(name),
        _ => {
            eprintln!("usage: threetone-webhooks-ct [--bench <verify | leaky_verify>]");
            ExitCode::from(2)
        }
    }
}

/// The child: dudect-bencher's console output for the bench `name`.
fn run_child(name: &str) -> ExitCode {
    let Some(bench) = BENCHES.iter().find(|bench| bench.name == name) else {
        eprintln!("no bench named {name:?}");
        return ExitCode::from(2);
    };
    let metadata =
        BenchMetadata { name: BenchName(bench.name), seed: None, benchfn: bench.function };
    match run_benches_console(BenchOpts::default(), vec![metadata]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cannot write the results: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The statistics dudect printed for one bench.
struct Summary {
    /// Measurements, in millions.
    millions: f64,
    /// The largest t over the whole and cropped distributions.
    max_t: f64,
}

/// Runs every bench in a child process, prints a verdict for each, and fails
/// if `verify` leaks or the control does not.
fn check_all() -> ExitCode {
    let mut failed = false;
    let mut verdicts = Vec::new();
    for bench in &BENCHES {
        let summary = match run_bench(bench.name) {
            Ok(summary) => summary,
            Err(error) => {
                eprintln!("{}: {error}", bench.name);
                return ExitCode::FAILURE;
            }
        };
        let leaks = summary.max_t.abs() > T_THRESHOLD;
        let verdict = match (bench.must_leak, leaks) {
            (false, false) => "PASS: no timing difference found",
            (false, true) => "FAIL: timing depends on where the signature differs",
            (true, true) => "PASS: the control's leak is detected",
            (true, false) => "FAIL: the control's leak is not detected, the run proves nothing",
        };
        failed |= bench.must_leak != leaks;
        verdicts.push((bench.name, summary, verdict));
    }
    println!("dudect, first vs. last digest byte wrong, threshold |t| > {T_THRESHOLD}:");
    println!("{:<14} {:>13} {:>10}  verdict", "bench", "measurements", "max t");
    for (name, summary, verdict) in verdicts {
        println!("{name:<14} {:>12.3}M {:>+10.2}  {verdict}", summary.millions, summary.max_t);
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// Runs `name` in a child process, echoes its output, and reads its statistics.
fn run_bench(name: &str) -> Result<Summary, String> {
    let exe = std::env::current_exe().map_err(|error| format!("cannot find myself: {error}"))?;
    let output = Command::new(exe)
        .args(["--bench", name])
        .output()
        .map_err(|error| format!("cannot start the child: {error}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        return Err(format!("the child failed: {}", output.status));
    }
    parse_summary(&stdout).ok_or_else(|| "no statistics in the output".into())
}

/// Reads `n == +0.123M, max t = +1.23456, ...` from dudect-bencher's output.
fn parse_summary(output: &str) -> Option<Summary> {
    let number_after = |label: &str| -> Option<f64> {
        let start = output.find(label)? + label.len();
        let text = output[start..].split([',', 'M']).next()?;
        text.trim().parse().ok()
    };
    Some(Summary { millions: number_after("n == ")?, max_t: number_after("max t = ")? })
}
