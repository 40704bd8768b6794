//! How the JVM spells values in 3.8's four-letter-word output: numbers,
//! hex, dates and socket addresses. Monitoring scripts were written against
//! these exact spellings (`0.0` rather than `0`, `/127.0.0.1:2181`), so we
//! reproduce them instead of Rust's defaults.

pub mod chm;

use std::net::{IpAddr, SocketAddr};

/// `Long.toHexString`: two's complement, lower case, no leading zeros.
pub fn hex(v: i64) -> String {
    format!("{:x}", v as u64)
}

/// `Double.toString`: at least one digit after the point, and the
/// computerized scientific form (`1.0E-4`) outside [10^-3, 10^7).
pub fn double_to_string(d: f64) -> String {
    if d.is_nan() {
        return "NaN".to_string();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let magnitude = d.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        // Rust's Display prints the shortest digits that read back, as Java
        // does for every value our metrics produce, but drops a zero fraction.
        let s = format!("{d}");
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    let s = format!("{d:e}");
    let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
    if mantissa.contains('.') {
        format!("{mantissa}E{exponent}")
    } else {
        format!("{mantissa}.0E{exponent}")
    }
}

/// `AvgMinMaxCounter.getAvg`: `total / count` as a double, then rounded to
/// four decimals half-up on the double's exact binary value
/// (`new BigDecimal(avg).setScale(4, HALF_UP).doubleValue()`).
pub fn average_4dp(total: i64, count: u64) -> f64 {
    if count == 0 {
        return 0.0;
    }
    round_half_up_4(total as f64 / count as f64)
}

fn round_half_up_4(d: f64) -> f64 {
    if !d.is_finite() || d == 0.0 {
        return d;
    }
    let bits = d.abs().to_bits();
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mantissa, exp) = if exp_bits == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), exp_bits - 1075)
    };
    if exp >= 0 {
        return d; // an integer: nothing after the point to round
    }
    let shift = (-exp) as u32;
    let scaled = u128::from(mantissa) * 10_000;
    let rounded = if shift >= 127 {
        // Below 2^-74: far less than half of 10^-4.
        0
    } else {
        let whole = scaled >> shift;
        let rest = scaled - (whole << shift);
        let half = 1u128 << (shift - 1);
        if rest >= half {
            whole + 1
        } else {
            whole
        }
    };
    // Both operands are exact, so IEEE division yields the double nearest to
    // rounded / 10^4, which is what BigDecimal.doubleValue returns.
    let value = rounded as f64 / 10_000.0;
    if d < 0.0 {
        -value
    } else {
        value
    }
}

/// `Math.round(double)` as 3.8 applies it to percentiles.
pub fn round_to_long(d: f64) -> i64 {
    (d + 0.5).floor() as i64
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `java.util.Date.toString` for a JVM running in UTC:
/// `EEE MMM dd HH:mm:ss zzz yyyy`, e.g. `Sun Nov 22 04:24:44 UTC 2026`.
/// We always print UTC; 3.8 uses the JVM's time zone, which on servers is
/// usually UTC too.
pub fn date_to_string(epoch_ms: i64) -> String {
    let secs = epoch_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        year
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic
/// Gregorian (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `InetSocketAddress.toString` of an accepted socket's peer (JDK 14+):
/// `/127.0.0.1:51248`, `/[0:0:0:0:0:0:0:1]:51248`. IPv4-mapped IPv6
/// addresses print as IPv4, as Java turns them into `Inet4Address`.
pub fn socket_addr_to_string(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => format!("/{}:{}", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => {
            if let Some(v4) = v6.ip().to_ipv4_mapped() {
                return format!("/{}:{}", v4, v6.port());
            }
            let scope = match v6.scope_id() {
                0 => String::new(),
                id => format!("%{id}"),
            };
            format!(
                "/[{}{}]:{}",
                ipv6_text(&IpAddr::V6(*v6.ip())),
                scope,
                v6.port()
            )
        }
    }
}

/// `Inet6Address.getHostAddress`: eight hex groups, never `::`-compressed.
fn ipv6_text(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => v6
            .segments()
            .iter()
            .map(|s| format!("{s:x}"))
            .collect::<Vec<_>>()
            .join(":"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Length in UTF-16 code units, which is what Java's writers count.
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};

    #[test]
    fn hex_is_twos_complement_without_padding() {
        assert_eq!(hex(0), "0");
        assert_eq!(hex(0x1_0000_0000), "100000000");
        assert_eq!(hex(-1), "ffffffffffffffff");
        assert_eq!(hex(0x100000e47a10000), "100000e47a10000");
    }

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(double_to_string(0.0), "0.0");
        assert_eq!(double_to_string(-0.0), "-0.0");
        assert_eq!(double_to_string(1.3889), "1.3889");
        assert_eq!(double_to_string(75.0), "75.0");
        assert_eq!(double_to_string(0.001), "0.001");
        assert_eq!(double_to_string(0.0001), "1.0E-4");
        assert_eq!(double_to_string(0.00012), "1.2E-4");
        assert_eq!(double_to_string(9_999_999.5), "9999999.5");
        assert_eq!(double_to_string(10_000_000.0), "1.0E7");
        assert_eq!(double_to_string(12_345_678.9), "1.23456789E7");
        assert_eq!(double_to_string(f64::NAN), "NaN");
    }

    #[test]
    fn averages_round_half_up_to_four_places() {
        assert_eq!(average_4dp(0, 0), 0.0);
        assert_eq!(average_4dp(25, 18), 1.3889); // 1.38888...
        assert_eq!(average_4dp(221, 3), 73.6667);
        assert_eq!(average_4dp(29, 4), 7.25);
        // 1/32 = 0.03125 exactly: half-up gives 0.0313 where half-even would not.
        assert_eq!(average_4dp(1, 32), 0.0313);
        assert_eq!(average_4dp(3, 32), 0.0938); // 0.09375
        assert_eq!(average_4dp(1, 3_000_000), 0.0);
        assert_eq!(average_4dp(-7, 2), -3.5);
        assert_eq!(double_to_string(average_4dp(1, 10_000)), "1.0E-4");
    }

    #[test]
    fn round_is_java_math_round() {
        assert_eq!(round_to_long(2.5), 3);
        assert_eq!(round_to_long(-2.5), -2);
        assert_eq!(round_to_long(0.49), 0);
    }

    #[test]
    fn dates_print_like_java_util_date_in_utc() {
        assert_eq!(date_to_string(0), "Thu Jan 01 00:00:00 UTC 1970");
        // The expiry time 3.8 printed in a capture on this machine.
        assert_eq!(
            date_to_string(1_795_321_484_000),
            "Sun Nov 22 04:24:44 UTC 2026"
        );
        assert_eq!(
            date_to_string(951_782_400_000),
            "Tue Feb 29 00:00:00 UTC 2000"
        );
        assert_eq!(date_to_string(-1), "Wed Dec 31 23:59:59 UTC 1969");
    }

    #[test]
    fn socket_addresses_print_like_inet_socket_address() {
        let v4 = SocketAddr::from((Ipv4Addr::new(127, 0, 0, 1), 51248));
        assert_eq!(socket_addr_to_string(&v4), "/127.0.0.1:51248");
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, 2181));
        assert_eq!(socket_addr_to_string(&v6), "/[0:0:0:0:0:0:0:1]:2181");
        let mapped = SocketAddr::from((Ipv4Addr::new(10, 1, 2, 3).to_ipv6_mapped(), 7));
        assert_eq!(socket_addr_to_string(&mapped), "/10.1.2.3:7");
        let scoped = SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 9, 0, 2));
        assert_eq!(socket_addr_to_string(&scoped), "/[fe80:0:0:0:0:0:0:1%2]:9");
    }

    #[test]
    fn utf16_length_counts_surrogate_pairs_twice() {
        assert_eq!(utf16_len("abc"), 3);
        assert_eq!(utf16_len("é😀"), 3);
    }
}
