//! The names the Worker gives things: an event's key, a delivery's id, the
//! budget a client address counts against.
//! Plain functions over plain data (covered by `cargo test`).

use std::net::{IpAddr, Ipv6Addr};

use sha2::{Digest, Sha256};

/// An authentic event's key: the SHA-256 of its exact body. Every
/// redelivery of the event has it, whichever secret signed it (a rotated
/// secret changes the signature, never the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventKey(String);

impl EventKey {
    /// The key of `body` (64 lowercase hex digits).
    pub fn of(body: &[u8]) -> Self {
        Self(base16ct::lower::encode_string(&Sha256::digest(body)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id sent as `X-ThreeTone-Delivery-Id` with every delivery of this
    /// event to `destination`: the same at each redelivery, so the
    /// destination can drop the rare duplicate (the edge crashing between
    /// the destination's 2xx and recording it).
    pub fn delivery_id(&self, destination: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(self.0.as_bytes());
        hash.update(b"\n");
        hash.update(destination.as_bytes());
        let digest = base16ct::lower::encode_string(&hash.finalize());
        format!("dlv_{}", &digest[..32])
    }

    /// The key's first 52 bits: a number SQLite and JavaScript both keep exactly.
    pub fn short(&self) -> u64 {
        u64::from_str_radix(&self.0[..13], 16).unwrap_or_default()
    }

    /// The key of this event's acceptance into the queue (queue mode).
    pub fn accepted(&self) -> Self {
        Self(format!("accept:{}", self.0))
    }
}

/// The flood-protection budget an address counts against: an IPv4 address
/// itself, an IPv6 address by its /64 (one subscriber gets a whole /64, so
/// counting each address would give an attacker 2^64 budgets). Anything
/// else (no address, a malformed one) shares one budget.
pub fn client_key(address: &str) -> String {
    match address.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
        Err(_) => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_key_is_the_bodys_sha256() {
        // sha256("") and sha256("abc"), published values.
        assert_eq!(
            EventKey::of(b"").as_str(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            EventKey::of(b"abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            EventKey::of(b"abc").accepted().as_str(),
            format!("accept:{}", EventKey::of(b"abc").as_str())
        );
    }

    #[test]
    fn a_short_key_is_the_first_52_bits() {
        assert_eq!(EventKey::of(b"abc").short(), 0xba7816bf8f01c);
        assert!(EventKey::of(b"").short() < 1 << 52);
    }

    #[test]
    fn delivery_ids_are_stable_and_differ_by_destination_and_event() {
        let key = EventKey::of(b"{}");
        let id = key.delivery_id("crm");
        assert_eq!(id, EventKey::of(b"{}").delivery_id("crm"));
        assert!(id.starts_with("dlv_") && id.len() == 36, "{id}");
        assert!(id[4..].bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(id, key.delivery_id("ops"));
        assert_ne!(id, EventKey::of(b"{ }").delivery_id("crm"));
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_prefix() {
        let one = client_key("2001:db8:1:2:aaaa::1");
        assert_eq!(one, "2001:db8:1:2::/64");
        assert_eq!(client_key("2001:0db8:0001:0002:ffff:ffff:ffff:ffff"), one);
        assert_ne!(client_key("2001:db8:1:3::1"), one);
        assert_eq!(client_key("203.0.113.7"), "203.0.113.7");
        assert_eq!(client_key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(client_key(" 203.0.113.7 "), "203.0.113.7");
        assert_eq!(client_key("not an address"), "unknown");
        assert_eq!(client_key(""), "unknown");
    }
}
