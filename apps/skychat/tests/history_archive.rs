//! Export and import of the whole history through the HTTP API of real `skychat` nodes: the
//! file a node exports, imported into the same identity with an empty data dir, gives back
//! every message with its times and every alias; importing twice adds nothing; a file of
//! another node, or with a bad line, imports nothing and says why.

mod support;

use serde_json::{Value, json};

use support::http::Response;
use support::node::Node;
use support::pair::pair;

fn import(node: &Node, file: &str) -> Response {
    node.request(
        "POST",
        "/import",
        &[("Content-Type", "application/x-ndjson")],
        file.as_bytes(),
    )
}

/// Each conversation message as (dir, id, text, sent_at, acked_at), oldest first.
fn messages(node: &Node, peer: &str) -> Vec<Value> {
    let mut all: Vec<Value> = node
        .history(peer)
        .into_iter()
        .map(|m| {
            json!([
                m["dir"],
                m["id"],
                m["message"],
                m["sent_at"],
                m["acked_at"],
                m["deleted_at"]
            ])
        })
        .collect();
    all.reverse();
    all
}

#[test]
fn an_export_imported_into_an_empty_store_gives_back_history_and_aliases() {
    let p = pair(&[], &[]);
    p.a.send_acked(&p.b.pk, "hello from a");
    p.b.send_acked(&p.a.pk, "hello from b, with a \"quote\" and a\nnewline");
    let gone = p.a.send_acked(&p.b.pk, "deleted later");
    assert_eq!(
        p.a.post("/delete", &json!({"pk": p.b.pk, "id": gone}).to_string())
            .status,
        200
    );
    let named = p.a.request(
        "PUT",
        &format!("/peers/{}/alias", p.b.pk),
        &[("Content-Type", "application/json")],
        br#"{"alias":"bob"}"#,
    );
    assert_eq!(named.status, 200, "{named:?}");
    let before = messages(&p.a, &p.b.pk);
    assert_eq!(before.len(), 3);

    let export = p.a.get("/export");
    assert_eq!(export.status, 200, "{export:?}");
    assert_eq!(export.header("content-type"), Some("application/x-ndjson"));
    assert!(
        export
            .header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment")),
        "{export:?}"
    );
    let file = export.body.clone();
    assert_eq!(
        file.lines().count(),
        1 + 1 + 3,
        "header, alias, messages:\n{file}"
    );

    // The same identity with an empty data dir: nothing, then everything.
    let fresh = Node::start(
        &p.args
            .listener(&p.a_keys, "a-restored", &[&p.b_keys.pk], &[]),
    );
    assert!(fresh.history(&p.b.pk).is_empty());
    let report = import(&fresh, &file);
    assert_eq!(report.status, 200, "{report:?}");
    assert_eq!(report.json["messages_added"], 3, "{report:?}");
    assert_eq!(report.json["aliases_added"], 1, "{report:?}");
    assert_eq!(messages(&fresh, &p.b.pk), before);
    assert_eq!(
        messages(&fresh, "bob"),
        before,
        "the alias came with the file"
    );
    let hits = fresh.get("/search?q=quote");
    assert_eq!(hits.json.as_array().map(Vec::len), Some(1), "{hits:?}");
    assert_eq!(
        fresh.status()["counters"]["queued"],
        0,
        "history, not the outbox"
    );

    let again = import(&fresh, &file);
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.json["messages_added"], 0);
    assert_eq!(again.json["messages_present"], 3);
    assert_eq!(again.json["aliases_skipped"], 1);
}

#[test]
fn a_file_of_another_node_or_with_a_bad_line_imports_nothing() {
    let p = pair(&[], &[]);
    p.a.send_acked(&p.b.pk, "one");
    let file = p.a.get("/export").body;

    let refusal = import(&p.b, &file).assert_error(400);
    assert!(refusal.contains("not of this node"), "{refusal}");

    let fresh = Node::start(&p.args.listener(&p.a_keys, "a-other", &[&p.b_keys.pk], &[]));
    let mut broken = file.clone();
    broken.push_str("{\"type\":\"message\",\"peer\":\"zz\"}\n");
    let refusal = import(&fresh, &broken).assert_error(400);
    assert!(refusal.contains("line 3"), "{refusal}");
    assert!(refusal.contains("nothing was imported"), "{refusal}");
    assert!(fresh.history(&p.b.pk).is_empty());

    import(&fresh, "").assert_error(400);
    import(
        &fresh,
        "{\"type\":\"something-else\",\"version\":1,\"node\":\"x\",\"exported_at\":0}\n",
    )
    .assert_error(400);
}
