//! `skychat launcher-entry` through the real binaries: it prints the `launcher.apps[]` entry
//! for a visor config, adds it with `--write` as a pure insertion into the file's text (every
//! other byte, the field order and the file's mode kept), replaces an entry only with
//! `--replace`, and refuses a taken name, a file that is not a visor config and an absolute
//! `--binary`, leaving the file byte for byte as it was.
//!
//! The config is shaped like the one a 2024 `skywire cli config gen` writes: tab-indented,
//! fields in the visor's order, a Go skychat entry already named "skychat".

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::binaries::{SKYCHAT, SKYWIRE};
use support::command::{self, Outcome};
use support::scratch::Scratch;

const LIMIT: Duration = Duration::from_secs(20);

/// A visor config in the shape of a 2024 `skywire cli config gen` (trimmed; the key is a test
/// key).
const VISOR_CONFIG: &str = r#"{
	"version": "unknown",
	"sk": "1f9c0a26ec5ea5ea00c5d9adfb96b9fb5fe4b00ec2d4dc4f5b5f54ca0ea2c0a1",
	"pk": "",
	"dmsg": {
		"discovery": "http://dmsgd.skywire.skycoin.com",
		"sessions_count": 2,
		"servers": [],
		"servers_type": "all"
	},
	"launcher": {
		"service_discovery": "http://sd.skycoin.com",
		"apps": [
			{
				"name": "vpn-client",
				"binary": "skywire",
				"args": [
					"app",
					"vpn-client",
					"--dns",
					"1.1.1.1"
				],
				"auto_start": false,
				"port": 43
			},
			{
				"name": "skychat",
				"binary": "skywire",
				"args": [
					"app",
					"skychat",
					"--addr",
					":8001"
				],
				"auto_start": true,
				"port": 1
			}
		],
		"server_addr": "localhost:5505",
		"bin_path": "/opt/skywire/apps",
		"display_node_ip": false
	},
	"hypervisors": [],
	"cli_addr": "localhost:3435",
	"log_level": "",
	"local_path": "./local",
	"shutdown_timeout": "10s",
	"is_public": false,
	"persistent_transports": null
}
"#;

fn run(binary: &str, args: &[&str]) -> Outcome {
    command::run(binary, args, &[], LIMIT)
}

/// `skychat launcher-entry -c <path> <extra…>`.
fn launcher(path: &str, extra: &[&str]) -> Outcome {
    let mut args = vec!["launcher-entry", "-c", path];
    args.extend_from_slice(extra);
    run(SKYCHAT, &args)
}

/// A scratch dir holding [`VISOR_CONFIG`], and the config's path.
fn fresh() -> (Scratch, String) {
    let dir = Scratch::new();
    let path = config_file(&dir, VISOR_CONFIG);
    (dir, path)
}

/// Writes the config into `dir` with mode 0600 (it holds the visor's secret key).
fn config_file(dir: &Scratch, text: &str) -> String {
    let path = dir.join("skywire-config.json");
    std::fs::write(&path, text).expect("write the config");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).expect("read the config")
}

fn canonical(path: &str) -> String {
    std::fs::canonicalize(path)
        .expect("canonical path")
        .to_string_lossy()
        .into_owned()
}

/// The keys of a JSON object in the order the text has them.
fn keys_in_order(text: &str) -> Vec<String> {
    // serde_json sorts object keys; the order is read from the text instead: every line of
    // the form <one tab>"key": is a top-level key.
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("\t\"")
            && let Some((key, _)) = rest.split_once("\":")
        {
            out.push(key.to_string());
        }
    }
    out
}

/// Asserts that `new` is `old` with one run of bytes inserted; returns the inserted text.
fn inserted(old: &str, new: &str) -> String {
    assert!(new.len() > old.len(), "nothing was added:\n{new}");
    let start = old
        .bytes()
        .zip(new.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(old.len());
    let added = new.len() - old.len();
    assert_eq!(
        format!("{}{}", &new[..start], &new[start + added..]),
        old,
        "the file changed beyond one insertion:\n{new}"
    );
    new[start..start + added].to_string()
}

fn mode(path: &str) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

#[test]
fn prints_the_entry_in_the_visors_field_order_and_leaves_the_file_alone() {
    let (_dir, path) = fresh();
    let out = launcher(&path, &[]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let entry: Value = serde_json::from_str(&out.stdout).expect("stdout is the entry");
    assert_eq!(
        entry,
        serde_json::json!({
            "name": "skychat",
            "binary": "skychat",
            "args": ["--addr", ":8001", "-c", canonical(&path)],
            "auto_start": true,
            "port": 1,
        })
    );
    let order: Vec<usize> = [
        "\"name\"",
        "\"binary\"",
        "\"args\"",
        "\"auto_start\"",
        "\"port\"",
    ]
    .iter()
    .map(|k| out.stdout.find(k).expect(k))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", out.stdout);
    assert!(
        out.stderr.contains("joined to bin_path")
            && out.stderr.contains("ln -s ")
            && out.stderr.contains("/opt/skywire/apps/skychat"),
        "the hint says where the binary goes: {}",
        out.stderr
    );
    assert!(out.stderr.contains("--write"), "{}", out.stderr);
    assert_eq!(read(&path), VISOR_CONFIG);
}

#[test]
fn pair_enable_passes_the_visors_rpc_address() {
    let (_dir, path) = fresh();
    let out = launcher(
        &path,
        &["--pair-enable", "--addr", ":8002", "--no-auto-start"],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let entry: Value = serde_json::from_str(&out.stdout).expect("entry");
    let args: Vec<&str> = entry["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string"))
        .collect();
    assert_eq!(args[..2], ["--addr", ":8002"]);
    assert_eq!(args[4..], ["--pair-enable", "--pair-rpc", "localhost:3435"]);
    assert_eq!(entry["auto_start"], Value::Bool(false));
}

#[test]
fn write_adds_the_entry_as_a_pure_insertion_and_keeps_the_mode() {
    let (dir, path) = fresh();
    let out = run(
        SKYWIRE,
        &[
            "cli",
            "skychat",
            "launcher-entry",
            "-c",
            &path,
            "--write",
            "--name",
            "skychat-rs",
        ],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let new = read(&path);
    let added = inserted(VISOR_CONFIG, &new);
    assert!(
        added.starts_with(
            ",\n\t\t\t{\n\t\t\t\t\"name\": \"skychat-rs\",\n\t\t\t\t\"binary\": \"skychat\",\n"
        ),
        "the entry is appended in the file's own indentation: {added:?}"
    );
    let value: Value = serde_json::from_str(&new).expect("still JSON");
    let apps = value["launcher"]["apps"].as_array().expect("apps");
    assert_eq!(apps.len(), 3);
    assert_eq!(apps[2]["name"], "skychat-rs");
    assert_eq!(apps[2]["port"], 1);
    assert_eq!(keys_in_order(&new), keys_in_order(VISOR_CONFIG));
    assert_eq!(mode(&path), 0o600, "the file keeps its mode");
    assert!(
        out.stderr.contains("also uses routing port 1"),
        "the Go skychat's entry on port 1 is pointed out: {}",
        out.stderr
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "no temporary file is left: {leftovers:?}"
    );
}

#[test]
fn write_refuses_a_taken_name_and_leaves_the_file_unchanged() {
    let (_dir, path) = fresh();
    let out = launcher(&path, &["--write"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("already has an entry named \"skychat\"")
            && out.stderr.contains("--name")
            && out.stderr.contains("--replace")
            && out.stderr.contains("unchanged"),
        "{}",
        out.stderr
    );
    assert_eq!(read(&path), VISOR_CONFIG);

    // Our own entry, once written, is refused the second time too.
    let ours = ["--write", "--name", "skychat-rs"];
    assert_eq!(launcher(&path, &ours).code, Some(0));
    let written = read(&path);
    let again = launcher(&path, &ours);
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(again.stderr.contains("\"skychat-rs\""), "{}", again.stderr);
    assert_eq!(read(&path), written);
}

#[test]
fn replace_swaps_the_entry_in_place() {
    let (_dir, path) = fresh();
    let out = launcher(&path, &["--write", "--replace"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let value: Value = serde_json::from_str(&read(&path)).expect("JSON");
    let apps = value["launcher"]["apps"].as_array().expect("apps");
    assert_eq!(apps.len(), 2);
    assert_eq!(apps[0]["name"], "vpn-client");
    assert_eq!(apps[1]["name"], "skychat");
    assert_eq!(apps[1]["binary"], "skychat");
    assert_eq!(apps[1]["args"][3], Value::from(canonical(&path)));
    let mut before: Value = serde_json::from_str(VISOR_CONFIG).expect("JSON");
    before["launcher"]["apps"][1] = apps[1].clone();
    assert_eq!(value, before, "nothing else changed");
    assert!(
        !out.stderr.contains("also uses routing port"),
        "{}",
        out.stderr
    );
}

#[test]
fn refuses_files_that_are_not_visor_configs() {
    let dir = Scratch::new();
    let cases = [
        ("not json {", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        (r#"{"sk": "00", "dmsg": {}}"#, "no \"launcher\" object"),
        (
            r#"{"launcher": {"apps": [], "bin_path": "./"}}"#,
            "no \"sk\"",
        ),
        (
            r#"{"sk": "00", "launcher": {"apps": []}}"#,
            "no \"bin_path\"",
        ),
        (
            r#"{"sk": "00", "launcher": {"apps": {}, "bin_path": "./"}}"#,
            "not a list",
        ),
    ];
    for (text, why) in cases {
        let path = config_file(&dir, text);
        for write in [false, true] {
            let mut args = vec!["launcher-entry", "-c", path.as_str()];
            if write {
                args.push("--write");
            }
            let out = run(SKYCHAT, &args);
            assert_eq!(out.code, Some(2), "{text}: {out:?}");
            assert!(
                out.stderr.contains("not a Skywire visor config")
                    && out.stderr.contains(why)
                    && out.stderr.contains("skywire cli config gen"),
                "{text}: {}",
                out.stderr
            );
            assert_eq!(out.stdout, "", "nothing printed for {text}");
            assert_eq!(read(&path), text, "unchanged: {text}");
        }
    }
    let missing = dir.join("nope.json");
    let out = run(SKYCHAT, &["launcher-entry", "-c", &missing, "--write"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("nope.json"), "{}", out.stderr);
    assert!(!Path::new(&missing).exists());
}

#[test]
fn refuses_an_absolute_binary() {
    let (_dir, path) = fresh();
    let out = launcher(
        &path,
        &["--write", "--name", "x", "--binary", "/usr/bin/skychat"],
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("absolute path does not work") && out.stderr.contains("bin_path"),
        "{}",
        out.stderr
    );
    assert_eq!(read(&path), VISOR_CONFIG);
}
