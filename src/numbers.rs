//! Numbers as people write them, shared by every layer that prints one.

/// Whole numbers with thousands separators: 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Sizes in decimal units, as the providers bill them: "12.6 GB" from a billion bytes
/// up, else "340 MB".
pub fn bytes(n: u64) -> String {
    if n >= 1_000_000_000 {
        format!("{:.1} GB", n as f64 / 1e9)
    } else {
        format!("{:.0} MB", n as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_separated() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(10_000), "10,000");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn sizes_are_in_decimal_units() {
        assert_eq!(super::bytes(12_625_641_472), "12.6 GB");
        assert_eq!(super::bytes(962_560), "1 MB");
    }
}
