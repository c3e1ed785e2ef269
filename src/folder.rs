//! Report folders that hold one run's complete set of files or none.
//!
//! A set is written into a fresh hidden sibling (`.NAME.new-PID`), synced, and then moved
//! into place: an existing folder is first renamed aside (`.NAME.old-PID`), the new one
//! renamed to its name, the old one removed. A process killed at any point leaves the
//! folder with the old complete set, with no set, or with the new complete set, never a
//! mix; the hidden siblings it may leave are removed by the next write of that folder.
//! Readers check that every file of the set is there ([`missing`]).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::InputError;

/// The files of one run's report, in the order they are written (`summary.csv` last).
pub const REPORT_FILES: [&str; 5] = [
    "run.toml",
    "epochs.csv",
    "layers.csv",
    "components.csv",
    "summary.csv",
];

/// Other entries a report folder may hold: figures drawn by `nandspin plot`.
pub const REPORT_EXTRAS: [&str; 1] = ["plots"];

/// This machine's name, as the kernel has it (empty where it cannot be read).
fn host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().replace(['-', '/', '.'], "_"))
        .unwrap_or_default()
}

/// The tag of this process's temporaries: `HOST-PID`, so that writers on other machines
/// sharing the filesystem never take each other's temporaries for stale ones.
pub fn tag() -> String {
    format!("{}-{}", host(), std::process::id())
}

/// Whether a temporary named `....new-HOST-PID` (`.old-`, `.tmp-`; or `...-PID`, as older
/// versions wrote) belongs to a process that is gone: one of this machine whose pid `/proc`
/// no longer lists. Where `/proc` is missing, or the temporary is another machine's, it is
/// taken to be alive.
fn is_stale(name: &str) -> bool {
    let Some(i) = [".new-", ".old-", ".tmp-"]
        .iter()
        .filter_map(|m| name.rfind(m).map(|i| i + m.len()))
        .max()
    else {
        return false;
    };
    let tail = &name[i..];
    let (from, pid) = match tail.rsplit_once('-') {
        Some((h, p)) => (Some(h), p),
        None => (None, tail),
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if from.is_some_and(|h| h != host()) {
        return false;
    }
    let proc = Path::new("/proc");
    pid != std::process::id() && proc.join("self").exists() && !proc.join(pid.to_string()).exists()
}

/// Whether `name` is a temporary file a report writer leaves inside a folder
/// (`.FILE.tmp-...`).
pub fn is_temporary_file(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

/// Removes what killed writers of this machine left: hidden siblings `.NAME.new-*` /
/// `.NAME.old-*` of `dir` and `.FILE.tmp-*` files inside it whose process is gone.
pub fn remove_stale(dir: &Path) {
    let (parent, name) = split(dir);
    if let (Some(name), Ok(entries)) = (name, fs::read_dir(&parent)) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let ours = [".new-", ".old-"]
                .iter()
                .any(|k| n.starts_with(&format!(".{name}{k}")));
            if ours && is_stale(&n) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if is_temporary_file(&n) && is_stale(&n) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// The parent folder and the last component of `dir` (`None` for `.`, `..` or `/`).
fn split(dir: &Path) -> (PathBuf, Option<String>) {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = match dir.components().next_back() {
        Some(std::path::Component::Normal(n)) => Some(n.to_string_lossy().into_owned()),
        _ => None,
    };
    (parent, name)
}

/// Syncs a folder so that renames inside it survive a crash (best effort).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A symbolic link named as a report folder stands for the folder it points to: the
/// reports go there and the link stays.
fn resolve(dir: &Path) -> PathBuf {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
        }
        _ => dir.to_path_buf(),
    }
}

/// What must still hold of a run's report folder just before it is replaced: see
/// [`check_replace`].
#[derive(Debug, Clone, Copy)]
pub struct Guard<'a> {
    /// The configuration id of the reports being written.
    pub id: &'a str,
    /// Whether the reports of another configuration may be replaced.
    pub force: bool,
}

/// Writes `files` (names and bytes) as the whole content of folder `dir`, replacing what
/// it held: see the module docs. With a `guard`, the folder is checked again
/// ([`check_replace`]) right before it is replaced, since it may have changed while the
/// reports were computed; if the check fails, the reports are kept in a visible sibling
/// folder, which the error names.
pub fn write_folder(dir: &Path, files: &[(&str, Vec<u8>)], guard: Option<Guard>) -> Result<()> {
    let dir = &resolve(dir);
    let (parent, Some(name)) = split(dir) else {
        return Err(InputError::new(format!(
            "{}: name a report folder (not `.`, `..` or `/`)",
            dir.display()
        ))
        .into());
    };
    fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    remove_stale(dir);
    let tag = tag();
    let new = parent.join(format!(".{name}.new-{tag}"));
    if new.exists() {
        fs::remove_dir_all(&new).with_context(|| format!("removing {}", new.display()))?;
    }
    let staged = (|| -> Result<()> {
        fs::create_dir(&new).with_context(|| format!("creating {}", new.display()))?;
        for (file, bytes) in files {
            let path = new.join(file);
            let mut f =
                fs::File::create(&path).with_context(|| format!("writing {}", path.display()))?;
            f.write_all(bytes)
                .and_then(|()| f.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
        }
        sync_dir(&new);
        Ok(())
    })();
    if let Err(e) = staged {
        let _ = fs::remove_dir_all(&new);
        return Err(e);
    }
    if let Some(g) = guard
        && let Err(e) = check_replace(dir, g.id, g.force)
    {
        let keep = parent.join(format!("{name}-{}", &g.id[..8.min(g.id.len())]));
        let kept = if fs::symlink_metadata(&keep).is_err() && fs::rename(&new, &keep).is_ok() {
            keep
        } else {
            new
        };
        return Err(InputError::new(format!(
            "{} (it changed while the run computed); its reports are in {}",
            e.message,
            kept.display()
        ))
        .into());
    }
    if fs::symlink_metadata(dir).is_ok() {
        let old = parent.join(format!(".{name}.old-{tag}"));
        if let Err(e) = fs::rename(dir, &old) {
            let _ = fs::remove_dir_all(&new);
            return Err(e).with_context(|| format!("moving {} aside", dir.display()));
        }
        if let Err(e) = fs::rename(&new, dir) {
            // Put the old set back rather than leave no folder.
            let _ = fs::rename(&old, dir);
            let _ = fs::remove_dir_all(&new);
            return Err(e).with_context(|| format!("renaming to {}", dir.display()));
        }
        let _ = fs::remove_dir_all(&old);
    } else {
        fs::rename(&new, dir).with_context(|| format!("renaming to {}", dir.display()))?;
    }
    sync_dir(&parent);
    Ok(())
}

/// Checks, before any work, that the report folder `dir` can be written: makes the folder
/// that holds it and a hidden probe folder beside it (removed at once).
pub fn check_writable(dir: &Path) -> std::io::Result<()> {
    let dir = &resolve(dir);
    let (parent, name) = split(dir);
    let name = name.ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "name a report folder (not `.`, `..` or `/`)",
        )
    })?;
    fs::create_dir_all(&parent)?;
    remove_stale(dir);
    let probe = parent.join(format!(".{name}.new-{}", tag()));
    fs::create_dir(&probe)?;
    fs::remove_dir(&probe)
}

/// The report files missing from `dir` (empty when the set is complete).
pub fn missing(dir: &Path) -> Vec<&'static str> {
    REPORT_FILES
        .iter()
        .copied()
        .filter(|f| !dir.join(f).is_file())
        .collect()
}

/// Refuses a report folder that is not complete, in one line naming what is missing.
pub fn check_complete(dir: &Path) -> Result<(), InputError> {
    let gone = missing(dir);
    if gone.is_empty() {
        return Ok(());
    }
    Err(InputError::new(format!(
        "{}: an incomplete report folder (no {}); a run writing it was interrupted or it was edited by hand: rerun it",
        dir.display(),
        gone.join(", ")
    )))
}

/// The id recorded in `dir/run.toml` (`[run] id`), if there is one.
pub fn recorded_id(dir: &Path) -> Option<String> {
    let text = fs::read_to_string(dir.join("run.toml")).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    Some(table.get("run")?.get("id")?.as_str()?.to_string())
}

/// Checks that writing the reports of the configuration `id` into `dir` replaces nothing
/// it should not: `dir` is absent, empty or a report folder (only report files, `plots/`
/// and hidden temporaries), and a complete report in it is of the same configuration
/// unless `force`. Hidden entries count as foreign (`.git`, `.env`) except the writer's own
/// temporaries (`.FILE.tmp-...`).
pub fn check_replace(dir: &Path, id: &str, force: bool) -> Result<(), InputError> {
    if split(dir).1.is_none() {
        return Err(InputError::new(format!(
            "{}: name a report folder (not `.`, `..` or `/`)",
            dir.display()
        )));
    }
    let Ok(meta) = fs::metadata(dir) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return Err(InputError::new(format!(
            "{}: exists and is not a folder; give --out a folder for the reports",
            dir.display()
        )));
    }
    let entries = fs::read_dir(dir)
        .map_err(|e| InputError::new(format!("{}: cannot read the folder: {e}", dir.display())))?;
    let mut others: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            !is_temporary_file(n)
                && !REPORT_FILES.contains(&n.as_str())
                && !REPORT_EXTRAS.contains(&n.as_str())
        })
        .collect();
    others.sort();
    if let Some(first) = others.first() {
        return Err(InputError::new(format!(
            "{}: holds {} entr{} that no run report has (`{}`{}); reports replace their folder whole, so give --out a new or empty folder",
            dir.display(),
            others.len(),
            if others.len() == 1 { "y" } else { "ies" },
            crate::error::clip(first),
            if others.len() > 1 { ", ..." } else { "" }
        )));
    }
    if force || !missing(dir).is_empty() {
        return Ok(());
    }
    match recorded_id(dir) {
        Some(old) if old == id => Ok(()),
        old => Err(InputError::new(format!(
            "{}: holds the reports of a different configuration (id {}; this run's is {id}); pass --force to replace them, or --out to write elsewhere",
            dir.display(),
            old.as_deref().unwrap_or("not recorded")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(tag: &str) -> Vec<(&'static str, Vec<u8>)> {
        REPORT_FILES
            .iter()
            .map(|&f| (f, format!("{tag} {f}").into_bytes()))
            .collect()
    }

    #[test]
    fn replaces_a_folder_whole_and_leaves_no_temporaries() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r");
        write_folder(&dir, &set("a"), None).unwrap();
        fs::create_dir(dir.join("plots")).unwrap();
        write_folder(&dir, &set("b"), None).unwrap();
        for f in REPORT_FILES {
            assert_eq!(fs::read_to_string(dir.join(f)).unwrap(), format!("b {f}"));
        }
        assert!(!dir.join("plots").exists(), "stale figures survive");
        let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "temporaries left beside the folder");
        assert!(missing(&dir).is_empty());
    }

    #[test]
    fn removes_what_a_killed_writer_left() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r");
        // A pid that cannot be alive (above the kernel's pid_max).
        let dead = 4_194_305 + 7;
        fs::create_dir_all(tmp.path().join(format!(".r.new-{dead}"))).unwrap();
        fs::create_dir_all(tmp.path().join(format!(".r.old-{dead}"))).unwrap();
        fs::create_dir_all(tmp.path().join(format!(".other.new-{dead}"))).unwrap();
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!(".epochs.csv.tmp-{dead}")), "x").unwrap();
        remove_stale(&dir);
        let mut left: Vec<String> = fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [format!(".other.new-{dead}"), "r".to_string()]);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        // Another machine's temporaries on a shared filesystem are not this one's to remove.
        let theirs = format!(".r.new-{}x-{dead}", host());
        fs::create_dir_all(tmp.path().join(&theirs)).unwrap();
        fs::write(dir.join(format!(".a.csv.tmp-elsewhere-{dead}")), "x").unwrap();
        remove_stale(&dir);
        assert!(tmp.path().join(&theirs).exists());
        assert!(dir.join(format!(".a.csv.tmp-elsewhere-{dead}")).exists());
        // This machine's, tagged with host and pid, are.
        fs::create_dir_all(tmp.path().join(format!(".r.old-{}-{dead}", host()))).unwrap();
        remove_stale(&dir);
        assert!(
            !tmp.path()
                .join(format!(".r.old-{}-{dead}", host()))
                .exists()
        );
    }

    #[test]
    fn hidden_entries_of_the_user_make_a_folder_foreign() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("proj");
        fs::create_dir_all(dir.join(".git")).unwrap();
        let e = check_replace(&dir, "abc", true).unwrap_err().message;
        assert!(e.contains(".git"), "{e}");
        fs::remove_dir(dir.join(".git")).unwrap();
        fs::write(dir.join(".summary.csv.tmp-h-1"), "").unwrap();
        assert!(check_replace(&dir, "abc", false).is_ok());
    }

    #[test]
    fn a_symlinked_folder_gets_the_reports_and_stays_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        fs::create_dir(&real).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_folder(&link, &set("a"), None).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(missing(&real).is_empty());
    }

    #[test]
    fn a_folder_changed_meanwhile_is_not_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("notes.txt"), "mine").unwrap();
        let guard = Guard {
            id: "0123456789ab",
            force: true,
        };
        let e = write_folder(&dir, &set("a"), Some(guard))
            .unwrap_err()
            .to_string();
        assert!(e.contains("r-01234567"), "{e}");
        assert_eq!(fs::read_to_string(dir.join("notes.txt")).unwrap(), "mine");
        assert!(missing(&tmp.path().join("r-01234567")).is_empty());
    }

    #[test]
    fn refuses_other_configurations_and_foreign_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r");
        assert!(check_replace(&dir, "abc", false).is_ok(), "absent folder");
        let mut files = set("a");
        files[0].1 = b"[run]\nid = \"abc\"\n".to_vec();
        write_folder(&dir, &files, None).unwrap();
        assert!(
            check_replace(&dir, "abc", false).is_ok(),
            "same configuration"
        );
        let e = check_replace(&dir, "def", false).unwrap_err().message;
        assert!(e.contains("id abc") && e.contains("--force"), "{e}");
        assert!(check_replace(&dir, "def", true).is_ok());
        fs::remove_file(dir.join("summary.csv")).unwrap();
        assert!(check_replace(&dir, "def", false).is_ok(), "incomplete set");
        fs::write(dir.join("notes.txt"), "mine").unwrap();
        let e = check_replace(&dir, "abc", true).unwrap_err().message;
        assert!(e.contains("notes.txt"), "{e}");
        assert!(check_replace(&dir.join("run.toml"), "abc", true).is_err());
        assert!(
            check_complete(&dir)
                .unwrap_err()
                .message
                .contains("summary.csv")
        );
    }
}
