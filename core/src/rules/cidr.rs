//! The `cidr` operator: whether a text is an IP address inside one of a
//! list of CIDR blocks (Sigma's `|cidr` modifier, VRL's
//! `ip_cidr_contains`).
//!
//! Addresses and blocks are read with the standard library's parsers, as
//! VRL's function reads them, so the exported program answers alike:
//! IPv4 addresses are inside IPv4 blocks only and IPv6 addresses inside
//! IPv6 blocks only (an IPv4-mapped IPv6 address, `::ffff:10.0.0.1`, is in
//! `::ffff:10.0.0.0/104`, not in `10.0.0.0/8`). A text that is not an
//! address (a host name, an address with a zone or a port) is in no block.
//! A block with host bits set (`10.0.0.1/8`) is an error, as in VRL.

use std::net::IpAddr;

/// The blocks of one `cidr` test, compiled.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cidrs {
    /// IPv4 blocks: (network, mask).
    v4: Vec<(u32, u32)>,
    /// IPv6 blocks: (network, mask).
    v6: Vec<(u128, u128)>,
    /// Every block, written `address/length`, in the order given.
    text: Vec<String>,
}

/// No address is written in more characters than this
/// (`ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`).
const MAX_ADDRESS_LEN: usize = 45;

impl Cidrs {
    /// Compile `blocks` (`address/length`, or an address for itself alone).
    pub fn new(blocks: &[String]) -> Result<Cidrs, String> {
        let mut c = Cidrs { v4: Vec::new(), v6: Vec::new(), text: Vec::new() };
        for b in blocks {
            let (addr, len) = match b.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (b.as_str(), None),
            };
            let addr: IpAddr = addr.parse().map_err(|_| format!("`cidr`: `{b}` is not an IP address or CIDR block"))?;
            let bits = if addr.is_ipv4() { 32 } else { 128 };
            let len = match len {
                None => bits,
                Some(l) => match l.parse::<u32>() {
                    Ok(n) if n <= bits && !l.starts_with('+') => n,
                    _ => return Err(format!("`cidr`: `{b}` has no prefix length between 0 and {bits}")),
                },
            };
            match addr {
                IpAddr::V4(a) => {
                    let (net, mask) = (u32::from(a), u32::MAX.checked_shl(32 - len).unwrap_or(0));
                    if net & !mask != 0 {
                        return Err(host_bits(b, IpAddr::from(std::net::Ipv4Addr::from(net & mask)), len));
                    }
                    c.v4.push((net, mask));
                }
                IpAddr::V6(a) => {
                    let (net, mask) = (u128::from(a), u128::MAX.checked_shl(128 - len).unwrap_or(0));
                    if net & !mask != 0 {
                        return Err(host_bits(b, IpAddr::from(std::net::Ipv6Addr::from(net & mask)), len));
                    }
                    c.v6.push((net, mask));
                }
            }
            c.text.push(format!("{addr}/{len}"));
        }
        Ok(c)
    }

    /// Whether `t` is an address inside one of the blocks.
    pub fn contains(&self, t: &str) -> bool {
        if t.len() > MAX_ADDRESS_LEN {
            return false;
        }
        // Most sources are dotted quads: read them without the general
        // parser (the same reading, `dotted_quad_reads_as_the_standard_parser`;
        // ~80 instructions an address against ~200, BENCHMARKS.md session 9).
        if let Some(a) = dotted_quad(t.as_bytes()) {
            return self.v4.iter().any(|&(net, mask)| a & mask == net);
        }
        match t.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => {
                let a = u32::from(a);
                self.v4.iter().any(|&(net, mask)| a & mask == net)
            }
            Ok(IpAddr::V6(a)) => {
                let a = u128::from(a);
                self.v6.iter().any(|&(net, mask)| a & mask == net)
            }
            Err(_) => false,
        }
    }

    /// The blocks, written `address/length`.
    pub fn blocks(&self) -> &[String] {
        &self.text
    }
}

/// `t` as `Ipv4Addr`'s parser reads it, where it is four decimal numbers
/// up to 255 without leading zeros joined by three dots; `None` for
/// anything else, which is left to the standard parser (an IPv6 address).
#[inline]
fn dotted_quad(t: &[u8]) -> Option<u32> {
    let digit = |i: usize| t.get(i).map(|b| b.wrapping_sub(b'0')).filter(|d| *d <= 9).map(u32::from);
    let (mut addr, mut i) = (0u32, 0usize);
    for part in 0..4 {
        if part > 0 {
            if t.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let mut v = digit(i)?;
        i += 1;
        // A leading zero stands alone.
        if v > 0 {
            for _ in 0..2 {
                let Some(d) = digit(i) else { break };
                v = v * 10 + d;
                i += 1;
            }
        }
        if v > 255 {
            return None;
        }
        addr = addr << 8 | v;
    }
    (i == t.len()).then_some(addr)
}

fn host_bits(b: &str, net: IpAddr, len: u32) -> String {
    format!("`cidr`: `{b}` has bits set beyond its prefix length (the block is `{net}/{len}`)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(blocks: &[&str]) -> Cidrs {
        Cidrs::new(&blocks.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("blocks compile")
    }

    #[test]
    fn ipv4_blocks_hold_their_addresses_only() {
        let p = c(&["10.0.0.0/8", "172.16.0.0/12", "100.64.0.0/10", "192.0.2.7"]);
        for yes in
            ["10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.254", "100.64.0.1", "100.127.0.1", "192.0.2.7"]
        {
            assert!(p.contains(yes), "{yes}");
        }
        for no in
            ["100.20.30.40", "11.0.0.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "192.0.2.8", "9.255.255.255"]
        {
            assert!(!p.contains(no), "{no}");
        }
    }

    #[test]
    fn ipv6_blocks_and_mapped_addresses() {
        let p = c(&["::1/128", "fc00::/7", "fe80::/10", "::ffff:10.0.0.0/104"]);
        for yes in [
            "::1",
            "0:0:0:0:0:0:0:1",
            "fd12:3456::1",
            "FC00::",
            "fe80::1",
            "febf::1",
            "::ffff:10.1.2.3",
            "::ffff:a01:203",
        ] {
            assert!(p.contains(yes), "{yes}");
        }
        for no in ["::2", "fec0::1", "2001:db8::1", "::ffff:11.0.0.1", "10.1.2.3"] {
            assert!(!p.contains(no), "{no}");
        }
        // An IPv4 block holds no IPv6 address, mapped or not.
        assert!(!c(&["10.0.0.0/8"]).contains("::ffff:10.1.2.3"));
    }

    #[test]
    fn texts_that_are_not_addresses_are_in_no_block() {
        let all = c(&["0.0.0.0/0", "::/0"]);
        assert!(all.contains("203.0.113.9") && all.contains("2001:db8::1"));
        for no in
            ["", "localhost", "10.0.0.1:443", "fe80::1%eth0", "010.0.0.1", "10.0.0", " 10.0.0.1", &"1".repeat(100)]
        {
            assert!(!all.contains(no), "{no:?}");
        }
    }

    #[test]
    fn dotted_quad_reads_as_the_standard_parser() {
        let std_v4 = |t: &str| t.parse::<std::net::Ipv4Addr>().ok().map(u32::from);
        // Every text of up to 7 bytes over digits that matter and dots…
        let alphabet = [b'0', b'1', b'2', b'5', b'6', b'9', b'.'];
        let mut texts: Vec<Vec<u8>> = vec![Vec::new()];
        let mut compared = 0;
        for _ in 0..7 {
            texts = texts
                .iter()
                .flat_map(|t| {
                    alphabet.iter().map(move |&b| {
                        let mut u = t.clone();
                        u.push(b);
                        u
                    })
                })
                .collect();
            for t in &texts {
                let s = std::str::from_utf8(t).expect("ascii");
                assert_eq!(dotted_quad(t), std_v4(s), "{s:?}");
                compared += 1;
            }
        }
        // …then longer ones from octets spelled every way.
        let octets =
            ["0", "00", "01", "1", "9", "10", "99", "100", "199", "255", "256", "260", "300", "999", "1000", ""];
        for a in octets {
            for b in octets {
                for c in ["0", "255", "256", "07"] {
                    for d in octets {
                        for t in [format!("{a}.{b}.{c}.{d}"), format!("{a}.{b}.{c}.{d}."), format!("{a}.{b}.{c}")] {
                            assert_eq!(dotted_quad(t.as_bytes()), std_v4(&t), "{t:?}");
                            compared += 1;
                        }
                    }
                }
            }
        }
        for t in [
            "+1.2.3.4",
            "1.2.3.-4",
            "1.2.3.4 ",
            " 1.2.3.4",
            "1..3.4",
            "1.2.3.4.5",
            "１.2.3.4",
            "1.2.3.4/8",
            "10.0.0.1:443",
        ] {
            assert_eq!(dotted_quad(t.as_bytes()), std_v4(t), "{t:?}");
        }
        assert!(compared > 900_000, "{compared} texts compared");
    }

    #[test]
    fn bad_blocks_are_rejected_with_the_block_named() {
        for (bad, says) in [
            ("10.0.0.1/8", "`10.0.0.0/8`"),
            ("10.0.0.0/33", "between 0 and 32"),
            ("fe80::1/10", "`fe80::/10`"),
            ("::/129", "between 0 and 128"),
            ("10.0.0.0/+8", "between 0 and 32"),
            ("example.com/8", "not an IP address"),
        ] {
            let e = Cidrs::new(&[bad.to_string()]).expect_err(bad);
            assert!(e.contains(bad) && e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn blocks_are_written_address_slash_length() {
        assert_eq!(
            c(&["10.0.0.0/8", "192.0.2.7", "::ffff:10.0.0.0/104"]).blocks(),
            ["10.0.0.0/8", "192.0.2.7/32", "::ffff:10.0.0.0/104"]
        );
    }
}
