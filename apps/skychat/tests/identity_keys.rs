//! One secret key, two public keys, through the real binary: a Skywire visor's config gives the
//! visor's 66-hex secp256k1 key and the native 64-hex X25519 key; a config whose `"pk"` does not
//! match its `"sk"` is refused naming the file; a secret that is not a secp256k1 secret key is
//! refused from every source; `keygen` writes a Skywire-style pair; the banner and `/status` of a
//! running node show both keys and both dial strings.
//!
//! Expected public keys come from an independent implementation, Python's `cryptography`
//! package, never from the code under test. The recorded pair below was computed with it, and
//! each test that uses it checks it again when `python3` with `cryptography` is installed.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::binaries::SKYCHAT;
use support::command::{Outcome, run};
use support::node::Node;
use support::scratch::Scratch;

/// Limit for a tool or a node that is expected to finish at once.
const AT_ONCE: Duration = Duration::from_secs(10);

/// A secret key, and its Skywire public key as Python's `cryptography` derives it
/// (`ec.derive_private_key(int(SK, 16), ec.SECP256K1())`, compressed point).
const SK: &str = "3ea53432d096c89af9352683ceb55854734c61d41a8c991d9728abe2c312aadd";
const SKYWIRE_PK: &str = "03724ceb1952187171536fe98044752d7c0c84f546481be90403eba192f8d39a9c";

/// The order of the secp256k1 group (SEC 2): the first value that is not a secret key.
const ORDER: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

/// Derives both public keys of a secret in Python: the compressed secp256k1 point, then the
/// X25519 public key. Exits 3 when `cryptography` is missing.
const PY_DERIVE: &str = r#"
import sys
try:
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric import ec, x25519
except ImportError as e:
    print(e)
    sys.exit(3)
sk = sys.argv[1]
k = ec.derive_private_key(int(sk, 16), ec.SECP256K1())
print(k.public_key().public_bytes(s.Encoding.X962, s.PublicFormat.CompressedPoint).hex())
x = x25519.X25519PrivateKey.from_private_bytes(bytes.fromhex(sk))
print(x.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw).hex())
"#;

/// Both public keys of a secret, from an independent implementation.
#[derive(Debug, PartialEq, Eq)]
struct Derived {
    skywire: String,
    native: String,
}

/// Both public keys of `sk` computed by Python's `cryptography`, or `None` (with a message
/// saying what is skipped) when `python3` or the package is missing.
fn python_derive(sk: &str, skipping: &str) -> Option<Derived> {
    let out = match std::process::Command::new("python3")
        .args(["-c", PY_DERIVE, sk])
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("SKIPPED {skipping}: python3 is not installed");
            return None;
        }
        Err(e) => panic!("cannot run python3: {e}"),
    };
    if out.status.code() == Some(3) {
        eprintln!(
            "SKIPPED {skipping}: Python's cryptography package is missing ({})",
            String::from_utf8_lossy(&out.stdout).trim()
        );
        return None;
    }
    assert!(out.status.success(), "python3: {out:?}");
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let mut lines = text.lines();
    Some(Derived {
        skywire: lines.next().expect("skywire pk").to_string(),
        native: lines.next().expect("native pk").to_string(),
    })
}

/// A config shaped like a visor's skywire-config.json: the key pair among other settings.
fn visor_config(sk: &str, pk: Option<&str>) -> String {
    let mut config = json!({
        "version": "v1.3.0",
        "sk": sk,
        "dmsg": {"discovery": "http://127.0.0.1:9090", "sessions_count": 1, "servers": []},
        "launcher": {"apps": [{"name": "skychat", "auto_start": true, "port": 1}]},
        "log_level": "info",
    });
    if let Some(pk) = pk {
        config["pk"] = json!(pk);
    }
    serde_json::to_string_pretty(&config).unwrap()
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn assert_usage_error(out: &Outcome, needle: &str) {
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains(needle), "{out:?}");
    assert!(!out.stderr.contains("panicked"), "{out:?}");
}

/// The value after `label` on the first line of `text` that starts with it.
fn labelled<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|line| line.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
}

#[test]
fn the_recorded_pair_is_what_an_independent_implementation_derives() {
    if let Some(derived) = python_derive(SK, "the cross-check of the recorded key pair") {
        assert_eq!(derived.skywire, SKYWIRE_PK);
        assert!(is_hex(&derived.native, 64), "{derived:?}");
    }
}

#[test]
fn a_visor_config_gives_the_visors_pk_and_the_native_key() {
    let scratch = Scratch::new();
    let file = scratch.join("skywire-config.json");
    std::fs::write(&file, visor_config(SK, Some(SKYWIRE_PK))).unwrap();

    let out = run(SKYCHAT, &["pk", "-c", &file], &[], AT_ONCE);
    assert_eq!(out.code, Some(0), "{out:?}");
    // Stdout keeps its single line, the native key, for scripts.
    let native = out.stdout.trim().to_string();
    assert!(is_hex(&native, 64), "{out:?}");
    assert_eq!(out.stdout, format!("{native}\n"));
    assert_eq!(
        labelled(&out.stderr, "skywire pk:"),
        Some(SKYWIRE_PK),
        "{out:?}"
    );
    assert_eq!(labelled(&out.stderr, "native pk:"), Some(native.as_str()));
    assert!(!out.stderr.contains(SK) && !out.stdout.contains(SK));
    if let Some(derived) = python_derive(SK, "the independent check of the native key") {
        assert_eq!(derived.native, native);
    }

    let out = run(SKYCHAT, &["pk", "-c", &file, "--json"], &[], AT_ONCE);
    assert_eq!(out.code, Some(0), "{out:?}");
    let doc: Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_eq!(
        doc,
        json!({"pk": native, "native_pk": native, "skywire_pk": SKYWIRE_PK})
    );

    // The same secret from --sk and DMSGCURL_SK gives the same keys.
    let out = run(SKYCHAT, &["pk", "--json", "--sk", SK], &[], AT_ONCE);
    assert_eq!(serde_json::from_str::<Value>(&out.stdout).unwrap(), doc);
    let out = run(SKYCHAT, &["pk", "--json"], &[("DMSGCURL_SK", SK)], AT_ONCE);
    assert_eq!(serde_json::from_str::<Value>(&out.stdout).unwrap(), doc);

    // A config without "pk" is read from its "sk" alone.
    let bare = scratch.join("bare.json");
    std::fs::write(&bare, visor_config(SK, None)).unwrap();
    let out = run(SKYCHAT, &["pk", "-c", &bare, "--json"], &[], AT_ONCE);
    assert_eq!(serde_json::from_str::<Value>(&out.stdout).unwrap(), doc);
}

#[test]
fn a_config_whose_pk_does_not_match_its_sk_is_refused_naming_the_file() {
    let scratch = Scratch::new();
    let file = scratch.join("skywire-config.json");
    // The Skywire key of the secret 1: the curve's generator point (SEC 2).
    let other = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
    std::fs::write(&file, visor_config(SK, Some(other))).unwrap();
    let expected = format!(
        "error: -c {file}: \"pk\" does not match \"sk\" (the Skywire key derived from \"sk\" is \
         {SKYWIRE_PK}; fix or remove \"pk\")"
    );
    let out = run(SKYCHAT, &["pk", "-c", &file], &[], AT_ONCE);
    assert_usage_error(&out, &expected);
    assert_eq!(out.stdout, "", "no key is printed: {out:?}");
    assert!(
        !out.stderr.contains(SK),
        "the secret is not echoed: {out:?}"
    );

    // A node refuses to start with it.
    let data = scratch.join("data");
    let out = run(
        SKYCHAT,
        &[
            "--standalone",
            "--addr",
            "127.0.0.1:0",
            "-c",
            &file,
            "--data-dir",
            &data,
        ],
        &[],
        AT_ONCE,
    );
    assert_usage_error(&out, &expected);
}

#[test]
fn an_older_keygen_file_holding_the_native_pk_still_loads_with_a_note() {
    let Some(derived) = python_derive(SK, "the older key file (its native pk comes from Python)")
    else {
        return;
    };
    let scratch = Scratch::new();
    let file = scratch.join("old.json");
    std::fs::write(&file, json!({"pk": derived.native, "sk": SK}).to_string()).unwrap();
    let out = run(SKYCHAT, &["pk", "-c", &file], &[], AT_ONCE);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout.trim(), derived.native);
    assert!(
        out.stderr.contains(&format!("note: -c {file}: \"pk\" is")),
        "{out:?}"
    );
    assert_eq!(labelled(&out.stderr, "skywire pk:"), Some(SKYWIRE_PK));
    assert!(
        !out.stderr.contains(SK),
        "the secret is not echoed: {out:?}"
    );
}

#[test]
fn a_secret_that_is_not_a_secp256k1_secret_key_is_refused_from_every_source() {
    let scratch = Scratch::new();
    let zero = "0".repeat(64);
    let above = "ff".repeat(32);
    for bad in [zero.as_str(), ORDER, above.as_str()] {
        let out = run(SKYCHAT, &["pk", "--sk", bad], &[], AT_ONCE);
        assert_usage_error(
            &out,
            "error: --sk: not a valid secp256k1 secret key (it is zero, or not below the curve \
             order), so it cannot give a Skywire public key",
        );
        assert!(!out.stderr.contains(bad), "the key is not echoed: {out:?}");

        let out = run(SKYCHAT, &["pk"], &[("DMSGCURL_SK", bad)], AT_ONCE);
        assert_usage_error(&out, "error: DMSGCURL_SK: not a valid secp256k1 secret key");

        let file = scratch.join("bad.json");
        std::fs::write(&file, visor_config(bad, None)).unwrap();
        let out = run(SKYCHAT, &["pk", "-c", &file], &[], AT_ONCE);
        assert_usage_error(
            &out,
            &format!("error: -c {file}: \"sk\": not a valid secp256k1 secret key"),
        );
        assert!(out.stderr.contains("Skywire"), "{out:?}");

        let data = scratch.join("data");
        let out = run(
            SKYCHAT,
            &[
                "--standalone",
                "--addr",
                "127.0.0.1:0",
                "--sk",
                bad,
                "--data-dir",
                &data,
            ],
            &[],
            AT_ONCE,
        );
        assert_usage_error(&out, "error: --sk: not a valid secp256k1 secret key");
    }
}

#[test]
fn keygen_writes_a_skywire_style_pair() {
    let scratch = Scratch::new();
    let file = scratch.join("skychat.json");
    let out = run(SKYCHAT, &["keygen", "-o", &file], &[], AT_ONCE);
    assert_eq!(out.code, Some(0), "{out:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    let pair: Value = serde_json::from_str(&text).unwrap();
    let sk = pair["sk"].as_str().expect("sk").to_string();
    let pk = pair["pk"].as_str().expect("pk").to_string();
    assert!(is_hex(&sk, 64), "{pair}");
    assert!(
        is_hex(&pk, 66) && (pk.starts_with("02") || pk.starts_with("03")),
        "{pair}"
    );
    let native = out.stdout.trim().to_string();
    assert!(is_hex(&native, 64), "{out:?}");
    assert_eq!(labelled(&out.stderr, "skywire pk:"), Some(pk.as_str()));
    assert_eq!(labelled(&out.stderr, "native pk:"), Some(native.as_str()));
    assert!(!out.stderr.contains(&sk) && !out.stdout.contains(&sk));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
    if let Some(derived) = python_derive(&sk, "the independent check of keygen's pair") {
        assert_eq!(
            derived,
            Derived {
                skywire: pk.clone(),
                native: native.clone()
            }
        );
    }
    // The file loads as it was written.
    let out = run(SKYCHAT, &["pk", "-c", &file, "--json"], &[], AT_ONCE);
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        json!({"pk": native, "native_pk": native, "skywire_pk": pk})
    );
    // It is never overwritten.
    let out = run(SKYCHAT, &["keygen", "-o", &file], &[], AT_ONCE);
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("refusing to overwrite"), "{out:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
}

#[test]
fn a_running_node_shows_both_keys_and_both_dial_strings() {
    let scratch = Scratch::new();
    let file = scratch.join("skywire-config.json");
    std::fs::write(&file, visor_config(SK, Some(SKYWIRE_PK))).unwrap();
    let out = run(SKYCHAT, &["pk", "-c", &file], &[], AT_ONCE);
    let native = out.stdout.trim().to_string();
    let args: Vec<String> = [
        "--standalone",
        "--addr",
        "127.0.0.1:0",
        "--tcp-listen",
        "127.0.0.1:0",
        "--tcp-whitelist",
        "",
        "-c",
        &file,
        "--data-dir",
        &scratch.join("data"),
    ]
    .map(String::from)
    .to_vec();
    let node = Node::start(&args);
    assert_eq!(node.pk, native, "\"public key:\" is still the native key");
    let listen = node.tcp_listen.expect("a TCP listener");
    let native_dial = format!("tcp://{native}@{listen}");
    let skywire_dial = format!("tcp://{SKYWIRE_PK}@{listen}");

    // The banner's dial lines follow the "tcp listen:" line that ends the harness's wait.
    let deadline = Instant::now() + AT_ONCE;
    let banner = loop {
        let stdout = node.stdout();
        if labelled(&stdout, "dial skywire:").is_some() {
            break stdout;
        }
        assert!(Instant::now() < deadline, "no dial lines:\n{stdout}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        labelled(&banner, "skywire pk:"),
        Some(SKYWIRE_PK),
        "{banner}"
    );
    assert_eq!(labelled(&banner, "native pk:"), Some(native.as_str()));
    assert_eq!(
        labelled(&banner, "dial native:"),
        Some(native_dial.as_str())
    );
    assert_eq!(
        labelled(&banner, "dial skywire:"),
        Some(skywire_dial.as_str())
    );
    assert!(!banner.contains(SK) && !node.stderr().contains(SK));

    let status = node.status();
    assert_eq!(status["public_key"], native.as_str(), "{status:#}");
    assert_eq!(status["native_pk"], native.as_str());
    assert_eq!(status["skywire_pk"], SKYWIRE_PK);
    assert_eq!(
        status["dial"],
        json!({"native": native_dial, "skywire": skywire_dial})
    );
    assert!(!status.to_string().contains(SK));
}

#[test]
fn a_node_without_a_listener_has_no_dial_strings() {
    let scratch = Scratch::new();
    let file = scratch.join("skywire-config.json");
    std::fs::write(&file, visor_config(SK, None)).unwrap();
    let args: Vec<String> = [
        "--standalone",
        "--addr",
        "127.0.0.1:0",
        "-c",
        &file,
        "--data-dir",
        &scratch.join("data"),
    ]
    .map(String::from)
    .to_vec();
    let node = Node::start(&args);
    let status = node.status();
    assert_eq!(status["skywire_pk"], SKYWIRE_PK, "{status:#}");
    assert_eq!(status["dial"], Value::Null);
    assert!(labelled(&node.stdout(), "dial").is_none());
}
