//! Deleting messages through the HTTP API of two real `skychat` nodes: deleted here only, or
//! for everyone (the peer's copy loses its text too, over the native suite's Delete frame), and
//! the refusals: someone else's message for everyone, an unknown id, a bad request.

mod support;

use std::time::Duration;

use serde_json::{Value, json};

use support::node::Node;
use support::pair::pair;

/// Limit for anything that should happen within a few round trips.
const SOON: Duration = Duration::from_secs(10);

fn delete(node: &Node, peer: &str, id: &str, for_everyone: bool) -> support::http::Response {
    node.post(
        "/delete",
        &json!({ "pk": peer, "id": id, "for_everyone": for_everyone }).to_string(),
    )
}

fn entry(node: &Node, peer: &str, id: &str) -> Value {
    node.history(peer)
        .into_iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("message {id} not in the history with {peer}"))
}

#[test]
fn a_message_deleted_for_everyone_loses_its_text_on_both_sides() {
    let p = pair(&[], &[]);
    let kept = p.b.send_acked(&p.a.pk, "this one stays");
    let gone = p.b.send_acked(&p.a.pk, "this one was a mistake");

    let response = delete(&p.b, &p.a.pk, &gone, true);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json["for_everyone"], true);
    let mine = entry(&p.b, &p.a.pk, &gone);
    assert_eq!(mine["message"], "", "{mine}");
    assert!(mine["deleted_at"].is_u64(), "{mine}");

    p.a.wait_for("the peer's deletion", SOON, |a| {
        let theirs = entry(a, &p.b.pk, &gone);
        theirs["deleted_at"].is_u64().then_some(())
    });
    assert_eq!(entry(&p.a, &p.b.pk, &gone)["message"], "");
    assert_eq!(entry(&p.a, &p.b.pk, &kept)["message"], "this one stays");
    assert_eq!(entry(&p.b, &p.a.pk, &kept)["message"], "this one stays");

    // Deleting again finds nothing left to delete.
    delete(&p.b, &p.a.pk, &gone, true).assert_error(404);
}

#[test]
fn only_your_own_messages_go_for_everyone_and_a_local_deletion_stays_local() {
    let p = pair(&[], &[]);
    let theirs = p.b.send_acked(&p.a.pk, "from b");
    let refusal = delete(&p.a, &p.b.pk, &theirs, true).assert_error(404);
    assert!(refusal.contains("only your own messages"), "{refusal}");

    let response = delete(&p.a, &p.b.pk, &theirs, false);
    assert_eq!(response.status, 200, "{response:?}");
    assert!(entry(&p.a, &p.b.pk, &theirs)["deleted_at"].is_u64());
    // B's own copy is untouched: the deletion was A's alone. A later message proves B has
    // handled everything A sent before it.
    let later = p.a.send_acked(&p.b.pk, "still here");
    p.b.wait_for("A's later message", SOON, |b| {
        b.received_from(&p.a.pk)
            .contains(&"still here".to_string())
            .then_some(())
    });
    assert_eq!(entry(&p.b, &p.a.pk, &theirs)["message"], "from b");
    assert!(entry(&p.b, &p.a.pk, &theirs)["deleted_at"].is_null());
    assert_eq!(entry(&p.b, &p.a.pk, &later)["message"], "still here");

    delete(&p.a, &p.b.pk, "00112233445566778899aabbccddeeff", false).assert_error(404);
    let bad = delete(&p.a, &p.b.pk, "not-an-id", false).assert_error(400);
    assert!(bad.contains("id"), "{bad}");
    let unknown_field = p.a.post(
        "/delete",
        &json!({ "pk": p.b.pk, "id": theirs, "everyone": true }).to_string(),
    );
    unknown_field.assert_error(400);
}
