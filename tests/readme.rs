//! The README's examples run as written: every `--set` it shows is accepted by the default
//! configs, every command line in its code blocks runs (trainings cut to a few hundred
//! images), and the printed outputs of the deterministic commands it quotes match.

mod common;

use std::path::Path;

use common::*;
use tempfile::TempDir;

fn readme() -> String {
    std::fs::read_to_string(manifest().join("README.md")).unwrap()
}

/// Splits a shell line into words, honouring single and double quotes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// Whether a command line is a synopsis with placeholders rather than an example.
fn is_synopsis(line: &str) -> bool {
    line.contains('[') && !line.contains("=[")
        || line.contains("...")
        || line.split_whitespace().any(|w| {
            matches!(
                w,
                "FILE" | "DIR" | "N" | "SWEEP" | "KEY=VALUE" | "runs/X/run.toml"
            )
        })
}

#[test]
fn every_set_example_is_accepted() {
    let text = readme();
    let mut tried = 0;
    for span in text.split('`').skip(1).step_by(2) {
        if !span.starts_with("--set ") || is_synopsis(span) {
            continue;
        }
        let w = words(span);
        if w.iter().any(|x| x.ends_with("=N") || x.contains("/that/")) {
            continue;
        }
        let mut args = vec!["map".to_string()];
        args.extend(w);
        let r = nandspin(&args);
        assert_eq!(
            r.code,
            Some(0),
            "README example `{span}` fails:\n{}",
            r.stderr
        );
        tried += 1;
    }
    assert!(tried >= 5, "only {tried} --set examples found");
}

/// The command lines of the README's code blocks, each with the output lines printed under
/// it (for `$ ` prompts).
fn commands(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_block = false;
    let mut shell_block = false;
    let mut prompt_output = false;
    for raw in text.lines() {
        let line = raw.trim_start();
        if let Some(lang) = line.strip_prefix("```") {
            in_block = !in_block;
            shell_block = in_block && lang == "sh";
            prompt_output = false;
            continue;
        }
        if !in_block {
            continue;
        }
        let (cmd, prompted) = match line.strip_prefix("$ ") {
            Some(c) => (c, true),
            None => (line, false),
        };
        let cmd = cmd.split(" #").next().unwrap().trim();
        let is_cmd = (prompted || shell_block)
            && (cmd.starts_with("nandspin ") || cmd.starts_with("cargo run --release -- "));
        if is_cmd {
            out.push((cmd.to_string(), Vec::new()));
            prompt_output = prompted;
        } else if prompt_output && let Some(last) = out.last_mut() {
            last.1.push(line.to_string());
        }
    }
    out
}

#[test]
fn every_command_example_runs_and_quoted_outputs_match() {
    let tmp = TempDir::new().unwrap();
    let cwd = tmp.path();
    project_folder(cwd);
    let mut ran = 0;
    let mut compared = 0;
    for (line, expected) in commands(&readme()) {
        if is_synopsis(&line) {
            continue;
        }
        let w = words(&line);
        let mut args: Vec<String> = match w[0].as_str() {
            "cargo" => w[4..].to_vec(),
            _ => w[1..].to_vec(),
        };
        let trains = args[0] == "run" || (args[0] == "sweep" && args[1] == "run");
        if trains {
            args.extend(TINY_SETS.iter().map(|s| s.to_string()));
            if args[0] == "sweep" {
                args.extend(["--jobs".into(), "1".into(), "--quiet".into()]);
            }
        }
        let r = nandspin_in(cwd, &args);
        let stdout = &r.stdout;
        assert_eq!(
            r.code,
            Some(0),
            "README command `{line}` (run as {args:?}) failed:\n{}",
            r.stderr
        );
        ran += 1;
        let quoted: Vec<&String> = expected.iter().filter(|l| !l.is_empty()).collect();
        if !trains && !quoted.is_empty() && !quoted.iter().any(|l| l.contains("...")) {
            let got: Vec<&str> = stdout.lines().collect();
            assert_eq!(
                got,
                quoted.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                "README quotes other output for `{line}`"
            );
            compared += 1;
        }
    }
    assert!(ran >= 5, "only {ran} README commands ran");
    assert!(compared >= 2, "only {compared} quoted outputs compared");
    assert!(
        Path::new(cwd)
            .join("runs/sweeps/tiles-pulse/plots")
            .is_dir()
    );
}

/// The scripts the docs tell users to run are executable as they are checked out.
#[test]
fn every_script_is_executable() {
    use std::os::unix::fs::PermissionsExt;
    let mut n = 0;
    for e in std::fs::read_dir(common::manifest().join("scripts")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "sh") {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert!(mode & 0o111 != 0, "{} is not executable", path.display());
            n += 1;
        }
    }
    assert!(n >= 5, "{n} scripts");
}
