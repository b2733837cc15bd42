//! Reverse proxies: which peers may say who the client is.
//!
//! Behind a proxy every connection comes from the proxy, so the proxy names the client in
//! `X-Forwarded-For` and the scheme it was reached by in `X-Forwarded-Proto`. Anyone can send
//! those headers, so they are believed only from the peers in `http.trusted_proxies`:
//! - the client is the rightmost `X-Forwarded-For` entry that is not itself a trusted proxy
//!   (a chain of trusted proxies each append the address they saw); an entry that is not an
//!   address stops the walk, and the address before it is used;
//! - a request from a trusted proxy without `X-Forwarded-For` came from the proxy's machine
//!   itself, not through it (the sample in `deploy/nginx.conf` always sets the header); one with
//!   the header, even unreadable, came through it, and is never taken for a local one.

use std::net::IpAddr;
use std::sync::Arc;

use poem::Request;
use poem::http::HeaderMap;
use poem::http::uri::Scheme;

/// The peers whose forwarding headers are believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<[IpAddr]>);

/// Where a request came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The client's address.
    pub client: IpAddr,
    /// Whether a trusted proxy forwarded the request.
    pub forwarded: bool,
    /// Whether the client reached the server (or its proxy) over HTTPS.
    pub https: bool,
}

impl Origin {
    /// Whether the request was made on this machine, straight to the server.
    pub fn local(&self) -> bool {
        !self.forwarded && self.client.is_loopback()
    }
}

impl TrustedProxies {
    /// Trusts `proxies`.
    pub fn new(proxies: &[IpAddr]) -> TrustedProxies {
        TrustedProxies(proxies.iter().map(|ip| ip.to_canonical()).collect())
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }

    /// Where `req` came from.
    pub fn origin(&self, req: &Request) -> Origin {
        let peer = req
            .remote_addr()
            .as_socket_addr()
            .map_or(IpAddr::from([0, 0, 0, 0]), |addr| addr.ip());
        self.origin_of(peer, req.scheme() == &Scheme::HTTPS, req.headers())
    }

    /// Where a request from `peer`, over TLS or not, with `headers`, came from.
    pub fn origin_of(&self, peer: IpAddr, tls: bool, headers: &HeaderMap) -> Origin {
        let peer = peer.to_canonical();
        // A header that is there but unreadable still says the request came through the proxy.
        if !self.trusts(peer) || !headers.contains_key("x-forwarded-for") {
            return Origin {
                client: peer,
                forwarded: false,
                https: tls,
            };
        }
        let mut client = peer;
        for entry in listed(headers, "x-forwarded-for").rev() {
            let Ok(ip) = entry.parse::<IpAddr>() else {
                break;
            };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        let proto = listed(headers, "x-forwarded-proto").next_back();
        Origin {
            client,
            forwarded: true,
            https: tls || proto.is_some_and(|p| p.eq_ignore_ascii_case("https")),
        }
    }
}

/// The comma-separated entries of every `name` header, in order, trimmed; unreadable values
/// are skipped.
fn listed<'a>(headers: &'a HeaderMap, name: &str) -> impl DoubleEndedIterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The origin of a request from `peer` with `headers`, over plain HTTP.
    fn origin(proxies: &TrustedProxies, peer: &str, headers: &[(&'static str, &str)]) -> Origin {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, value.parse().unwrap());
        }
        let peer: std::net::SocketAddr = peer.parse().unwrap();
        proxies.origin_of(peer.ip(), false, &map)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarding_headers_are_believed_only_from_a_trusted_proxy() {
        let proxies = TrustedProxies::new(&[ip("10.0.0.1"), ip("10.0.0.2")]);
        let spoofed = [
            ("x-forwarded-for", "198.51.100.9"),
            ("x-forwarded-proto", "https"),
        ];
        let direct = origin(&proxies, "203.0.113.5:4000", &spoofed);
        assert_eq!(
            direct,
            Origin {
                client: ip("203.0.113.5"),
                forwarded: false,
                https: false
            }
        );
        let proxied = origin(&proxies, "10.0.0.1:4000", &spoofed);
        assert_eq!(
            proxied,
            Origin {
                client: ip("198.51.100.9"),
                forwarded: true,
                https: true
            }
        );
        assert!(!proxied.local());
    }

    #[test]
    fn the_client_is_the_rightmost_address_no_trusted_proxy_added() {
        let proxies = TrustedProxies::new(&[ip("10.0.0.1"), ip("10.0.0.2")]);
        // The client claimed 192.0.2.1; the first proxy saw 198.51.100.9; the second, the first.
        let chain = [
            ("x-forwarded-for", "192.0.2.1, 198.51.100.9"),
            ("x-forwarded-for", "10.0.0.2"),
        ];
        assert_eq!(
            origin(&proxies, "10.0.0.1:1", &chain).client,
            ip("198.51.100.9")
        );
        // Garbage stops the walk at the last address a trusted proxy vouched for.
        let garbage = [("x-forwarded-for", "nonsense, 10.0.0.2")];
        assert_eq!(
            origin(&proxies, "10.0.0.1:1", &garbage).client,
            ip("10.0.0.2")
        );
    }

    #[test]
    fn a_trusted_peer_without_the_header_is_the_machine_itself() {
        let proxies = TrustedProxies::new(&[ip("127.0.0.1")]);
        let own = origin(&proxies, "127.0.0.1:1", &[]);
        assert!(own.local() && !own.forwarded);
        let through = origin(&proxies, "127.0.0.1:1", &[("x-forwarded-for", "127.0.0.1")]);
        assert!(
            !through.local(),
            "a request through the proxy is never local"
        );
        // An unreadable header still marks the request as forwarded, its client unknown.
        let mut unreadable = HeaderMap::new();
        unreadable.append(
            "x-forwarded-for",
            poem::http::HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        let garbled = proxies.origin_of(ip("127.0.0.1"), false, &unreadable);
        assert!(garbled.forwarded && !garbled.local(), "{garbled:?}");
        // IPv4 seen as IPv6 on a dual-stack socket is the same peer.
        let mapped = origin(
            &proxies,
            "[::ffff:127.0.0.1]:1",
            &[("x-forwarded-for", "198.51.100.9")],
        );
        assert_eq!(mapped.client, ip("198.51.100.9"));
    }
}
