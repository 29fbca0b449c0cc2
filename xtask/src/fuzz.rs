//! `cargo xtask fuzz --time <seconds>`: runs every cargo-fuzz target of `fuzz/`
//! for `seconds`, then prints the executions per target.
//!
//! Each target fuzzes a working corpus under `target/fuzz/corpus/<target>`,
//! refreshed from the committed seeds in `fuzz/corpus/<target>` before every
//! run and kept between runs, so fuzzing never writes into the repository
//! (except crash inputs, in the git-ignored `fuzz/artifacts/`). libFuzzer's
//! output goes to `target/fuzz/logs/<target>.log`. Needs a nightly toolchain.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::command::{run as run_command, workspace_root};
use crate::tools;

/// An input running longer than this many seconds is reported as a hang.
const INPUT_TIMEOUT_SECONDS: u64 = 10;

/// The outcome of fuzzing one target.
struct Report {
    target: String,
    /// libFuzzer's final `stat::` values, by name (`number_of_executed_units`, ...).
    stats: BTreeMap<String, u64>,
    /// The input that crashed, panicked, leaked or hung, if one did.
    crash: Option<String>,
}

/// Fuzzes each target for `seconds`; fails if any target found a crash.
pub fn run(seconds: u64) -> Result<(), String> {
    tools::cargo_fuzz()?;
    let reports = targets()?
        .into_iter()
        .map(|target| fuzz(target, seconds))
        .collect::<Result<Vec<_>, _>>()?;
    print_summary(&reports, seconds);
    let crashes: Vec<String> = reports
        .iter()
        .filter_map(|report| Some(format!("{}: {}", report.target, report.crash.as_ref()?)))
        .collect();
    if crashes.is_empty() {
        Ok(())
    } else {
        Err(format!("fuzzing found crashes:\n  {}", crashes.join("\n  ")))
    }
}

/// The fuzz project: `fuzz/`.
fn fuzz_dir() -> PathBuf {
    workspace_root().join("fuzz")
}

/// Where fuzzing writes: builds, working corpora and logs.
fn work_dir() -> PathBuf {
    workspace_root().join("target").join("fuzz")
}

/// The targets in `fuzz/Cargo.toml`, as `cargo fuzz list` gives them.
fn targets() -> Result<Vec<String>, String> {
    let output = Command::new("cargo")
        .args(["fuzz", "list", "--fuzz-dir"])
        .arg(fuzz_dir())
        .output()
        .map_err(|error| format!("cannot run cargo fuzz list: {error}"))?;
    if !output.status.success() {
        return Err(format!("cargo fuzz list failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect())
}

/// Fuzzes one target for `seconds`. An error means the run itself failed (a
/// build error, say); a crash the fuzzer found is in the report.
fn fuzz(target: String, seconds: u64) -> Result<Report, String> {
    let corpus = refresh_corpus(&target)?;
    let logs = work_dir().join("logs");
    create_dir(&logs)?;
    let log_path = logs.join(format!("{target}.log"));
    let log = File::create(&log_path)
        .map_err(|error| format!("cannot create {}: {error}", log_path.display()))?;
    let log_err = log.try_clone().map_err(|error| format!("cannot share the log: {error}"))?;
    println!("xtask: fuzzing {target} for {seconds}s, log in {}", log_path.display());

    let status = run_command(
        Command::new("cargo")
            .args(["+nightly", "fuzz", "run", &target])
            .arg(&corpus)
            .arg("--fuzz-dir")
            .arg(fuzz_dir())
            .arg("--target-dir")
            .arg(work_dir().join("build"))
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
            .arg("-print_final_stats=1")
            .stdout(log)
            .stderr(log_err),
    );

    let output = fs::read_to_string(&log_path)
        .map_err(|error| format!("cannot read {}: {error}", log_path.display()))?;
    let crash = crash_input(&output);
    if let (Err(error), None) = (&status, &crash) {
        return Err(format!("{error}\n{}", tail(&output, 30)));
    }
    if crash.is_some() {
        eprintln!("{}", tail(&output, 40));
    }
    Ok(Report { target, stats: final_stats(&output), crash })
}

/// Copies the committed seeds of `target` into its working corpus; returns the latter.
fn refresh_corpus(target: &str) -> Result<PathBuf, String> {
    let seeds = fuzz_dir().join("corpus").join(target);
    let corpus = work_dir().join("corpus").join(target);
    create_dir(&corpus)?;
    let entries = fs::read_dir(&seeds)
        .map_err(|error| format!("cannot list {}: {error}", seeds.display()))?;
    for entry in entries {
        let seed = entry.map_err(|error| format!("cannot list {}: {error}", seeds.display()))?;
        let copy = corpus.join(seed.file_name());
        fs::copy(seed.path(), &copy)
            .map_err(|error| format!("cannot copy {}: {error}", seed.path().display()))?;
    }
    Ok(corpus)
}

fn create_dir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))
}

/// The file libFuzzer saved the failing input to (`Test unit written to <path>`).
fn crash_input(output: &str) -> Option<String> {
    output
        .lines()
        .find_map(|line| line.split_once("Test unit written to ").map(|(_, path)| path.into()))
}

/// libFuzzer's `-print_final_stats` lines, such as `stat::number_of_executed_units: 1234`.
fn final_stats(output: &str) -> BTreeMap<String, u64> {
    output
        .lines()
        .filter_map(|line| {
            let (name, value) = line.strip_prefix("stat::")?.split_once(':')?;
            Some((name.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

/// The last `count` lines of `output`.
fn tail(output: &str, count: usize) -> String {
    let lines: Vec<&str> = output.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

fn print_summary(reports: &[Report], seconds: u64) {
    println!("\nfuzzing, {seconds}s per target:");
    println!(
        "{:<18} {:>14} {:>10} {:>10} {:>13}  result",
        "target", "executions", "exec/s", "new units", "peak RSS MB"
    );
    for report in reports {
        let stat = |name: &str| report.stats.get(name).map_or("?".into(), u64::to_string);
        println!(
            "{:<18} {:>14} {:>10} {:>10} {:>13}  {}",
            report.target,
            stat("number_of_executed_units"),
            stat("average_exec_per_sec"),
            stat("new_units_added"),
            stat("peak_rss_mb"),
            if report.crash.is_some() { "CRASH" } else { "ok" },
        );
    }
}
