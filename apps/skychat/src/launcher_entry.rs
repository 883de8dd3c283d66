//! `skychat launcher-entry`: the `launcher.apps[]` entry that has a Skywire visor start this
//! program, printed, or added to the visor's `skywire-config.json` with `--write`.
//!
//! The entry has the fields of the visor's launcher app config (`name`, `binary`, `args`,
//! `auto_start`, `port`, in that order, as a 2024 `skywire cli config gen` writes them). The
//! visor runs `<launcher.bin_path>/<binary>`, so `binary` is a name inside `bin_path`, never an
//! absolute path; the command says where to link the program. Writing edits the file's text in
//! place ([`splice`]): every other byte stays as it was, and the new file replaces the old one
//! atomically (a temporary file in the same directory, with the same permissions, then a
//! rename). It refuses a file that is not a visor config and an entry name that is taken, and
//! then leaves the file untouched.

mod splice;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::cli::LauncherEntryArgs;
use crate::run::Failure;
use splice::Scanner;

/// The entry's default name, as the Go skychat's.
pub const DEFAULT_NAME: &str = "skychat";

/// The default file name of the program inside `launcher.bin_path`.
pub const DEFAULT_BINARY: &str = "skychat";

/// The default HTTP control surface of the node under the visor (the Go skychat's).
pub const DEFAULT_ADDR: &str = ":8001";

/// The chat's routing port on the mesh.
pub const CHAT_PORT: u32 = 1;

/// One `launcher.apps[]` entry, fields in the visor's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppEntry {
    pub name: String,
    pub binary: String,
    pub args: Vec<String>,
    pub auto_start: bool,
    pub port: u32,
}

/// What the visor config says that the entry and the hint need.
#[derive(Debug)]
struct VisorConfig {
    /// The config file, resolved (symlinks followed): what `-c` in the entry names, and what
    /// `--write` replaces.
    path: PathBuf,
    text: String,
    value: Value,
    bin_path: String,
    cli_addr: Option<String>,
}

/// Runs the subcommand.
pub fn run(args: &LauncherEntryArgs) -> Result<(), Failure> {
    let config = read_config(Path::new(&args.config))?;
    let entry = build_entry(args, &config)?;
    let rendered = splice::render(&entry, "", "  ");
    if args.write {
        write_entry(&config, &entry, args.replace)?;
        println!("{rendered}");
        eprintln!(
            "{} launcher.apps[] entry {:?} in {}",
            if args.replace { "wrote" } else { "added" },
            entry.name,
            config.path.display()
        );
    } else {
        println!("{rendered}");
        eprintln!(
            "add it to launcher.apps[] of {} yourself, or run this command again with --write",
            config.path.display()
        );
    }
    eprint!("{}", binary_hint(&config.bin_path, &entry.binary));
    if let Some(other) = port_taken_by(&config.value, &entry) {
        eprintln!(
            "warning: launcher.apps[] entry {other:?} also uses routing port {}: only one app \
             can listen there, so set its \"auto_start\" to false (or remove it) before \
             starting the visor",
            entry.port
        );
    }
    eprintln!("restart the visor to start it");
    Ok(())
}

fn read_config(path: &Path) -> Result<VisorConfig, Failure> {
    let resolved = std::fs::canonicalize(path)
        .map_err(|e| Failure::runtime(format!("-c {}: {e}", path.display())))?;
    let text = std::fs::read_to_string(&resolved)
        .map_err(|e| Failure::runtime(format!("-c {}: cannot read it: {e}", path.display())))?;
    let not_visor = |why: &str| {
        Failure::usage(format!(
            "-c {}: not a Skywire visor config: {why} (give the visor's skywire-config.json, \
             as `skywire cli config gen` writes it)",
            path.display()
        ))
    };
    let value: Value =
        serde_json::from_str(&text).map_err(|e| not_visor(&format!("not valid JSON: {e}")))?;
    let root = value
        .as_object()
        .ok_or_else(|| not_visor("not a JSON object"))?;
    if !root.get("sk").is_some_and(Value::is_string) {
        return Err(not_visor("it has no \"sk\" (the visor's secret key)"));
    }
    let launcher = root
        .get("launcher")
        .and_then(Value::as_object)
        .ok_or_else(|| not_visor("it has no \"launcher\" object"))?;
    let bin_path = launcher
        .get("bin_path")
        .and_then(Value::as_str)
        .ok_or_else(|| not_visor("its \"launcher\" has no \"bin_path\""))?
        .to_string();
    match launcher.get("apps") {
        None | Some(Value::Null | Value::Array(_)) => {}
        Some(_) => return Err(not_visor("its \"launcher.apps\" is not a list")),
    }
    let cli_addr = root
        .get("cli_addr")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
        .map(str::to_string);
    Ok(VisorConfig {
        path: resolved,
        text,
        value,
        bin_path,
        cli_addr,
    })
}

fn build_entry(args: &LauncherEntryArgs, config: &VisorConfig) -> Result<AppEntry, Failure> {
    let name = args.name.as_deref().unwrap_or(DEFAULT_NAME);
    if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(Failure::usage(format!(
            "--name {name:?}: the visor uses the name as a directory name; give a plain name \
             such as {DEFAULT_NAME}"
        )));
    }
    let binary = args.binary.as_deref().unwrap_or(DEFAULT_BINARY);
    if binary.is_empty() || Path::new(binary).is_absolute() {
        return Err(Failure::usage(format!(
            "--binary {binary:?}: the visor joins \"binary\" to launcher.bin_path ({:?}), so an \
             absolute path does not work; give the file name inside bin_path (for example \
             {DEFAULT_BINARY}) and link the program there",
            config.bin_path
        )));
    }
    let addr = args.addr.as_deref().unwrap_or(DEFAULT_ADDR);
    crate::address::parse_http_addr(Some(addr))
        .map_err(|e| Failure::usage(format!("--addr: {e}")))?;
    let mut node_args = vec![
        "--addr".to_string(),
        addr.to_string(),
        "-c".to_string(),
        config.path.to_string_lossy().into_owned(),
    ];
    if args.pair_enable {
        node_args.push("--pair-enable".to_string());
        if let Some(rpc) = &config.cli_addr {
            node_args.push("--pair-rpc".to_string());
            node_args.push(rpc.clone());
        }
    }
    Ok(AppEntry {
        name: name.to_string(),
        binary: binary.to_string(),
        args: node_args,
        auto_start: !args.no_auto_start,
        port: CHAT_PORT,
    })
}

/// The name of another entry that listens on the same routing port, if any.
fn port_taken_by(config: &Value, entry: &AppEntry) -> Option<String> {
    config
        .pointer("/launcher/apps")?
        .as_array()?
        .iter()
        .filter(|app| app.get("name").and_then(Value::as_str) != Some(entry.name.as_str()))
        .find(|app| app.get("port").and_then(Value::as_u64) == Some(u64::from(entry.port)))
        .map(|app| {
            app.get("name")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string()
        })
}

/// Where the visor looks for the program, and how to put it there.
fn binary_hint(bin_path: &str, binary: &str) -> String {
    let target = Path::new(bin_path).join(binary);
    let this = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/path/to/skychat".to_string());
    let mut hint = format!(
        "the visor runs launcher.bin_path + \"binary\" = {} (\"binary\" is joined to bin_path, so \
         an absolute path does not work); put this program there:\n  ln -s {this} {}\n",
        target.display(),
        target.display()
    );
    if Path::new(bin_path).is_relative() {
        hint.push_str(&format!(
            "  (bin_path {bin_path:?} is relative to the visor's working directory)\n"
        ));
    } else if target.exists() {
        hint.push_str(&format!("  ({} exists already)\n", target.display()));
    }
    hint
}

/// Adds (or, with `replace`, replaces) the entry in the config file.
fn write_entry(config: &VisorConfig, entry: &AppEntry, replace: bool) -> Result<(), Failure> {
    let apps = config
        .value
        .pointer("/launcher/apps")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let existing = apps
        .iter()
        .position(|app| app.get("name").and_then(Value::as_str) == Some(entry.name.as_str()));
    if let (Some(i), false) = (existing, replace) {
        let current = serde_json::to_string(&apps[i]).unwrap_or_default();
        return Err(Failure::runtime(format!(
            "{}: launcher.apps[] already has an entry named {:?}: {current}; the file is \
             unchanged. Pass --name <another name> to add this one beside it, or --replace to \
             replace it",
            config.path.display(),
            entry.name
        )));
    }
    let new_text = splice_entry(&config.text, entry, existing).ok_or_else(|| {
        Failure::runtime(format!(
            "{}: cannot locate launcher.apps in the file's text; the file is unchanged (add the \
             entry printed without --write by hand)",
            config.path.display()
        ))
    })?;
    check_only_the_entry_changed(&config.value, &new_text, entry, existing).map_err(|why| {
        Failure::runtime(format!(
            "{}: {why}; the file is unchanged",
            config.path.display()
        ))
    })?;
    replace_file(&config.path, new_text.as_bytes()).map_err(|e| {
        Failure::runtime(format!(
            "cannot write {}: {e}; the file is unchanged",
            config.path.display()
        ))
    })
}

/// The config text with the entry appended to `launcher.apps` (or replacing element `at`).
fn splice_entry(text: &str, entry: &AppEntry, at: Option<usize>) -> Option<String> {
    let s = Scanner::new(text);
    let root = s.skip_ws(0);
    let launcher = s.member(root, "launcher")?;
    let pretty = text.contains('\n');
    match s.member(launcher.value.start, "apps") {
        Some(apps) if text[apps.value.clone()].starts_with('[') => {
            let (elements, close) = s.elements(apps.value.start)?;
            let parent = s.line_indent(apps.key_start);
            let indent = match elements.first() {
                Some(first) if pretty => s.line_indent(first.start).to_string(),
                _ => format!("{parent}{}", unit_of(parent)),
            };
            let unit = indent.strip_prefix(parent).filter(|u| !u.is_empty());
            let unit = unit.unwrap_or_else(|| unit_of(parent));
            let body = if pretty {
                splice::render(entry, &indent, unit)
            } else {
                serde_json::to_string(entry).ok()?
            };
            let (range, insert) = match (at, elements.last()) {
                (Some(i), _) => (elements.get(i)?.clone(), body),
                (None, Some(last)) if pretty => (last.end..last.end, format!(",\n{indent}{body}")),
                (None, Some(last)) => (last.end..last.end, format!(",{body}")),
                (None, None) if pretty => (
                    apps.value.start + 1..close,
                    format!("\n{indent}{body}\n{parent}"),
                ),
                (None, None) => (apps.value.start + 1..close, body),
            };
            Some(format!(
                "{}{insert}{}",
                &text[..range.start],
                &text[range.end..]
            ))
        }
        // `"apps": null`, or no "apps" at all: a list holding the entry.
        found => {
            let member_at = match &found {
                Some(apps) => apps.key_start,
                None => s.members(launcher.value.start)?.0.first()?.key_start,
            };
            let parent = s.line_indent(member_at);
            let unit = unit_of(parent);
            let list = if pretty {
                let inner = format!("{parent}{unit}");
                format!(
                    "[\n{inner}{}\n{parent}]",
                    splice::render(entry, &inner, unit)
                )
            } else {
                format!("[{}]", serde_json::to_string(entry).ok()?)
            };
            Some(match found {
                Some(apps) => format!(
                    "{}{list}{}",
                    &text[..apps.value.start],
                    &text[apps.value.end..]
                ),
                None => {
                    let sep = if pretty {
                        format!("\n{parent}")
                    } else {
                        String::new()
                    };
                    format!(
                        "{}\"apps\": {list},{sep}{}",
                        &text[..member_at],
                        &text[member_at..]
                    )
                }
            })
        }
    }
}

/// The indentation step of a file whose line is indented by `sample`: a tab if it uses tabs.
fn unit_of(sample: &str) -> &'static str {
    if sample.contains(' ') && !sample.contains('\t') {
        "  "
    } else {
        "\t"
    }
}

/// Parses the new text and checks that it is the old config with just this entry added or
/// replaced.
fn check_only_the_entry_changed(
    old: &Value,
    new_text: &str,
    entry: &AppEntry,
    replaced: Option<usize>,
) -> Result<(), String> {
    let mut new: Value = serde_json::from_str(new_text)
        .map_err(|e| format!("the edited text would not be valid JSON ({e})"))?;
    let entry_value = serde_json::to_value(entry).map_err(|e| e.to_string())?;
    let apps = new
        .pointer_mut("/launcher/apps")
        .and_then(Value::as_array_mut)
        .ok_or("the edited text has no launcher.apps list")?;
    let index = replaced.unwrap_or(apps.len().saturating_sub(1));
    if apps.get(index) != Some(&entry_value) {
        return Err("the edited text does not hold the entry where expected".to_string());
    }
    match replaced {
        Some(i) => {
            apps[i] = old
                .pointer("/launcher/apps")
                .and_then(|a| a.get(i))
                .cloned()
                .unwrap_or_default()
        }
        None => {
            apps.pop();
        }
    }
    let mut old = old.clone();
    if old.pointer("/launcher/apps").is_none_or(Value::is_null)
        && let Some(launcher) = old.get_mut("launcher").and_then(Value::as_object_mut)
    {
        launcher.insert("apps".to_string(), Value::Array(Vec::new()));
    }
    if new != old {
        return Err("the edit would change more than launcher.apps (refusing)".to_string());
    }
    Ok(())
}

/// Replaces `path` with `bytes` atomically: a temporary file beside it with the same
/// permissions (and owner, when this process may set it), flushed to disk, then renamed over
/// it.
fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.skychat-{}.tmp", std::process::id()));
    let metadata = std::fs::metadata(path)?;
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.set_permissions(metadata.permissions())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            // Only root may give a file away; anyone else writes it as its own.
            let _ = std::os::unix::fs::fchown(&file, Some(metadata.uid()), Some(metadata.gid()));
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        // The rename itself reaches the disk with the directory.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> AppEntry {
        AppEntry {
            name: name.to_string(),
            binary: "skychat".to_string(),
            args: vec!["--addr".to_string(), ":8001".to_string()],
            auto_start: true,
            port: 1,
        }
    }

    const GO_STYLE: &str = "{\n\t\"sk\": \"00\",\n\t\"launcher\": {\n\t\t\"apps\": [\n\t\t\t{\n\t\t\t\t\"name\": \"vpn-client\",\n\t\t\t\t\"port\": 43\n\t\t\t}\n\t\t],\n\t\t\"bin_path\": \"./\"\n\t},\n\t\"big\": 12345678901234567890123\n}\n";

    #[test]
    fn appends_in_the_files_own_indentation() {
        let text = splice_entry(GO_STYLE, &entry("skychat"), None).expect("spliced");
        let expected = "{\n\t\"sk\": \"00\",\n\t\"launcher\": {\n\t\t\"apps\": [\n\t\t\t{\n\t\t\t\t\"name\": \"vpn-client\",\n\t\t\t\t\"port\": 43\n\t\t\t},\n\t\t\t{\n\t\t\t\t\"name\": \"skychat\",\n\t\t\t\t\"binary\": \"skychat\",\n\t\t\t\t\"args\": [\n\t\t\t\t\t\"--addr\",\n\t\t\t\t\t\":8001\"\n\t\t\t\t],\n\t\t\t\t\"auto_start\": true,\n\t\t\t\t\"port\": 1\n\t\t\t}\n\t\t],\n\t\t\"bin_path\": \"./\"\n\t},\n\t\"big\": 12345678901234567890123\n}\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn replaces_in_place() {
        let text = splice_entry(GO_STYLE, &entry("skychat"), Some(0)).expect("spliced");
        assert!(!text.contains("vpn-client"), "{text}");
        assert!(text.contains("\t\t\"apps\": [\n\t\t\t{\n\t\t\t\t\"name\": \"skychat\""));
    }

    #[test]
    fn fills_an_empty_or_null_or_missing_list() {
        for apps in ["\"apps\": [],", "\"apps\": null,", ""] {
            let text = format!(
                "{{\n  \"sk\": \"00\",\n  \"launcher\": {{\n    {apps}\n    \"bin_path\": \"/b\"\n  }}\n}}"
            );
            let out = splice_entry(&text, &entry("skychat"), None).expect("spliced");
            let value: Value = serde_json::from_str(&out).expect(&out);
            assert_eq!(
                value.pointer("/launcher/apps/0/name"),
                Some(&Value::from("skychat")),
                "{out}"
            );
            assert_eq!(
                value.pointer("/launcher/bin_path"),
                Some(&Value::from("/b"))
            );
        }
    }

    #[test]
    fn compact_files_stay_compact() {
        let text = r#"{"sk":"00","launcher":{"apps":[{"name":"a"}],"bin_path":"./"}}"#;
        let out = splice_entry(text, &entry("skychat"), None).expect("spliced");
        assert!(!out.contains('\n'));
        assert!(out.contains(r#"[{"name":"a"},{"name":"skychat","#), "{out}");
    }

    #[test]
    fn the_check_catches_an_edit_beyond_the_list() {
        let old: Value = serde_json::from_str(GO_STYLE).expect("json");
        let good = splice_entry(GO_STYLE, &entry("skychat"), None).expect("spliced");
        assert_eq!(
            check_only_the_entry_changed(&old, &good, &entry("skychat"), None),
            Ok(())
        );
        let bad = good.replace("\"bin_path\": \"./\"", "\"bin_path\": \"/x\"");
        assert!(check_only_the_entry_changed(&old, &bad, &entry("skychat"), None).is_err());
    }
}
