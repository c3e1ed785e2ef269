//! Helpers shared by the tests that run the `nandspin` binary (`tests/cli.rs`,
//! `tests/device_cli.rs`, `tests/timing_cli.rs`): running it, tiny training runs, the bad-input contract, edited
//! config copies, report reading.

#![allow(dead_code)] // each test crate uses its own subset

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// The crate root: the binary runs here so that the default config paths resolve.
pub fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Flags that keep a training run tiny (1 epoch unless overridden later on the line).
pub const TINY: [&str; 7] = [
    "--set",
    "training.epochs=1",
    "--set",
    "training.max_train_images=256",
    "--set",
    "training.max_test_images=200",
    "--quiet",
];

/// What one invocation of the binary gave.
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
}

/// The `--set`s that keep a training tiny: 1 epoch of 200 training and 100 test images.
pub const TINY_SETS: [&str; 6] = [
    "--set",
    "training.epochs=1",
    "--set",
    "training.max_train_images=200",
    "--set",
    "training.max_test_images=100",
];

/// A folder laid out like the project for a binary run from it: `arch/` and `workloads/`
/// linked to the crate's.
pub fn project_folder(dir: &Path) {
    for d in ["arch", "workloads"] {
        std::os::unix::fs::symlink(manifest().join(d), dir.join(d)).unwrap();
    }
}

/// Runs `nandspin ARGS` in folder `cwd`.
pub fn nandspin_in<S: AsRef<std::ffi::OsStr>>(cwd: &Path, args: &[S]) -> Outcome {
    run_binary(cwd, args, &[])
}

/// Runs `nandspin ARGS` in the crate root with extra environment variables.
pub fn nandspin_env<S: AsRef<std::ffi::OsStr>>(args: &[S], env: &[(&str, &str)]) -> Outcome {
    run_binary(manifest(), args, env)
}

fn run_binary<S: AsRef<std::ffi::OsStr>>(cwd: &Path, args: &[S], env: &[(&str, &str)]) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nandspin"));
    cmd.args(args).current_dir(cwd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the nandspin binary runs");
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        raw_stdout: out.stdout,
    }
}

/// Runs `nandspin ARGS` in the crate root.
pub fn nandspin<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Outcome {
    nandspin_env(args, &[])
}

/// `run TINY EXTRA --out OUT` as arguments.
pub fn run_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(TINY.iter().map(|s| s.to_string()));
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("--out".into());
    args.push(out.display().to_string());
    args
}

/// Runs `nandspin run TINY EXTRA --out OUT` with `env` and asserts it succeeded.
pub fn tiny_run_env(out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Outcome {
    let args = run_args(out, extra);
    let r = nandspin_env(&args, env);
    assert_eq!(
        r.code,
        Some(0),
        "nandspin {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
    r
}

/// Runs `nandspin run TINY EXTRA --out OUT` and asserts it succeeded.
pub fn tiny_run(out: &Path, extra: &[&str]) -> Outcome {
    tiny_run_env(out, extra, &[])
}

/// Asserts the bad-input contract: exit code 2, exactly one non-empty stderr line starting
/// with `error: `, no panic, and no files in `out` (when given). Returns the line.
pub fn assert_input_error(r: &Outcome, out: Option<&Path>) -> String {
    assert!(
        !r.stderr.contains("panicked"),
        "the binary panicked:\n{}",
        r.stderr
    );
    assert_eq!(r.code, Some(2), "exit code; stderr:\n{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stderr must be one line, got:\n{}",
        r.stderr
    );
    let line = lines[0];
    assert!(
        line.starts_with("error: ") && line.len() > "error: ".len(),
        "stderr line must start with `error: `: {line:?}"
    );
    if let Some(out) = out {
        let files: Vec<PathBuf> = match fs::read_dir(out) {
            Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        };
        assert!(files.is_empty(), "files written on error: {files:?}");
    }
    line.to_string()
}

/// Runs `nandspin run TINY ARGS --out <tmp>/out`, expecting an input error; returns the line.
pub fn bad_run(args: &[&str]) -> String {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let r = nandspin(&run_args(&out, args));
    assert_input_error(&r, Some(&out))
}

/// The bundled arch file's text.
pub fn arch_text() -> String {
    fs::read_to_string(manifest().join("arch/nandspin.toml")).unwrap()
}

/// Replaces the first line setting `key` at or after the first line containing `after`
/// with `new_line`; returns the new text and the 1-based number of the edited line.
pub fn edit(text: &str, after: &str, key: &str, new_line: &str) -> (String, usize) {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let start = lines
        .iter()
        .position(|l| l.contains(after))
        .unwrap_or_else(|| panic!("no line containing {after:?}"));
    let i = (start..lines.len())
        .find(|&i| {
            let l = lines[i].trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .unwrap_or_else(|| panic!("no `{key} =` line after {after:?}"));
    lines[i] = new_line.to_string();
    (lines.join("\n") + "\n", i + 1)
}

/// Writes `text` to `<tmp>/name` and returns the path.
pub fn write(tmp: &TempDir, name: &str, text: &str) -> PathBuf {
    let p = tmp.path().join(name);
    fs::write(&p, text).unwrap();
    p
}

pub fn assert_contains(msg: &str, needle: &str) {
    assert!(msg.contains(needle), "expected {needle:?} in {msg:?}");
}

/// `epochs.csv` rows (header included) without the `wall_s` column.
pub fn rows_without_wall(out: &Path) -> Vec<String> {
    let text = fs::read_to_string(out.join("epochs.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    assert_eq!(header.last(), Some(&"wall_s"));
    text.lines()
        .map(|l| {
            let (rest, _wall) = l.rsplit_once(',').expect("a csv line");
            rest.to_string()
        })
        .collect()
}

/// Device columns of `epochs.csv` and `summary.csv`.
pub const DEVICE_COLUMNS: [&str; 18] = [
    "strings_written",
    "strings_skipped",
    "program_pulses",
    "switches",
    "program_failures",
    "verify_reads",
    "bits_written",
    "bit_errors",
    "bit_error_rate",
    "erase_energy_pJ",
    "program_energy_pJ",
    "read_energy_pJ",
    "write_energy_pJ",
    "string_write_ns",
    "program_ns",
    "erases_skipped",
    "random_bits",
    "p_fail_worst1pct",
];

/// A CSV file as its header and records (quoted fields unquoted); every record has the
/// header's width.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{}: {row:?}", path.display());
    }
    (header, rows)
}

/// CSV text (e.g. a command's standard output) as records by column name, checking the
/// header.
pub fn parse_csv_text(text: &str, expected_header: &str) -> Vec<HashMap<String, String>> {
    assert_eq!(
        text.lines().next(),
        Some(expected_header),
        "header of:\n{}",
        text.lines().take(5).collect::<Vec<_>>().join("\n")
    );
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            assert_eq!(rec.len(), header.len(), "{rec:?}");
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

/// A CSV file's records by column name.
pub fn records(path: &Path) -> Vec<HashMap<String, String>> {
    let (header, rows) = read_csv(path);
    rows.into_iter()
        .map(|r| header.iter().cloned().zip(r).collect())
        .collect()
}

/// The one row of `summary.csv`, by column name.
pub fn summary(out: &Path) -> HashMap<String, String> {
    let rows = records(&out.join("summary.csv"));
    assert_eq!(rows.len(), 1, "summary.csv has one row");
    rows.into_iter().next().unwrap()
}

/// `epochs.csv` rows by column name.
pub fn epochs(out: &Path) -> Vec<HashMap<String, String>> {
    records(&out.join("epochs.csv"))
}

/// A numeric field of a record, by column name.
pub fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    let v = row
        .get(col)
        .unwrap_or_else(|| panic!("no column {col:?} in {row:?}"));
    v.parse()
        .unwrap_or_else(|_| panic!("column {col:?} is not a number: {v:?} in {row:?}"))
}

/// An integer field of a record, by column name.
pub fn int(row: &HashMap<String, String>, col: &str) -> u64 {
    let v = row
        .get(col)
        .unwrap_or_else(|| panic!("no column {col:?} in {row:?}"));
    v.parse()
        .unwrap_or_else(|_| panic!("column {col:?} is not a count: {v:?} in {row:?}"))
}

/// A CSV file's header and rows without the wall-clock columns (`wall_s`,
/// `train_images_per_s`): what two runs of the same configs must agree on.
pub fn csv_without_wall(path: &Path) -> Vec<Vec<String>> {
    let (header, rows) = read_csv(path);
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| header[i] != "wall_s" && header[i] != "train_images_per_s")
        .collect();
    std::iter::once(header)
        .chain(rows)
        .map(|r| keep.iter().map(|&i| r[i].clone()).collect())
        .collect()
}

/// Runs `nandspin COMMAND ARGS`, asserting it did not panic.
pub fn subcommand(command: &str, args: &[&str]) -> Outcome {
    let mut a = vec![command];
    a.extend_from_slice(args);
    let r = nandspin(&a);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    r
}

/// Asserts that a command succeeded, showing its output if not.
pub fn ok(r: &Outcome) {
    assert_eq!(
        r.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
}

/// The rows of the markdown table whose header line starts with `header_start` (cells
/// trimmed), after its separator line.
pub fn table_rows(page: &str, header_start: &str) -> Vec<Vec<String>> {
    let mut lines = page.lines().skip_while(|l| !l.starts_with(header_start));
    lines.next().expect("the page has the table");
    lines
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// Asserts that a number shown on a generated page is `want` within 0.1 % (`what` names it
/// in the message).
pub fn close_shown(shown: &str, want: f64, what: &str) {
    let v: f64 = shown
        .parse()
        .unwrap_or_else(|_| panic!("{what}: {shown:?} is not a number"));
    assert!(
        (v - want).abs() <= 1e-3 * want.abs().max(1e-12),
        "{what}: the page says {shown}, the CSVs give {want}"
    );
}

/// The component energy columns of `summary.csv`.
pub const PART_ENERGY: [&str; 14] = [
    "energy_erase_pJ",
    "energy_program_pJ",
    "energy_read_pJ",
    "energy_mac_pJ",
    "energy_buffer_pJ",
    "energy_noc_pJ",
    "energy_dram_pJ",
    "energy_leakage_pJ",
    "energy_master_pJ",
    "energy_rng_pJ",
    "energy_operand_write_pJ",
    "energy_and_row_pJ",
    "energy_popcount_pJ",
    "energy_shift_add_pJ",
];

/// `--set`s that make every program pulse switch: a fixed switching law with P_sw = 1.
pub const CERTAIN: [&str; 6] = [
    "--set",
    "device.switching=\"fixed\"",
    "--set",
    "device.fixed_pulse_ns=[1.0]",
    "--set",
    "device.fixed_p_switch=[1.0]",
];
