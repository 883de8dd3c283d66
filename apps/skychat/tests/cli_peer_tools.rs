//! The tools that change what the local node keeps, through the real binary against real
//! nodes: `block` / `mute` (and `--undo`), `export` to a file and `import` of it, and their
//! errors: an existing output file, a missing input file, a file of another node.

mod support;

use std::time::Duration;

use support::binaries::SKYCHAT;
use support::command::{Outcome, run};
use support::pair::pair;

/// Limit for a tool run.
const TOOL_LIMIT: Duration = Duration::from_secs(20);

fn tool(args: &[&str]) -> Outcome {
    run(SKYCHAT, args, &[], TOOL_LIMIT)
}

fn ok(out: Outcome) -> String {
    assert_eq!(out.code, Some(0), "{out:?}");
    out.stdout
}

#[test]
fn block_and_mute_set_the_peer_flags_and_undo_clears_them() {
    let p = pair(&[], &[]);
    let a = p.a.http.to_string();
    let b_pk = p.b_keys.pk.as_str();
    // `/peers` lists every peer the node knows, connected or not.
    let flags = || {
        let peers = p.a.get("/peers").json;
        let entry = peers
            .as_array()
            .and_then(|all| all.iter().find(|e| e["pk"] == b_pk))
            .cloned()
            .expect("B in /peers");
        (entry["blocked"].clone(), entry["muted"].clone())
    };

    let said = ok(tool(&["block", b_pk, "--addr", &a]));
    assert_eq!(said.trim(), format!("{b_pk} is blocked"));
    let said = ok(tool(&["mute", b_pk, "--addr", &a]));
    assert_eq!(said.trim(), format!("{b_pk} is muted"));
    assert_eq!(flags(), (true.into(), true.into()));

    ok(tool(&["block", b_pk, "--undo", "--addr", &a]));
    ok(tool(&["mute", b_pk, "--undo", "--addr", &a]));
    assert_eq!(flags(), (false.into(), false.into()));

    let refused = tool(&["block", "nobody", "--addr", &a]);
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(refused.stderr.contains("nobody"), "{refused:?}");
}

#[test]
fn export_writes_a_file_that_import_reads_back() {
    let p = pair(&[], &[]);
    let a = p.a.http.to_string();
    p.a.send_acked(&p.b.pk, "kept in the file");
    let file = p.dir.path().join("a.jsonl");
    let file = file.to_str().expect("utf-8 path");

    let out = tool(&["export", "-o", file, "--addr", &a]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("wrote 1 messages"), "{out:?}");
    assert!(
        std::fs::read_to_string(file)
            .expect("the file")
            .contains("kept in the file")
    );
    let again = tool(&["export", "-o", file, "--addr", &a]);
    assert_eq!(again.code, Some(2), "{again:?}");
    assert!(again.stderr.contains("refuses to overwrite"), "{again:?}");

    let said = ok(tool(&["import", file, "--addr", &a]));
    assert_eq!(
        said.trim(),
        "imported 0 messages (1 already here), 0 aliases (0 skipped)"
    );
    let elsewhere = tool(&["import", file, "--addr", &p.b.http.to_string()]);
    assert_eq!(elsewhere.code, Some(2), "{elsewhere:?}");
    assert!(
        elsewhere.stderr.contains("not of this node"),
        "{elsewhere:?}"
    );
    let missing = tool(&["import", "/nonexistent/file.jsonl", "--addr", &a]);
    assert_eq!(missing.code, Some(2), "{missing:?}");
    assert!(
        missing.stderr.contains("/nonexistent/file.jsonl"),
        "{missing:?}"
    );

    let stdout = ok(tool(&["export", "--addr", &a]));
    assert!(
        stdout.starts_with("{\"type\":\"skychat-export\""),
        "{stdout}"
    );
}
