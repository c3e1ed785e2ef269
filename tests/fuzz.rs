//! A fuzz suite that runs with `cargo test`: the bundled configs (arch, workload, sweeps, tune
//! files, a run record of a tiny real run) and the IDX headers of the bundled data, mutated at random
//! (lines deleted, duplicated or swapped; values replaced by huge, negative, NaN, empty,
//! long or mistyped ones; bytes flipped; text cut short; non-UTF-8 inserted), then read
//! through the real parse-and-validate path in-process, and a sample of them through the
//! binary (`validate`, `run`, `sweep plan`, `tune --plan`).
//!
//! A case fails on a panic, a hang, an exit code other than 0 or 2, an error line over 300
//! characters or of more than one line, or an error about the mutated file that names no
//! line. A failure prints the case's seed; replay it with `NANDSPIN_FUZZ_SEED=<seed>`.
//! `NANDSPIN_FUZZ_CASES` sets the number of in-process cases (default 10000),
//! `NANDSPIN_FUZZ_CLI_CASES` the number run through the binary (default 24).

mod common;

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use std::{fs, thread};

use common::manifest;
use nandspin::config::workload::DataConfig;
use nandspin::run::{DataCache, RunRequest};

/// Seeds at or above this run through the binary.
const CLI_SEED_BASE: u64 = 1 << 40;
/// A case that takes longer than this is a hang.
const CASE_LIMIT: Duration = Duration::from_secs(60);
/// Longest error line (with the binary's `error: `).
const MAX_LINE: usize = 300;

/// SplitMix64: a small seeded generator, so that a case is a pure function of its seed.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Arch,
    Workload,
    Sweep(usize),
    RunRecord,
    Idx,
}

/// The sandbox: copies of the bundled files laid out as in the repository (the data folder
/// linked), and a run record of a tiny run.
struct World {
    root: PathBuf,
    _tmp: tempfile::TempDir,
    arch: Vec<u8>,
    workload: Vec<u8>,
    sweeps: Vec<(String, Vec<u8>)>,
    record: Vec<u8>,
    /// The bundled test images and labels, decompressed.
    images: Vec<u8>,
    labels: Vec<u8>,
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let f = fs::File::open(path).unwrap();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(f), &mut out).unwrap();
    out
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let m = manifest();
        fs::create_dir_all(root.join("arch/sweeps")).unwrap();
        fs::create_dir_all(root.join("workloads/data")).unwrap();
        fs::create_dir_all(root.join("run")).unwrap();
        let arch = fs::read(m.join("arch/nandspin.toml")).unwrap();
        let workload = fs::read(m.join("workloads/lenet5-mnist.toml")).unwrap();
        fs::write(root.join("arch/nandspin.toml"), &arch).unwrap();
        fs::write(root.join("workloads/lenet5-mnist.toml"), &workload).unwrap();
        let data = m.join("workloads/data/mnist");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&data, root.join("workloads/data/mnist")).unwrap();
        #[cfg(not(unix))]
        {
            fs::create_dir_all(root.join("workloads/data/mnist")).unwrap();
            for e in fs::read_dir(&data).unwrap() {
                let e = e.unwrap();
                fs::copy(
                    e.path(),
                    root.join("workloads/data/mnist").join(e.file_name()),
                )
                .unwrap();
            }
        }
        let mut sweeps = Vec::new();
        let mut names: Vec<PathBuf> = fs::read_dir(m.join("arch/sweeps"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        names.sort();
        for p in names {
            let text = fs::read(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            fs::write(root.join("arch/sweeps").join(&name), &text).unwrap();
            sweeps.push((name, text));
        }
        assert!(!sweeps.is_empty());
        // Tune files are written like sweep files and sit as deep (arch/tune/): they take
        // their turns among the sweeps, and their copies go beside them.
        for e in fs::read_dir(m.join("arch/tune")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "toml") {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                sweeps.push((format!("tune/{name}"), fs::read(&p).unwrap()));
            }
        }
        let out = root.join("run/tiny");
        let r = Command::new(env!("CARGO_BIN_EXE_nandspin"))
            .args(["run", "--quiet"])
            .args(common::TINY_SETS)
            .arg("--out")
            .arg(&out)
            .current_dir(m)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let record = fs::read(out.join("run.toml")).unwrap();
        let images = gunzip(&data.join("t10k-images-idx3-ubyte.gz"));
        let labels = gunzip(&data.join("t10k-labels-idx1-ubyte.gz"));
        World {
            root,
            _tmp: tmp,
            arch,
            workload,
            sweeps,
            record,
            images,
            labels,
        }
    }

    /// The base text of a target and the folder a mutated copy goes to (so that its
    /// relative paths resolve).
    fn base(&self, t: Target) -> (&[u8], PathBuf) {
        match t {
            Target::Arch => (&self.arch, self.root.join("arch")),
            Target::Workload => (&self.workload, self.root.join("workloads")),
            Target::Sweep(i) => (&self.sweeps[i].1, self.root.join("arch/sweeps")),
            Target::RunRecord => (&self.record, self.root.join("run")),
            Target::Idx => unreachable!(),
        }
    }
}

fn target_of(g: &mut Gen, sweeps: usize) -> Target {
    match g.below(100) {
        0..20 => Target::Arch,
        20..45 => Target::Workload,
        45..55 => Target::Sweep(g.below(sweeps)),
        55..75 => Target::RunRecord,
        _ => Target::Idx,
    }
}

/// Values that have broken parsers before.
fn nasty_value(g: &mut Gen) -> String {
    const VALUES: &[&str] = &[
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "4294967295",
        "4294967296",
        "65536",
        "-1",
        "0",
        "1",
        "2",
        "3",
        "1000000",
        "1e999",
        "-1e999",
        "1e308",
        "1e-320",
        "nan",
        "-nan",
        "inf",
        "-inf",
        "0.0",
        "-0.0",
        "0.5",
        "\"\"",
        "\"input\"",
        "\"a.b\"",
        "\"..\"",
        "\"/nonexistent\"",
        "true",
        "[]",
        "[0]",
        "[1, 2, 3]",
        "[\"x\", 1]",
        "{}",
        "{ start = 1, stop = 1e12, step = 1 }",
        "{ start = 1, stop = 65536, factor = 1.0000001 }",
        "1979-05-27T07:32:00Z",
        "\"auto\"",
        "\"nandspin\"",
        "\"dense\"",
        "\"conv2d\"",
        "\"add\"",
    ];
    match g.below(10) {
        0 => {
            let n = *g.pick(&[81usize, 300, 5000, 200_000]);
            format!("\"{}\"", "v".repeat(n))
        }
        1 => format!("{}", g.next() as i64),
        2 => format!("{}", f64::from_bits(g.next())),
        _ => g.pick(VALUES).to_string(),
    }
}

fn nasty_line(g: &mut Gen) -> String {
    const LINES: &[&str] = &[
        "[weights]",
        "[[layers]]",
        "[[axis]]",
        "[run]",
        "[arch]",
        "[workload]",
        "[data]",
        "[training]",
        "[set]",
        "bogus = 1",
        "name = \"x\"",
        "a.b.c = 1",
        "key = \"chip.tiles\"",
        "values = [1, 2]",
        "type = \"add\"",
        "inputs = [\"conv1\", \"conv1\"]",
        "input = \"fc3\"",
        "[",
        "= 1",
        "\"",
        "x = \"\"\"",
    ];
    match g.below(6) {
        0 => format!(
            "k{} = {}",
            "y".repeat(*g.pick(&[10usize, 100, 100_000])),
            nasty_value(g)
        ),
        1 => format!(
            "{} = {}",
            g.pick(&["kernel", "bits", "epochs", "tiles", "out_features"]),
            nasty_value(g)
        ),
        _ => g.pick(LINES).to_string(),
    }
}

fn lines_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
}

fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    lines.join(&b'\n')
}

/// One random edit of a config file's bytes.
fn mutate_text(g: &mut Gen, bytes: &mut Vec<u8>) {
    let mut lines = lines_of(bytes);
    let n = lines.len().max(1);
    match g.below(12) {
        0 => {
            lines.remove(g.below(n).min(lines.len() - 1));
        }
        1 => {
            let i = g.below(n).min(lines.len() - 1);
            let l = lines[i].clone();
            lines.insert(i, l);
        }
        2 => {
            let (i, j) = (g.below(lines.len()), g.below(lines.len()));
            lines.swap(i, j);
        }
        3..=6 => {
            // Replace the value of a `key = value` line.
            let candidates: Vec<usize> = (0..lines.len())
                .filter(|&i| {
                    let l = String::from_utf8_lossy(&lines[i]);
                    let t = l.trim_start();
                    !t.starts_with('#') && !t.starts_with('[') && t.contains('=')
                })
                .collect();
            if !candidates.is_empty() {
                let i = *g.pick(&candidates);
                let l = String::from_utf8_lossy(&lines[i]).into_owned();
                let (k, _) = l.split_once('=').unwrap();
                lines[i] = format!("{k}= {}", nasty_value(g)).into_bytes();
            }
        }
        7 => {
            let i = g.below(lines.len() + 1);
            lines.insert(i, nasty_line(g).into_bytes());
        }
        8 => {
            *bytes = join(&lines);
            let cut = g.below(bytes.len() + 1);
            bytes.truncate(cut);
            return;
        }
        9 => {
            *bytes = join(&lines);
            if !bytes.is_empty() {
                let i = g.below(bytes.len());
                bytes[i] ^= 1 << g.below(8);
            }
            return;
        }
        10 => {
            *bytes = join(&lines);
            let i = g.below(bytes.len() + 1);
            const BAD: [&[u8]; 5] = [&[0xff], &[0xc3], &[0xe2, 0x82], &[0], &[0xed, 0xa0, 0x80]];
            let bad: &[u8] = BAD[g.below(BAD.len())];
            bytes.splice(i..i, bad.iter().copied());
            return;
        }
        _ => {
            // Swap the keys of two `key = value` lines.
            let kv: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].contains(&b'=') && !lines[i].starts_with(b"#"))
                .collect();
            if kv.len() >= 2 {
                let (i, j) = (*g.pick(&kv), *g.pick(&kv));
                let li = String::from_utf8_lossy(&lines[i]).into_owned();
                let lj = String::from_utf8_lossy(&lines[j]).into_owned();
                let (ki, _) = li.split_once('=').unwrap();
                let (_, vj) = lj.split_once('=').unwrap();
                lines[j] = format!("{ki}={vj}").into_bytes();
            }
        }
    }
    *bytes = join(&lines);
}

/// A small IDX pair from the bundled test set: its real headers with the count set to
/// `n`, and `n` images; then mutated (mostly in the headers).
fn idx_pair(g: &mut Gen, w: &World) -> (Vec<u8>, Vec<u8>) {
    let n = 1 + g.below(20);
    let mut images = w.images[..16].to_vec();
    images[4..8].copy_from_slice(&(n as u32).to_be_bytes());
    images.extend_from_slice(&w.images[16..16 + n * 784]);
    let mut labels = w.labels[..8].to_vec();
    labels[4..8].copy_from_slice(&(n as u32).to_be_bytes());
    labels.extend_from_slice(&w.labels[8..8 + n]);
    for _ in 0..1 + g.below(3) {
        let (f, header) = if g.chance(0.6) {
            (&mut images, 16)
        } else {
            (&mut labels, 8)
        };
        let header = header.min(f.len());
        match g.below(7) {
            0 if header > 0 => {
                let i = g.below(header);
                f[i] = g.next() as u8;
            }
            1 if header >= 8 => {
                // A huge or zero dimension.
                let d = 4 * (1 + g.below(header / 4 - 1));
                let v: u32 = *g.pick(&[0, 1, u32::MAX, 1 << 31, 60000, 28 * 28 + 1]);
                f[d..d + 4].copy_from_slice(&v.to_be_bytes());
            }
            2 if header >= 4 => f[3] = *g.pick(&[0u8, 1, 2, 4, 255]),
            3 if header >= 4 => f[2] = *g.pick(&[0x08u8, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x00]),
            4 => {
                let cut = g.below(f.len() + 1);
                f.truncate(cut);
            }
            5 => f.extend((0..g.below(100)).map(|_| g.next() as u8)),
            _ => {
                if !f.is_empty() {
                    let i = g.below(f.len());
                    f[i] ^= 0xff;
                }
            }
        }
    }
    (images, labels)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Checks an error message; `file` is the mutated file, `lines` whether it has any.
fn check_message(msg: &str, file: Option<&Path>, lines: bool) -> Result<(), String> {
    if msg.contains('\n') {
        return Err(format!("error of more than one line: {msg:?}"));
    }
    let len = "error: ".len() + msg.chars().count();
    if len > MAX_LINE {
        return Err(format!("error line of {len} characters: {msg}"));
    }
    if let Some(f) = file {
        let f = f.display().to_string();
        if let Some(rest) = msg.strip_prefix(&f)
            && lines
        {
            let located = rest
                .strip_prefix(':')
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()));
            if !located {
                return Err(format!("error about the file names no line: {msg}"));
            }
        }
    }
    Ok(())
}

/// One in-process case: whether the input was accepted, or what went wrong.
fn run_case(seed: u64, w: &World, worker: usize, cache: &DataCache) -> Result<bool, String> {
    let mut g = Gen(seed);
    let target = target_of(&mut g, w.sweeps.len());
    if target == Target::Idx {
        let (images, labels) = idx_pair(&mut g, w);
        let dir = w.root.join(format!("idx-{worker}"));
        fs::create_dir_all(&dir).unwrap();
        let zip = g.chance(0.3);
        let put = |name: &str, bytes: &[u8]| {
            let data = if zip { gzip(bytes) } else { bytes.to_vec() };
            fs::write(dir.join(name), data).unwrap();
        };
        put("ti", &images);
        put("tl", &labels);
        let cfg = DataConfig {
            format: nandspin::config::workload::DataFormat::Idx,
            dir: dir.clone(),
            train_images: "ti".into(),
            train_labels: "tl".into(),
            test_images: "ti".into(),
            test_labels: "tl".into(),
            image_size: None,
        };
        return match nandspin::data::load(&cfg, &dir) {
            Ok(s) => {
                let len = s.train.shape.len();
                if s.train.pixels.len() != len * s.train.len() {
                    return Err("loaded images do not match their shape".into());
                }
                Ok(true)
            }
            Err(e) => check_message(&e.message, None, false).map(|()| false),
        };
    }
    let (base, dir) = w.base(target);
    let mut bytes = base.to_vec();
    for _ in 0..1 + g.below(3) {
        mutate_text(&mut g, &mut bytes);
    }
    let file = dir.join(format!("fuzz-{worker}.toml"));
    fs::write(&file, &bytes).unwrap();
    let lines = !bytes.is_empty();
    let accepted = match nandspin::validate::validate_file_with(&file, cache) {
        Ok(_) => true,
        Err(e) => {
            check_message(&e.message, Some(&file), lines)?;
            false
        }
    };
    // And as `run` reads it, with the other bundled file.
    let req = match target {
        Target::Arch => Some(RunRequest {
            arch: file.clone(),
            workload: w.root.join("workloads/lenet5-mnist.toml"),
            ..RunRequest::default()
        }),
        Target::Workload => Some(RunRequest {
            arch: w.root.join("arch/nandspin.toml"),
            workload: file.clone(),
            ..RunRequest::default()
        }),
        Target::RunRecord => Some(RunRequest {
            from: Some(file.clone()),
            ..RunRequest::default()
        }),
        _ => None,
    };
    if let Some(req) = req
        && let Err(e) = nandspin::run::prepare_with(&req, &[], cache)
    {
        check_message(&e.message, Some(&file), lines)?;
    }
    Ok(accepted)
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

/// Runs `seeds` on worker threads; a watchdog fails the process on a case that hangs.
fn run_in_process(w: &Arc<World>, seeds: Vec<u64>) -> (usize, Vec<(u64, String)>) {
    let accepted = AtomicUsize::new(0);
    let workers = thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4);
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let started: Vec<Mutex<Option<(u64, Instant)>>> =
        (0..workers).map(|_| Mutex::new(None)).collect();
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(200));
                for slot in &started {
                    if let Some((seed, t)) = *slot.lock().unwrap()
                        && t.elapsed() > CASE_LIMIT
                    {
                        let msg = format!(
                            "fuzz: case {seed} hangs (over {} s); replay with NANDSPIN_FUZZ_SEED={seed}\n",
                            CASE_LIMIT.as_secs()
                        );
                        let _ = std::io::stdout().write_all(msg.as_bytes());
                        eprint!("{msg}");
                        std::process::exit(101);
                    }
                }
            }
        });
        let handles: Vec<_> = (0..workers)
            .map(|k| {
                let (w, next, failures, started, seeds, accepted) =
                    (w, &next, &failures, &started, &seeds, &accepted);
                s.spawn(move || {
                    let mut cache = DataCache::default();
                    let mut since_reset = 0;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&seed) = seeds.get(i) else { break };
                        // Limited data sets are cached per limit: start afresh now and then.
                        since_reset += 1;
                        if since_reset == 300 {
                            cache = DataCache::default();
                            since_reset = 0;
                        }
                        *started[k].lock().unwrap() = Some((seed, Instant::now()));
                        let r = catch_unwind(AssertUnwindSafe(|| run_case(seed, w, k, &cache)));
                        *started[k].lock().unwrap() = None;
                        let fail = match r {
                            Ok(Ok(ok)) => {
                                accepted.fetch_add(usize::from(ok), Ordering::Relaxed);
                                continue;
                            }
                            Ok(Err(m)) => m,
                            Err(p) => {
                                cache = DataCache::default();
                                let m = p
                                    .downcast_ref::<String>()
                                    .cloned()
                                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                                    .unwrap_or_default();
                                format!("panicked: {m}")
                            }
                        };
                        failures.lock().unwrap().push((seed, fail));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    (accepted.into_inner(), failures.into_inner().unwrap())
}

/// Runs the binary with a deadline.
fn run_binary(args: &[String]) -> Result<(Option<i32>, String), String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nandspin"))
        .args(args)
        .current_dir(manifest())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr, &mut s);
        s
    });
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let err = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
            return Ok((status.code(), err));
        }
        if t0.elapsed() > CASE_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("nandspin {args:?} hangs"));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// One case through the binary: `validate`, then the command that reads the file.
fn run_cli_case(seed: u64, w: &World) -> Result<(), String> {
    let mut g = Gen(seed);
    let mut target = target_of(&mut g, w.sweeps.len());
    if target == Target::Idx {
        target = Target::Workload;
    }
    let (base, dir) = w.base(target);
    let mut bytes = base.to_vec();
    for _ in 0..1 + g.below(3) {
        mutate_text(&mut g, &mut bytes);
    }
    let file = dir.join(format!("cli-{seed}.toml"));
    fs::write(&file, &bytes).unwrap();
    let f = file.display().to_string();
    let out = w.root.join(format!("out-{seed}"));
    let tiny = [
        "--set",
        "training.epochs=1",
        "--set",
        "training.max_train_images=64",
        "--set",
        "training.max_test_images=32",
    ];
    let mut commands: Vec<Vec<String>> = vec![vec!["validate".into(), f.clone()]];
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut run = match target {
        Target::Arch => s(&["run", "--quiet", "--arch", &f]),
        Target::Workload => s(&["run", "--quiet", "--workload", &f]),
        Target::RunRecord => s(&["run", "--quiet", "--from", &f]),
        Target::Sweep(i) if w.sweeps[i].0.starts_with("tune/") => s(&["tune", &f, "--plan"]),
        _ => s(&["sweep", "plan", &f]),
    };
    run.extend(s(&tiny));
    if run[0] == "run" {
        run.extend(s(&["--out", &out.display().to_string()]));
    }
    commands.push(run);
    let result = (|| {
        for args in &commands {
            let (code, stderr) = run_binary(args)?;
            if stderr.contains("panicked") {
                return Err(format!("nandspin {args:?} panicked: {stderr}"));
            }
            match code {
                Some(0) => {}
                Some(2) => {
                    let errors: Vec<&str> = stderr
                        .lines()
                        .filter(|l| l.starts_with("error: "))
                        .collect();
                    if errors.len() != 1 {
                        return Err(format!(
                            "nandspin {args:?}: expected one error line: {stderr}"
                        ));
                    }
                    check_message(
                        &errors[0]["error: ".len()..],
                        Some(&file),
                        !bytes.is_empty(),
                    )?;
                }
                other => return Err(format!("nandspin {args:?} exited with {other:?}: {stderr}")),
            }
        }
        Ok(())
    })();
    let _ = fs::remove_dir_all(&out);
    let _ = fs::remove_file(&file);
    result
}

#[test]
fn mutated_inputs_give_clean_errors() {
    let t0 = Instant::now();
    let w = Arc::new(World::new());
    let replay = env_u64("NANDSPIN_FUZZ_SEED");
    let cases = env_u64("NANDSPIN_FUZZ_CASES").unwrap_or(10_000);
    let cli_cases = env_u64("NANDSPIN_FUZZ_CLI_CASES").unwrap_or(24);
    let (seeds, cli_seeds): (Vec<u64>, Vec<u64>) = match replay {
        Some(s) if s >= CLI_SEED_BASE => (vec![], vec![s]),
        Some(s) => (vec![s], vec![]),
        None => (
            (0..cases).collect(),
            (0..cli_cases).map(|i| CLI_SEED_BASE + i).collect(),
        ),
    };
    let (accepted, mut failures) = run_in_process(&w, seeds.clone());
    for &seed in &cli_seeds {
        if let Err(m) = run_cli_case(seed, &w) {
            failures.push((seed, m));
        }
    }
    failures.sort();
    let summary = format!(
        "fuzz: {} cases ({} in-process, {accepted} of them valid; {} through the binary) in {:.1} s (seeds 0..{cases} and {CLI_SEED_BASE}..{}), {} failed\n",
        seeds.len() + cli_seeds.len(),
        seeds.len(),
        cli_seeds.len(),
        t0.elapsed().as_secs_f64(),
        CLI_SEED_BASE + cli_cases,
        failures.len()
    );
    // Written past the test harness's capture, so that it shows in CI logs.
    let _ = std::io::stdout().write_all(summary.as_bytes());
    if !failures.is_empty() {
        let shown: Vec<String> = failures
            .iter()
            .take(20)
            .map(|(s, m)| {
                let m: String = m.chars().take(400).collect();
                format!("  seed {s}: {m}\n    replay: NANDSPIN_FUZZ_SEED={s} cargo test --release --test fuzz")
            })
            .collect();
        panic!(
            "{} fuzz cases failed:\n{}",
            failures.len(),
            shown.join("\n")
        );
    }
}
