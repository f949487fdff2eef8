//! The client's address behind reverse proxies: both planes ask [`TrustedProxies`] for it.
//!
//! A request's TCP peer is the only address a server knows for sure. When that peer is a
//! configured trusted proxy, the proxy's `X-Forwarded-For` tells who it was talking to; the
//! client address is then the right-most entry that is not itself a trusted proxy (every
//! entry left of it was written by a party nobody vouches for, so a client cannot choose its
//! own address by sending the header). From an untrusted peer the header is ignored entirely.
//! A malformed entry ends the walk at the last address that a trusted party wrote.

use std::net::IpAddr;
use std::str::FromStr;

/// The forwarded-for header, as proxies (nginx, HAProxy, Envoy, cloud load balancers) send it.
pub const FORWARDED_FOR_HEADER: &str = "x-forwarded-for";

/// Most entries of `X-Forwarded-For` examined; a longer chain ends at the last one examined.
const MAX_FORWARDED_ENTRIES: usize = 32;

/// An address range, `10.0.0.0/8` or `2001:db8::/32`; a bare address is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix_len: u8,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an address range such as 10.0.0.0/8, 192.0.2.1 or 2001:db8::/32")]
pub struct CidrError(String);

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || CidrError(text.to_owned());
        let (address, prefix_len) = match text.trim().split_once('/') {
            Some((address, length)) => {
                // Digits only: `u8::from_str` would take a leading `+`.
                if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(error());
                }
                (address, Some(length.parse::<u8>().map_err(|_| error())?))
            }
            None => (text.trim(), None),
        };
        let network = IpAddr::from_str(address)
            .map_err(|_| error())?
            .to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix_len = prefix_len.unwrap_or(max);
        if prefix_len > max {
            return Err(error());
        }
        Ok(Self {
            network: mask(network, prefix_len),
            prefix_len,
        })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}/{}", self.network, self.prefix_len)
    }
}

/// `address` with every bit past `prefix_len` cleared.
fn mask(address: IpAddr, prefix_len: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = u32::MAX
                .checked_shl(32 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V4((bits & kept).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = u128::MAX
                .checked_shl(128 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V6((bits & kept).into())
        }
    }
}

impl Cidr {
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        address.is_ipv4() == self.network.is_ipv4()
            && mask(address, self.prefix_len) == self.network
    }
}

/// The proxies whose `X-Forwarded-For` is believed (configuration `http.trusted_proxies`).
/// Empty by default: the peer address is the client address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Vec<Cidr>,
}

impl TrustedProxies {
    /// Parses every range; the first bad one is the error.
    pub fn parse<S: AsRef<str>>(ranges: &[S]) -> Result<Self, CidrError> {
        let ranges = ranges
            .iter()
            .map(|range| range.as_ref().parse())
            .collect::<Result<_, _>>()?;
        Ok(Self { ranges })
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn is_trusted(&self, address: IpAddr) -> bool {
        self.ranges.iter().any(|range| range.contains(address))
    }

    /// The client's address for a request from `peer` carrying these `X-Forwarded-For`
    /// header values (in the order received; each may hold a comma-separated list).
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a [u8]>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.is_trusted(peer) {
            return peer;
        }
        let values: Vec<&[u8]> = forwarded_for.into_iter().collect();
        let entries = values
            .iter()
            .rev()
            .flat_map(|value| value.rsplit(|&byte| byte == b','))
            .take(MAX_FORWARDED_ENTRIES);
        let mut nearest = peer;
        for entry in entries {
            let Some(address) = parse_entry(entry) else {
                return nearest;
            };
            if !self.is_trusted(address) {
                return address;
            }
            nearest = address;
        }
        nearest
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`192.0.2.1:443`,
/// `[2001:db8::1]:443`) or bracketed. `None` for anything else (`unknown`, obfuscated ids).
fn parse_entry(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?.trim();
    if let Ok(address) = IpAddr::from_str(text) {
        return Some(address.to_canonical());
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || valid_port(after.strip_prefix(':')?)) {
            return None;
        }
        return inside
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|v6| IpAddr::V6(v6).to_canonical());
    }
    let (address, port) = text.split_once(':')?;
    if !valid_port(port) {
        return None;
    }
    address.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn valid_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn resolve(trusted: &[&str], peer: &str, headers: &[&str]) -> IpAddr {
        TrustedProxies::parse(trusted)
            .unwrap()
            .client_address(ip(peer), headers.iter().map(|value| value.as_bytes()))
    }

    #[test]
    fn ranges_parse_and_match() {
        let cases: &[(&str, &str, bool)] = &[
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("10.1.2.3/8", "10.9.9.9", true),
            ("192.0.2.1", "192.0.2.1", true),
            ("192.0.2.1", "192.0.2.2", false),
            ("0.0.0.0/0", "203.0.113.7", true),
            ("0.0.0.0/0", "2001:db8::1", false),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("::/0", "::1", true),
            ("127.0.0.1/32", "::ffff:127.0.0.1", true),
        ];
        for (range, address, expected) in cases {
            let cidr: Cidr = range.parse().unwrap();
            assert_eq!(cidr.contains(ip(address)), *expected, "{range} {address}");
        }
        for bad in [
            "",
            "/8",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/+8",
            "10.0.0/8",
            "abc",
            "10.0.0.0/8/8",
            "10.0.0.0/-1",
            // A mapped IPv4 range is written as IPv4.
            "::ffff:10.0.0.0/104",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
        }
        assert_eq!(
            "10.1.2.3/8".parse::<Cidr>().unwrap().to_string(),
            "10.0.0.0/8"
        );
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy = ["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"];
        let cases: &[(&[&str], &str, &[&str], &str)] = &[
            // No trusted proxies: the peer, whatever the header says.
            (&[], "127.0.0.1", &["203.0.113.7"], "127.0.0.1"),
            // An untrusted peer cannot choose its address.
            (&proxy, "198.51.100.1", &["203.0.113.7"], "198.51.100.1"),
            // A trusted peer: the entry it wrote.
            (&proxy, "127.0.0.1", &["203.0.113.7"], "203.0.113.7"),
            // A client-sent entry left of the real one is ignored (spoofing attempt).
            (
                &proxy,
                "127.0.0.1",
                &["1.2.3.4, 203.0.113.7"],
                "203.0.113.7",
            ),
            (
                &proxy,
                "127.0.0.1",
                &["1.2.3.4", "203.0.113.7"],
                "203.0.113.7",
            ),
            // Chains of trusted proxies are walked through.
            (
                &proxy,
                "127.0.0.1",
                &["203.0.113.7, 10.0.0.2, 10.0.0.3"],
                "203.0.113.7",
            ),
            // Every entry trusted: the left-most of them.
            (&proxy, "127.0.0.1", &["10.0.0.2, 10.0.0.3"], "10.0.0.2"),
            // No header: the peer.
            (&proxy, "127.0.0.1", &[], "127.0.0.1"),
            // Malformed entries end the walk at the last trusted hop.
            (&proxy, "127.0.0.1", &["203.0.113.7, unknown"], "127.0.0.1"),
            (
                &proxy,
                "127.0.0.1",
                &["203.0.113.7, 10.0.0.2, "],
                "127.0.0.1",
            ),
            (
                &proxy,
                "127.0.0.1",
                &["203.0.113.7, 10.0.0.9, garbage"],
                "127.0.0.1",
            ),
            (&proxy, "127.0.0.1", &["unknown, 10.0.0.9"], "10.0.0.9"),
            (&proxy, "127.0.0.1", &["203.0.113.7:5555"], "203.0.113.7"),
            (&proxy, "127.0.0.1", &["203.0.113.7:99999999"], "127.0.0.1"),
            // IPv6, bracketed with a port, and mapped IPv4.
            (&proxy, "fd00::1", &["2001:db8::7"], "2001:db8::7"),
            (&proxy, "127.0.0.1", &["[2001:db8::7]:443"], "2001:db8::7"),
            (&proxy, "127.0.0.1", &["[2001:db8::7]x"], "127.0.0.1"),
            (
                &proxy,
                "::ffff:127.0.0.1",
                &["::ffff:203.0.113.7"],
                "203.0.113.7",
            ),
            (&proxy, "127.0.0.1", &[" 203.0.113.7 "], "203.0.113.7"),
        ];
        for (trusted, peer, headers, expected) in cases {
            assert_eq!(
                resolve(trusted, peer, headers),
                ip(expected),
                "{trusted:?} {peer} {headers:?}"
            );
        }
        // Bytes that are not UTF-8 are malformed, never a panic.
        let trusted = TrustedProxies::parse(&proxy).unwrap();
        let bad: &[u8] = b"203.0.113.7, \xff\xfe";
        assert_eq!(
            trusted.client_address(ip("127.0.0.1"), [bad]),
            ip("127.0.0.1")
        );
    }

    proptest! {
        #[test]
        fn an_untrusted_peer_is_always_the_answer(
            peer in any::<std::net::Ipv4Addr>().prop_filter("not 10/8", |a| a.octets()[0] != 10),
            header in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let trusted = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
            prop_assert_eq!(
                trusted.client_address(IpAddr::V4(peer), [header.as_slice()]),
                IpAddr::V4(peer)
            );
        }

        #[test]
        fn the_answer_is_the_peer_or_a_written_entry(
            header in "[0-9a-f:., \\[\\]]{0,80}",
        ) {
            let trusted = TrustedProxies::parse(&["127.0.0.1/32", "10.0.0.0/8"]).unwrap();
            let answer = trusted.client_address(ip("127.0.0.1"), [header.as_bytes()]);
            let written: Vec<IpAddr> = header.split(',').filter_map(|e| parse_entry(e.as_bytes())).collect();
            prop_assert!(answer == ip("127.0.0.1") || written.contains(&answer));
        }

        #[test]
        fn a_client_cannot_override_what_the_proxy_wrote(
            spoofed in proptest::collection::vec(any::<std::net::IpAddr>(), 0..5),
            client in any::<std::net::Ipv4Addr>().prop_filter("untrusted", |a| a.octets()[0] != 10 && !a.is_loopback()),
        ) {
            let trusted = TrustedProxies::parse(&["127.0.0.1/32", "10.0.0.0/8"]).unwrap();
            let mut entries: Vec<String> = spoofed.iter().map(ToString::to_string).collect();
            entries.push(client.to_string());
            let header = entries.join(", ");
            prop_assert_eq!(
                trusted.client_address(ip("127.0.0.1"), [header.as_bytes()]),
                IpAddr::V4(client)
            );
        }
    }
}
