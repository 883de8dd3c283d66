//! Running the binary under the app-server test double (`skychat_visor_link::fake_visor`): the
//! visor key of an identity file, and a launch of the app with the `PROC_CONFIG` its visor
//! would give it.

use serde_json::Value;
use skychat_core::PublicKey;
use skychat_visor::{ProcKey, PubKey};
use skychat_visor_link::fake_visor::FakeVisors;

use super::node::Keys;

/// The Skywire key of an identity file (66 hex): the visor's key when it is that visor's config.
pub fn skywire_pk(keys: &Keys) -> String {
    let text = std::fs::read_to_string(&keys.file).expect("read the key file");
    let value: Value = serde_json::from_str(&text).expect("JSON");
    value["pk"].as_str().expect("pk").to_string()
}

/// A Skywire key in hex as the visor protocol carries it.
pub fn pub_key(hex_key: &str) -> PubKey {
    let key: PublicKey = hex_key.parse().expect("a public key");
    PubKey(key.as_skywire().expect("a Skywire key").to_bytes())
}

/// One launch of the app under the double: its visor's key and its `PROC_CONFIG`.
pub struct Visor {
    pub pk: String,
    pub proc_config: String,
}

/// Registers launch number `launch` of the app for the visor whose key is `pk`, with a proc key
/// of its own (a visor gives a new one at every launch), and work dir `work`.
pub fn launch(visors: &FakeVisors, pk: &str, launch: u8, work: &str) -> Visor {
    let visor_pk = pub_key(pk);
    let mut key = [launch; 16];
    key[..8].copy_from_slice(&visor_pk.0[1..9]);
    let proc_key = ProcKey(key);
    visors.register(proc_key, visor_pk);
    Visor {
        pk: pk.to_string(),
        proc_config: visors.proc_config(proc_key, visor_pk, work),
    }
}
