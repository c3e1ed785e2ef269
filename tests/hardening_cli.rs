//! The binary under hostile conditions, as a user meets them: standard output full or
//! closed, names that would leave `runs/`, report folders of other runs, interrupted
//! writes, bad `--out`, `--set`s that break another key, and a run from another folder.

mod common;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use tempfile::TempDir;

/// The five files of a complete report, in name order.
const SET_SORTED: [&str; 5] = [
    "components.csv",
    "epochs.csv",
    "layers.csv",
    "run.toml",
    "summary.csv",
];

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nandspin"));
    c.current_dir(manifest());
    c
}

/// Runs `nandspin ARGS` with standard output on `/dev/full`: returns (exit code, stderr).
fn to_dev_full(args: &[String]) -> (Option<i32>, String) {
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = bin()
        .args(args)
        .stdout(Stdio::from(full))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Runs `nandspin ARGS` with standard output a pipe whose reader reads at most `keep`
/// bytes and then closes it: returns (exit code, stderr).
fn to_closed_pipe(args: &[String], keep: usize) -> (Option<i32>, String) {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = vec![0u8; keep];
    let mut got = 0;
    while got < keep {
        match stdout.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// `sweep run FILE --jobs 1 --quiet --out OUT` with the tiny-training sets.
fn tiny_sweep(file: &str, out: &Path) -> Vec<String> {
    let mut args = strings(&["sweep", "run", file, "--jobs", "1", "--quiet", "--out"]);
    args.push(out.display().to_string());
    args.extend(strings(&TINY_SETS));
    args
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn assert_one_error_line(stderr: &str) {
    assert!(!stderr.contains("panicked"), "panicked:\n{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected:\n{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
}

#[test]
fn a_full_stdout_is_one_error_line_after_the_work_is_saved() {
    let tmp = TempDir::new().unwrap();
    // validate
    let (code, err) = to_dev_full(&strings(&["validate", "arch/nandspin.toml"]));
    assert_eq!(code, Some(1), "{err}");
    assert_one_error_line(&err);
    assert!(err.contains("standard output"), "{err}");
    // run: the reports are on disk.
    let out = tmp.path().join("run");
    let (code, err) = to_dev_full(&run_args(&out, &[]));
    assert_eq!(code, Some(1), "{err}");
    assert_one_error_line(&err);
    assert!(out.join("summary.csv").is_file(), "reports not written");
    // plot
    let (code, err) = to_dev_full(&strings(&["plot", out.to_str().unwrap()]));
    assert_eq!(code, Some(1), "{err}");
    assert_one_error_line(&err);
    assert!(out.join("plots/accuracy.svg").is_file());
    // device, map, sweep plan, emit-slurm
    for args in [
        strings(&["device"]),
        strings(&["map"]),
        strings(&["sweep", "plan", "arch/sweeps/tiles.toml"]),
        strings(&[
            "sweep",
            "emit-slurm",
            "arch/sweeps/tiles.toml",
            "--shards",
            "2",
            "--out",
            tmp.path().join("slurm").to_str().unwrap(),
        ]),
    ] {
        let (code, err) = to_dev_full(&args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert_one_error_line(&err);
    }
    assert!(tmp.path().join("slurm/slurm/submit.sh").is_file());
}

#[test]
fn a_closed_pipe_ends_quietly_and_a_sweep_runs_every_point() {
    let tmp = TempDir::new().unwrap();
    let sweep_out = tmp.path().join("sweep");
    let mut args = strings(&["sweep", "run", "arch/sweeps/tiles.toml", "--jobs", "1"]);
    args.extend(strings(&TINY_SETS));
    args.extend(strings(&["--out", sweep_out.to_str().unwrap()]));
    // The reader goes away after the first line; the sweep must still finish all points.
    let (code, err) = to_closed_pipe(&args, 10);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let table = fs::read_to_string(sweep_out.join("sweep.csv")).unwrap();
    let points = table.lines().count() - 1;
    assert_eq!(points, 8, "points in sweep.csv:\n{table}");
    // merge of the (only) folder into another one, reader gone at once.
    let merged = tmp.path().join("merged");
    let (code, err) = to_closed_pipe(
        &strings(&[
            "sweep",
            "merge",
            sweep_out.to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
        ]),
        0,
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(merged.join("sweep.csv").is_file());
    // run and device into a closed pipe
    let out = tmp.path().join("run");
    let (code, err) = to_closed_pipe(&run_args(&out, &[]), 0);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
    assert!(out.join("summary.csv").is_file());
    let (code, err) = to_closed_pipe(&strings(&["device", "--pulse-ns", "0.1:10:0.01"]), 100);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

fn workload_named(tmp: &TempDir, name_line: &str) -> PathBuf {
    let text = fs::read_to_string(manifest().join("workloads/lenet5-mnist.toml")).unwrap();
    let text = text.replace("name = \"lenet5-mnist\"", name_line);
    assert!(text.contains(name_line));
    let data = manifest().join("workloads/data/mnist");
    let text = text.replace(
        "dir = \"data/mnist\"",
        &format!("dir = {:?}", data.display().to_string()),
    );
    write(tmp, "w.toml", &text)
}

#[test]
fn names_that_would_leave_the_runs_folder_are_refused() {
    let tmp = TempDir::new().unwrap();
    let long = format!("name = \"{}\"", "x".repeat(101));
    for name in [
        "name = \"../../../tmp/evil\"",
        "name = \"a/b\"",
        "name = \"a\\\\b\"",
        "name = \"\"",
        "name = \"tab\\there\"",
        long.as_str(),
    ] {
        let w = workload_named(&tmp, name);
        let r = nandspin(&["run", "--workload", w.to_str().unwrap(), "--quiet"]);
        let line = assert_input_error(&r, None);
        assert_contains(&line, "w.toml:");
        assert_contains(&line, "name");
        assert!(line.len() < 300, "{line}");
    }
    // Through --set, and an arch name.
    let line = bad_run(&["--set", "name=\"../x\""]);
    assert_contains(&line, "--set name=");
    // A sweep name of 5,000 characters is refused by plan, not only by run.
    let sweep = fs::read_to_string(manifest().join("arch/sweeps/tiles.toml")).unwrap();
    let sweep = sweep.replace(
        "name = \"tiles\"",
        &format!("name = \"{}\"", "s".repeat(5000)),
    );
    let sweep = sweep
        .replace(
            "\"../nandspin.toml\"",
            &format!(
                "{:?}",
                manifest().join("arch/nandspin.toml").display().to_string()
            ),
        )
        .replace(
            "\"../../workloads/lenet5-mnist.toml\"",
            &format!(
                "{:?}",
                manifest()
                    .join("workloads/lenet5-mnist.toml")
                    .display()
                    .to_string()
            ),
        );
    let f = write(&tmp, "long.toml", &sweep);
    let line = assert_input_error(&nandspin(&["sweep", "plan", f.to_str().unwrap()]), None);
    assert_contains(&line, "long.toml:");
    assert!(line.len() < 300, "{line}");
    assert!(!Path::new("/tmp/evil-lenet5").exists());
}

/// Files of a report folder with their bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn reports_of_another_configuration_are_replaced_only_when_asked() {
    let tmp = TempDir::new().unwrap();
    let cwd = tmp.path();
    project_folder(cwd);
    let run_in = |args: &[&str]| nandspin_in(cwd, args);
    // A plain run and a run with a --set get different default folders.
    let mut lr: Vec<&str> = TINY.to_vec();
    lr.extend(["--set", "training.learning_rate=0.02"]);
    let mut with_set = vec!["run"];
    with_set.extend(&lr);
    let mut plain_args = vec!["run"];
    plain_args.extend(TINY);
    let folder = |r: &Outcome| -> PathBuf {
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        let line = r
            .stdout
            .lines()
            .find(|l| l.starts_with("reports: "))
            .unwrap();
        cwd.join(
            line["reports: ".len()..]
                .split('/')
                .take(2)
                .collect::<Vec<_>>()
                .join("/"),
        )
    };
    let plain_dir = folder(&run_in(&plain_args));
    let set_dir = folder(&run_in(&with_set));
    assert_ne!(plain_dir, set_dir);
    assert_eq!(fs::read_dir(cwd.join("runs")).unwrap().count(), 2);
    let before = snapshot(&plain_dir);
    // Rerunning the --set run from its record writes into its own folder (same
    // configuration), never into the plain run's.
    let record = set_dir.join("run.toml");
    let r = run_in(&["run", "--from", record.to_str().unwrap(), "--quiet"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_contains(&r.stdout, &set_dir.file_name().unwrap().to_string_lossy());
    assert_eq!(
        snapshot(&plain_dir),
        before,
        "another run's reports replaced"
    );
    // Writing a different configuration into a folder: refused without --force.
    let mut args = with_set.clone();
    args.extend(["--out", plain_dir.to_str().unwrap()]);
    let r = run_in(&args);
    let line = assert_input_error(&r, None);
    assert_contains(&line, "different configuration");
    assert_contains(&line, "--force");
    assert_eq!(snapshot(&plain_dir), before);
    args.push("--force");
    let r = run_in(&args);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_ne!(snapshot(&plain_dir), before);
    // A folder with files of its own is never a report folder.
    let mine = cwd.join("mine");
    fs::create_dir(&mine).unwrap();
    fs::write(mine.join("notes.txt"), "keep me").unwrap();
    let mut args = plain_args.clone();
    args.extend(["--out", mine.to_str().unwrap(), "--force"]);
    let line = assert_input_error(&run_in(&args), None);
    assert_contains(&line, "notes.txt");
    assert_eq!(
        fs::read_to_string(mine.join("notes.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn an_interrupted_or_mixed_folder_is_refused_and_cleaned() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("r");
    tiny_run(&out, &[]);
    // What an interrupted writer of an older version could leave: a set without its
    // summary, and a temporary.
    fs::remove_file(out.join("summary.csv")).unwrap();
    fs::write(out.join(".epochs.csv.tmp-999999999"), "partial").unwrap();
    let r = nandspin(&["plot", out.to_str().unwrap()]);
    let line = assert_input_error(&r, None);
    assert_contains(&line, "incomplete");
    assert_contains(&line, "summary.csv");
    assert!(!out.join("plots").exists());
    // A rerun replaces the folder whole: five files, no temporaries, nothing beside it.
    tiny_run(&out, &[]);
    let names: Vec<String> = snapshot(&out).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, SET_SORTED);
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn a_killed_run_leaves_a_complete_set_or_none() {
    // Kill runs at moments spread over a run's length, densest near its end where the
    // reports are written; after each, the folder holds the old complete set or the new
    // one, and a rerun cleans up.
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("r");
    let t0 = std::time::Instant::now();
    tiny_run(&out, &[]);
    let length_ms = t0.elapsed().as_millis() as u64;
    let old = snapshot(&out);
    let args = run_args(&out, &["--set", "training.learning_rate=0.02", "--force"]);
    let mut new: Option<Vec<(String, Vec<u8>)>> = None;
    let fractions = [
        0.2, 0.5, 0.8, 0.9, 0.94, 0.97, 0.99, 1.0, 1.02, 1.05, 1.1, 1.3,
    ];
    for delay_ms in fractions.map(|f: f64| (f * length_ms as f64) as u64) {
        let mut child = bin()
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if out.exists() {
            let now = snapshot(&out);
            let names: Vec<&str> = now.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, SET_SORTED, "after a kill at {delay_ms} ms");
            // The files without wall-clock columns tell the two sets apart.
            let fixed = |set: &[(String, Vec<u8>)]| -> Vec<(String, Vec<u8>)> {
                set.iter()
                    .filter(|(n, _)| n == "layers.csv" || n == "components.csv")
                    .cloned()
                    .collect()
            };
            if fixed(&now) != fixed(&old) {
                match &new {
                    Some(n) => assert_eq!(fixed(&now), fixed(n), "two different new sets"),
                    None => new = Some(now),
                }
            }
        }
        if status.success() {
            break;
        }
    }
    // A rerun after the kills leaves nothing beside the folder.
    tiny_run(&out, &["--set", "training.learning_rate=0.02", "--force"]);
    let left: Vec<String> = fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["r"]);
}

#[test]
fn bad_out_folders_are_input_errors() {
    let tmp = TempDir::new().unwrap();
    let file = write(&tmp, "file.txt", "x");
    let line = assert_input_error(&nandspin(&run_args(&file, &[])), None);
    assert_contains(&line, "not a folder");
    let mut args = strings(&[
        "sweep",
        "run",
        "arch/sweeps/tiles.toml",
        "--out",
        file.to_str().unwrap(),
    ]);
    args.extend(strings(&TINY_SETS));
    let line = assert_input_error(&nandspin(&args), None);
    assert_contains(&line, "not a folder");
    for args in [
        strings(&[
            "sweep",
            "emit-slurm",
            "arch/sweeps/tiles.toml",
            "--shards",
            "2",
            "--out",
            file.to_str().unwrap(),
        ]),
        strings(&["sweep", "merge", file.to_str().unwrap()]),
        strings(&["device", "--out", tmp.path().to_str().unwrap()]),
        strings(&[
            "device",
            "--out",
            tmp.path().join("no/such/x.csv").to_str().unwrap(),
        ]),
    ] {
        let line = assert_input_error(&nandspin(&args), None);
        assert_contains(&line, file.parent().unwrap().to_str().unwrap());
    }
    assert_eq!(fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn a_set_that_breaks_another_layer_is_blamed_for_it() {
    // conv1's channels no longer match conv2's: the --set that changed them is at fault,
    // not the one after it.
    let line = bad_run(&[
        "--set",
        "layers.conv1.out_channels=8",
        "--set",
        "training.learning_rate=0.02",
    ]);
    assert_contains(&line, "--set layers.conv1.out_channels=8");
    assert_contains(&line, "conv2");
    // The same on top of a run record, whose workload is one table of the file.
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("r");
    tiny_run(&out, &[]);
    let record = out.join("run.toml");
    let r = nandspin(&[
        "run",
        "--from",
        record.to_str().unwrap(),
        "--set",
        "layers.conv1.out_channels=8",
        "--set",
        "training.epochs=1",
    ]);
    let line = assert_input_error(&r, None);
    assert_contains(&line, "--set layers.conv1.out_channels=8");
}

#[test]
fn default_paths_from_another_folder_say_what_to_do() {
    let tmp = TempDir::new().unwrap();
    for args in [vec!["run"], vec!["map"], vec!["device"]] {
        let r = nandspin_in(tmp.path(), &args);
        let line = assert_input_error(&r, None);
        assert_contains(&line, "arch/nandspin.toml");
        assert_contains(&line, "--arch");
        assert_contains(&line, "current folder");
    }
}

#[test]
fn set_help_says_it_repeats_and_takes_toml() {
    for cmd in [
        vec!["run", "--help"],
        vec!["map", "--help"],
        vec!["device", "--help"],
        vec!["sweep", "run", "--help"],
        vec!["sweep", "plan", "--help"],
    ] {
        let r = nandspin(&cmd);
        assert_eq!(r.code, Some(0));
        let set = r
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with("--set"))
            .unwrap();
        assert!(
            set.contains("repeatable") && set.contains("TOML"),
            "{cmd:?}: {set}"
        );
    }
}

#[test]
fn huge_shard_counts_and_multi_line_sbatch_options_are_refused() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("s");
    for args in [
        strings(&[
            "sweep",
            "plan",
            "arch/sweeps/tiles.toml",
            "--shard-count",
            "4294967295",
        ]),
        strings(&[
            "sweep",
            "emit-slurm",
            "arch/sweeps/tiles.toml",
            "--shards",
            "10001",
            "--out",
            out.to_str().unwrap(),
        ]),
    ] {
        let r = nandspin(&args);
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
        assert!(
            !r.stderr.contains("panicked") && !r.stderr.contains("memory"),
            "{}",
            r.stderr
        );
    }
    let r = nandspin_env(
        &strings(&[
            "sweep",
            "run",
            "arch/sweeps/tiles.toml",
            "--out",
            out.to_str().unwrap(),
        ]),
        &[
            ("SLURM_ARRAY_TASK_COUNT", "4294967295"),
            ("SLURM_ARRAY_TASK_ID", "0"),
        ],
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    let r = nandspin(&strings(&[
        "sweep",
        "emit-slurm",
        "arch/sweeps/tiles.toml",
        "--shards",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--sbatch",
        "--partition=x\ntouch PWNED",
    ]));
    let line = assert_input_error(&r, None);
    assert_contains(&line, "--sbatch");
    assert!(!out.join("slurm/shards.sbatch").exists());
}

#[test]
fn validate_refuses_the_names_run_refuses() {
    let tmp = TempDir::new().unwrap();
    let w = workload_named(&tmp, "name = \"../../evil\"");
    let v = assert_input_error(&nandspin(&["validate", w.to_str().unwrap()]), None);
    let r = assert_input_error(
        &nandspin(&["run", "--workload", w.to_str().unwrap(), "--quiet"]),
        None,
    );
    assert_eq!(v, r);
    let arch = arch_text().replacen("name = \"nandspin\"", "name = \"a/b\"", 1);
    let a = write(&tmp, "a.toml", &arch);
    let v = assert_input_error(&nandspin(&["validate", a.to_str().unwrap()]), None);
    assert_contains(&v, "a.toml:");
    assert_contains(&v, "name");
}

#[test]
fn a_rerun_sweep_removes_what_a_killed_one_left() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("s");
    let args = tiny_sweep("arch/sweeps/tiles.toml", &out);
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join(".sweep.csv.tmp-999999999"), "partial").unwrap();
    fs::write(out.join(".sweep.toml.tmp-999999998"), "partial").unwrap();
    let r = nandspin(&args);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let hidden: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

#[test]
fn sweep_folders_of_other_sweeps_or_with_other_files_are_refused() {
    let tmp = TempDir::new().unwrap();
    let mine = tmp.path().join("mine");
    fs::create_dir(&mine).unwrap();
    fs::write(mine.join("notes.txt"), "keep").unwrap();
    let args = tiny_sweep("arch/sweeps/tiles.toml", &mine);
    let line = assert_input_error(&nandspin(&args), None);
    assert_contains(&line, "notes.txt");
    // A merge into the output of another sweep needs --force.
    let seeds = tmp.path().join("seeds");
    let mut args = tiny_sweep("arch/sweeps/seeds.toml", &seeds);
    args.extend(strings(&[
        "--set",
        "training.max_train_images=64",
        "--set",
        "training.max_test_images=64",
    ]));
    let r = nandspin(&args);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let tiles = tmp.path().join("tiles");
    let args = tiny_sweep("arch/sweeps/tiles.toml", &tiles);
    let r = nandspin(&args);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let before = fs::read(seeds.join("sweep.toml")).unwrap();
    let merge = strings(&[
        "sweep",
        "merge",
        tiles.to_str().unwrap(),
        "--out",
        seeds.to_str().unwrap(),
    ]);
    let line = assert_input_error(&nandspin(&merge), None);
    assert_contains(&line, "--force");
    assert_eq!(fs::read(seeds.join("sweep.toml")).unwrap(), before);
}
