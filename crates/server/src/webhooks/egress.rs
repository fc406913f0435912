//! Where webhooks may go: never to the operator's own network.
//!
//! A tenant admin chooses a webhook's URL, and the server POSTs to it; the delivery log then
//! tells the admin what happened (status, error, timing). Left open, that is a way to reach and
//! map the provider's internal network (server-side request forgery). So a webhook never goes
//! to a loopback, private (RFC 1918), shared (100.64.0.0/10), link-local, unique-local,
//! multicast, unspecified, broadcast, documentation, benchmarking or otherwise reserved
//! address, nor to the IPv4-mapped, IPv4-compatible, NAT64 or 6to4 form of one, unless the
//! operator's allowance ([`WebhookAllow`], `minutely serve --webhook-allow`) lists it.
//!
//! The check is made on the addresses actually connected to, at each delivery: the delivery
//! client resolves names through [`GuardedResolver`], which keeps only the addresses that may
//! be reached, so no later answer of the DNS (rebinding) can slip an internal address past a
//! check made earlier. An IP-literal host is not resolved by the client, so it is checked
//! before the request ([`check_literal`]). Redirects are never followed, and no proxy is used
//! (a proxy would make the connection, and the check, about the proxy rather than the URL).

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

/// What a delivery to a refused address logs: nothing about the network beyond that.
pub const REFUSED_TEXT: &str = "refused address: webhooks may not reach the addresses of this \
                                URL's host (loopback, private, link-local or reserved)";

/// The most entries an allowance may list (each address of each delivery is checked against
/// every entry).
pub const MAX_ALLOW_ENTRIES: usize = 256;

/// One entry of the operator's allowance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowRule {
    /// Every address of a network: `10.1.0.0/16`, `127.0.0.1` (one address), `fd00::/8`.
    Network {
        /// The network's first address (the bits past the prefix are zero).
        base: IpAddr,
        /// Leading bits that must match.
        prefix_len: u8,
    },
    /// A host name, whatever it resolves to: `receiver.internal` exactly, or with `*.` in front
    /// (`*.internal`) every name under it.
    Host {
        /// Lower case, without a trailing dot or the `*.`.
        name: String,
        /// Whether names under `name` match too (`*.` was given).
        subdomains: bool,
    },
}

impl FromStr for AllowRule {
    type Err = String;

    fn from_str(text: &str) -> Result<AllowRule, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err(
                "an empty entry (expected a network such as 10.0.0.0/8, an address or a \
                        host name)"
                    .to_string(),
            );
        }
        if let Some((addr, len)) = text.split_once('/') {
            let base = parse_ip(addr).ok_or_else(|| format!("{text:?}: not an IP network"))?;
            let max = if base.is_ipv4() { 32 } else { 128 };
            let prefix_len = len
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length is not 0 to {max}"))?;
            return Ok(AllowRule::Network {
                base: masked(base, prefix_len),
                prefix_len,
            });
        }
        if let Some(ip) = parse_ip(text) {
            let prefix_len = if ip.is_ipv4() { 32 } else { 128 };
            return Ok(AllowRule::Network {
                base: ip,
                prefix_len,
            });
        }
        let lower = text.to_ascii_lowercase();
        let (name, subdomains) = match lower.strip_prefix("*.") {
            Some(rest) => (rest, true),
            None => (lower.as_str(), false),
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            return Err(format!(
                "{text:?}: not a network (10.0.0.0/8), an address or a host name"
            ));
        }
        Ok(AllowRule::Host {
            name: name.to_string(),
            subdomains,
        })
    }
}

impl AllowRule {
    fn permits_ip(&self, ip: IpAddr) -> bool {
        match self {
            AllowRule::Network { base, prefix_len } => {
                base.is_ipv4() == ip.is_ipv4() && masked(ip, *prefix_len) == *base
            }
            AllowRule::Host { .. } => false,
        }
    }

    fn permits_host(&self, host: &str) -> bool {
        match self {
            // `*.internal` is every name under `internal`, not `internal` itself.
            AllowRule::Host {
                name,
                subdomains: true,
            } => host
                .strip_suffix(name.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            AllowRule::Host {
                name,
                subdomains: false,
            } => host == name,
            AllowRule::Network { .. } => false,
        }
    }
}

/// The networks and host names the operator lets webhooks reach although they are refused by
/// default (a receiver on the operator's own network, tests with a local receiver). Empty by
/// default: only public addresses are reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookAllow {
    /// In the order given.
    rules: Vec<AllowRule>,
}

impl WebhookAllow {
    /// An allowance of these entries (at most [`MAX_ALLOW_ENTRIES`]).
    pub fn new(rules: impl IntoIterator<Item = AllowRule>) -> Result<WebhookAllow, String> {
        let rules: Vec<AllowRule> = rules.into_iter().collect();
        if rules.len() > MAX_ALLOW_ENTRIES {
            return Err(format!(
                "{} webhook allowance entries; the limit is {MAX_ALLOW_ENTRIES}",
                rules.len()
            ));
        }
        Ok(WebhookAllow { rules })
    }

    /// A comma-separated list of entries: `127.0.0.1/32,receiver.internal`.
    pub fn parse(list: &str) -> Result<WebhookAllow, String> {
        let rules = list
            .split(',')
            .map(AllowRule::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        WebhookAllow::new(rules)
    }

    pub fn rules(&self) -> &[AllowRule] {
        &self.rules
    }

    /// Whether a listed network holds `ip` (an IPv4-mapped IPv6 address counts as its IPv4
    /// address).
    pub fn permits_ip(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.rules
            .iter()
            .any(|r| r.permits_ip(ip) || r.permits_ip(canonical))
    }

    /// Whether a listed host name matches `host` (any case, a trailing dot ignored).
    pub fn permits_host(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let host = host.strip_suffix('.').unwrap_or(&host);
        self.rules.iter().any(|r| r.permits_host(host))
    }

    /// Whether a webhook may connect to `ip`.
    pub fn reachable(&self, ip: IpAddr) -> bool {
        refusal(ip).is_none() || self.permits_ip(ip)
    }
}

/// An IP address written in a URL or an allowance entry, with or without IPv6 brackets.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse().ok()
}

/// `ip` with every bit past the first `prefix_len` cleared.
fn masked(ip: IpAddr, prefix_len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// IPv4 ranges webhooks never reach by default: (network, prefix length, what it is).
const REFUSED_V4: &[([u8; 4], u8, &str)] = &[
    ([0, 0, 0, 0], 8, "an unspecified (\"this network\") address"),
    ([10, 0, 0, 0], 8, "a private address"),
    ([100, 64, 0, 0], 10, "a shared (carrier-grade NAT) address"),
    ([127, 0, 0, 0], 8, "a loopback address"),
    ([169, 254, 0, 0], 16, "a link-local address"),
    ([172, 16, 0, 0], 12, "a private address"),
    ([192, 0, 0, 0], 24, "a reserved (IETF protocol) address"),
    ([192, 0, 2, 0], 24, "a documentation address"),
    ([192, 88, 99, 0], 24, "a reserved (6to4 relay) address"),
    ([192, 168, 0, 0], 16, "a private address"),
    ([198, 18, 0, 0], 15, "a benchmarking address"),
    ([198, 51, 100, 0], 24, "a documentation address"),
    ([203, 0, 113, 0], 24, "a documentation address"),
    ([224, 0, 0, 0], 4, "a multicast address"),
    ([240, 0, 0, 0], 4, "a reserved or broadcast address"),
];

fn refusal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let bits = u32::from(ip);
    REFUSED_V4.iter().find_map(|(net, len, what)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
        (bits & mask == u32::from_be_bytes(*net)).then_some(*what)
    })
}

/// Whether `ip` lies in `net`/`len`.
fn in_v6(ip: Ipv6Addr, net: u128, len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(ip) & mask == net
}

fn refusal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refusal_v4(v4);
    }
    let bits = u128::from(ip);
    // The last 32 bits, for the forms that embed an IPv4 address there.
    let low_v4 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    if in_v6(ip, 0, 96) {
        return Some("a reserved (IPv4-compatible) address");
    }
    if in_v6(ip, 0x0064_ff9b << 96, 96) {
        // NAT64: what counts is the IPv4 address it reaches.
        return refusal_v4(low_v4);
    }
    if in_v6(ip, 0xff00 << 112, 8) {
        return Some("a multicast address");
    }
    if in_v6(ip, 0xfe80 << 112, 10) || in_v6(ip, 0xfec0 << 112, 10) {
        return Some("a link-local address");
    }
    if in_v6(ip, 0xfc00 << 112, 7) {
        return Some("a unique-local (private) address");
    }
    if !in_v6(ip, 0x2000 << 112, 3) {
        return Some("a reserved address (not global unicast)");
    }
    if in_v6(ip, 0x2001_0db8 << 96, 32) || in_v6(ip, 0x3fff << 112, 20) {
        return Some("a documentation address");
    }
    if in_v6(ip, 0x2001 << 112, 23) {
        return Some("a reserved (IETF protocol, Teredo) address");
    }
    if in_v6(ip, 0x2002 << 112, 16) {
        // 6to4: the IPv4 address is bits 16 to 48.
        return refusal_v4(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    None
}

/// What makes `ip` unreachable for webhooks by default ("a loopback address", ...), or `None`
/// for a public address.
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => refusal_v6(v6),
    }
}

/// Whether a host name is a loopback name by definition (RFC 6761: `localhost` and every name
/// under it), whatever the DNS says.
pub fn is_localhost_name(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    host == "localhost" || host.ends_with(".localhost")
}

/// The IP address of a URL whose host is one, as the URL parser read it (so `2130706433`,
/// `0177.0.0.1`, `127.1` and `[::ffff:127.0.0.1]` are all what they mean), with what makes it
/// unreachable when it is; `None` for a host name.
pub fn check_literal(url: &reqwest::Url, allow: &WebhookAllow) -> Option<(IpAddr, &'static str)> {
    // The parser has already turned every IPv4 spelling into dotted decimal (a name ending
    // in a number is read as an IPv4 address or refused), and IPv6 is in brackets: a host that
    // does not parse here is a name, resolved (and checked) at connection time.
    let ip = parse_ip(url.host_str()?)?;
    if allow.permits_ip(ip) {
        return None;
    }
    refusal(ip).map(|what| (ip, what))
}

/// The error of a resolution whose every address is refused.
#[derive(Debug)]
pub struct RefusedAddress;

impl std::fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REFUSED_TEXT)
    }
}

impl std::error::Error for RefusedAddress {}

/// The delivery client's resolver: the system's (getaddrinfo), keeping only the addresses a
/// webhook may reach, so the client can connect only to an address checked at this delivery.
#[derive(Debug, Clone, Default)]
pub struct GuardedResolver {
    /// The operator's allowance.
    pub allow: Arc<WebhookAllow>,
}

impl GuardedResolver {
    /// The addresses of `host` a webhook may reach; `RefusedAddress` when there are none.
    pub async fn lookup(
        &self,
        host: &str,
    ) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let by_name = self.allow.permits_host(host);
        let found = tokio::net::lookup_host((host, 0)).await?;
        let kept: Vec<SocketAddr> = found
            .filter(|addr| by_name || self.allow.reachable(addr.ip()))
            .collect();
        if kept.is_empty() {
            return Err(Box::new(RefusedAddress));
        }
        Ok(kept)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let kept = this.lookup(&host).await?;
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn internal_and_reserved_addresses_are_refused_and_public_ones_are_not() {
        for refused in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(refusal(ip(refused)).is_some(), "{refused} is refused");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "198.20.0.1",
            "223.255.255.255",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2606:4700::1111",
            "2a00:1450::1",
        ] {
            assert_eq!(refusal(ip(public)), None, "{public} is public");
        }
    }

    #[test]
    fn an_allowance_admits_its_networks_and_names_only() {
        let allow = WebhookAllow::parse(
            "127.0.0.1/32, 10.1.0.0/16,[fd00::1],receiver.internal,*.corp.example.",
        )
        .expect("a valid list");
        assert_eq!(allow.rules().len(), 5);
        for yes in ["127.0.0.1", "::ffff:127.0.0.1", "10.1.255.3", "fd00::1"] {
            assert!(allow.reachable(ip(yes)), "{yes}");
        }
        for no in ["127.0.0.2", "::1", "10.2.0.1", "fd00::2", "169.254.169.254"] {
            assert!(!allow.reachable(ip(no)), "{no}");
        }
        assert!(allow.permits_host("receiver.internal"));
        assert!(allow.permits_host("Receiver.Internal."));
        assert!(allow.permits_host("a.corp.example"));
        assert!(allow.permits_host("a.b.corp.example"));
        assert!(!allow.permits_host("corp.example"));
        assert!(!allow.permits_host("evilcorp.example"));
        assert!(!allow.permits_host("x.receiver.internal"));
        assert!(!allow.permits_host("localhost"));
        assert_eq!(
            "10.1.2.3/8".parse::<AllowRule>(),
            Ok(AllowRule::Network {
                base: ip("10.0.0.0"),
                prefix_len: 8
            })
        );
        for bad in [
            "",
            " ",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/x",
            "http://x",
            "a..b",
            "*.",
        ] {
            assert!(bad.parse::<AllowRule>().is_err(), "{bad:?}");
        }
        assert!(WebhookAllow::parse("127.0.0.1,").is_err());
        assert_eq!(WebhookAllow::default().rules().len(), 0);
        assert!(!WebhookAllow::default().reachable(ip("127.0.0.1")));
    }

    #[test]
    fn odd_spellings_of_an_address_are_read_as_the_address() {
        let none = WebhookAllow::default();
        for url in [
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://127.0.0.1./",
            "http://0/",
            "http://[::ffff:7f00:1]/",
            "http://[0:0:0:0:0:ffff:127.0.0.1]/",
            "http://[::1]:8080/",
            "http://0251.0376.0251.0376/latest",
        ] {
            let parsed = reqwest::Url::parse(url).expect("a URL");
            assert!(check_literal(&parsed, &none).is_some(), "{url}");
        }
        let public = reqwest::Url::parse("https://8.8.8.8/hook").expect("a URL");
        assert_eq!(check_literal(&public, &none), None);
        let named = reqwest::Url::parse("https://hooks.example/hook").expect("a URL");
        assert_eq!(check_literal(&named, &none), None);
        let allow = WebhookAllow::parse("127.0.0.0/8").expect("valid");
        let local = reqwest::Url::parse("http://2130706433/").expect("a URL");
        assert_eq!(check_literal(&local, &allow), None);
        assert!(is_localhost_name("LocalHost."));
        assert!(is_localhost_name("a.localhost"));
        assert!(!is_localhost_name("localhost.example"));
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses_before_any_connection() {
        let guarded = GuardedResolver::default();
        let refused = guarded
            .lookup("localhost")
            .await
            .expect_err("loopback only");
        assert!(
            refused.downcast_ref::<RefusedAddress>().is_some(),
            "{refused}"
        );
        let allowed = GuardedResolver {
            allow: Arc::new(WebhookAllow::parse("127.0.0.0/8").expect("valid")),
        };
        let kept = allowed
            .lookup("localhost")
            .await
            .expect("127.0.0.1 allowed");
        assert!(!kept.is_empty());
        assert!(
            kept.iter()
                .all(|a| a.ip().is_ipv4() && a.ip().is_loopback()),
            "{kept:?}"
        );
        let by_name = GuardedResolver {
            allow: Arc::new(WebhookAllow::parse("localhost").expect("valid")),
        };
        assert!(by_name.lookup("localhost").await.is_ok());
    }
}
