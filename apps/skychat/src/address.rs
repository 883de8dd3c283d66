//! Address forms on the command line: `tcp://<pk>@host:port` peer specs, and the `--addr` /
//! `--tcp-listen` bind forms, and the web page's URL.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use skychat_core::PublicKey;

/// A peer reachable over TCP-direct. The form of its key picks the suite: 64 hex the native one,
/// 66 hex (a Skywire visor key) the Skywire one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSpec {
    /// Its pinned public key.
    pub pk: PublicKey,
    /// `host:port`, resolved at every dial.
    pub addr: String,
}

impl fmt::Display for PeerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tcp://{}@{}", self.pk, self.addr)
    }
}

/// Parses `tcp://<pk>@host:port`, the pk being 64 hex (native) or 66 hex (Skywire).
pub fn parse_peer_spec(spec: &str) -> Result<PeerSpec, String> {
    let rest = spec
        .strip_prefix("tcp://")
        .ok_or_else(|| format!("must start with \"tcp://\": {spec:?}"))?;
    let (pk, addr) = rest
        .split_once('@')
        .ok_or_else(|| format!("missing @ separator in {spec:?}"))?;
    let pk = pk
        .parse::<PublicKey>()
        .map_err(|e| format!("invalid pk in {spec:?}: {e}"))?;
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("invalid host:port in {spec:?}: missing port"))?;
    let host_ok = !host.is_empty() && !host.contains(['/', '@', ' ']);
    let port_ok = port.parse::<u16>().is_ok_and(|p| p != 0);
    if !host_ok || !port_ok {
        return Err(format!("invalid host:port in {spec:?}"));
    }
    Ok(PeerSpec {
        pk,
        addr: addr.to_string(),
    })
}

/// The address of the web page served at `/`: the bound HTTP address, or loopback when it is
/// bound to every interface (what a browser on this host opens).
pub fn web_page_url(http_addr: SocketAddr) -> String {
    let mut shown = http_addr;
    if shown.ip().is_unspecified() {
        shown.set_ip(if shown.is_ipv4() {
            Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    format!("http://{shown}/")
}

/// Which interfaces a bare `:PORT` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarePort {
    /// `:PORT` binds loopback (the HTTP surface).
    Loopback,
    /// `:PORT` binds every interface (the TCP listener, as operators expect from `:8801`).
    AllInterfaces,
}

/// Parses a bind address: `:PORT`, `*:PORT` (all interfaces), or `host:port` with an IP host
/// (`localhost` is accepted as loopback).
pub fn parse_bind(text: &str, bare: BarePort) -> Result<SocketAddr, String> {
    let text = text.trim();
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{text:?} is not :PORT, *:PORT or host:port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{text:?}: {port:?} is not a port number"))?;
    let ip = match host {
        "" => match bare {
            BarePort::Loopback => IpAddr::V4(Ipv4Addr::LOCALHOST),
            BarePort::AllInterfaces => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        },
        "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        other => other
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("{text:?}: {other:?} is not an IP address"))?,
    };
    Ok(SocketAddr::new(ip, port))
}

/// Where the HTTP control surface listens when `--addr` is not given.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8001";

/// Parses `--addr` (bare `:PORT` is loopback), or the default when it is absent. The error names
/// the flag.
pub fn parse_http_addr(flag: Option<&str>) -> Result<SocketAddr, String> {
    parse_bind(flag.unwrap_or(DEFAULT_HTTP_ADDR), BarePort::Loopback)
        .map_err(|e| format!("--addr: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PK: &str = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";

    #[test]
    fn the_web_page_is_shown_at_loopback_when_bound_everywhere() {
        for (bound, url) in [
            ("127.0.0.1:8001", "http://127.0.0.1:8001/"),
            ("0.0.0.0:8002", "http://127.0.0.1:8002/"),
            ("[::]:8003", "http://[::1]:8003/"),
            ("192.0.2.4:80", "http://192.0.2.4:80/"),
        ] {
            assert_eq!(web_page_url(bound.parse().unwrap()), url);
        }
    }

    #[test]
    fn peer_spec_round_trips() {
        let spec = parse_peer_spec(&format!("tcp://{PK}@example.org:8801")).unwrap();
        assert_eq!(spec.addr, "example.org:8801");
        assert_eq!(spec.to_string(), format!("tcp://{PK}@example.org:8801"));
    }

    #[test]
    fn a_66_hex_pk_names_a_skywire_peer() {
        let skywire = skychat_core::SecretKey::from_bytes([7; 32])
            .skywire_public_key()
            .unwrap()
            .to_hex();
        assert_eq!(skywire.len(), 66);
        let spec = parse_peer_spec(&format!("tcp://{skywire}@127.0.0.1:8801")).unwrap();
        assert_eq!(spec.pk.suite(), skychat_core::Suite::Skywire);
        assert_eq!(spec.to_string(), format!("tcp://{skywire}@127.0.0.1:8801"));
        let native = parse_peer_spec(&format!("tcp://{PK}@127.0.0.1:8801")).unwrap();
        assert_eq!(native.pk.suite(), skychat_core::Suite::Native);
        let wrong = parse_peer_spec(&format!("tcp://{}@h:1", &skywire[..65])).unwrap_err();
        assert!(
            wrong.contains("64 hex") && wrong.contains("66") && wrong.contains("Skywire"),
            "{wrong}"
        );
    }

    #[test]
    fn bad_peer_specs_say_what_is_wrong() {
        assert!(
            parse_peer_spec("udp://x@y:1")
                .unwrap_err()
                .contains("must start with")
        );
        assert!(
            parse_peer_spec("tcp://abc")
                .unwrap_err()
                .contains("missing @")
        );
        assert!(
            parse_peer_spec("tcp://abc@h:1")
                .unwrap_err()
                .contains("invalid pk")
        );
        let no_port = format!("tcp://{PK}@host");
        assert!(
            parse_peer_spec(&no_port)
                .unwrap_err()
                .contains("invalid host:port")
        );
        let bad_port = format!("tcp://{PK}@host:99999");
        assert!(
            parse_peer_spec(&bad_port)
                .unwrap_err()
                .contains("invalid host:port")
        );
    }

    #[test]
    fn bind_forms() {
        let lo = BarePort::Loopback;
        assert_eq!(
            parse_bind(":8001", lo).unwrap().to_string(),
            "127.0.0.1:8001"
        );
        assert_eq!(
            parse_bind("*:8002", lo).unwrap().to_string(),
            "0.0.0.0:8002"
        );
        assert_eq!(
            parse_bind(":8801", BarePort::AllInterfaces)
                .unwrap()
                .to_string(),
            "0.0.0.0:8801"
        );
        assert_eq!(
            parse_bind("100.64.1.2:8801", lo).unwrap().to_string(),
            "100.64.1.2:8801"
        );
        assert_eq!(parse_bind("[::1]:80", lo).unwrap().to_string(), "[::1]:80");
        assert!(parse_bind("8001", lo).is_err());
        assert!(parse_bind("nohost.example:80", lo).is_err());
    }
}
