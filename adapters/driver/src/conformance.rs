//! The conformance suite every adapter runs over 127.0.0.1 with real sockets. An adapter
//! instantiates it with [`conformance_tests!`](crate::conformance_tests) in its own tests.
//!
//! - `support`: test nodes, event watching with bounded waits, keys and configs.
//! - `proxy`: a TCP proxy that can freeze, for half-open links.
//! - `checks`: the checks themselves, one async function each.
//! - `flood`: the listener under a flood of idle sockets and stranger handshakes.
//! - `suites`: both wire suites on one listener, also under a flood of stalled and garbage
//!   first messages.
//! - `shutdown`: shutdown stays bounded after the host abandons one-shot dials.

pub mod checks;
pub mod flood;
pub mod proxy;
pub mod shutdown;
pub mod suites;
pub mod support;

/// Expands to one `#[test]` per conformance check for a runtime. `$runtime` is an expression
/// giving a `Runtime + Clone`; `$block_on` runs a future to completion on that runtime.
#[macro_export]
macro_rules! conformance_tests {
    ($runtime:expr, $block_on:path) => {
        $crate::conformance_tests!(@each $runtime, $block_on;
            handshake_and_messages_both_ways,
            a_batch_larger_than_the_socket_buffers_arrives_in_order,
            one_shot_dialer_and_listener_reply,
            non_whitelisted_key_is_rejected,
            empty_whitelist_rejects_everyone,
            wrong_pinned_key_fails_on_the_dialer,
            restarted_listener_gets_the_queue_once_in_order,
            peer_that_drops_us_at_once_is_not_redialed_hot,
            frozen_link_is_detected_and_reconnects,
            bad_connections_are_closed_without_affecting_others,
            at_the_cap_the_oldest_silent_connection_is_evicted,
            thousand_concurrent_connections_each_deliver,
            whitelisted_peer_gets_in_during_a_flood,
            skywire_suite_handshake_and_messages_both_ways,
            both_suites_get_in_during_a_stalled_and_garbage_flood,
            shutdown_is_bounded_after_dials_to_a_rejecting_listener,
            shutdown_is_bounded_after_dials_to_a_silent_listener,
            shutdown_is_bounded_with_a_write_stalled_on_a_frozen_link,
        );
    };
    (@each $runtime:expr, $block_on:path; $($check:ident,)*) => {
        $(
            #[test]
            fn $check() {
                $block_on($crate::conformance::checks::$check($runtime));
            }
        )*
    };
}
