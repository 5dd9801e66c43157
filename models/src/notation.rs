//! The derivation's notation in text: superscript layer numbers.

/// `12` → `⁽¹²⁾`.
pub fn sup(i: usize) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let digits: String = i.to_string().bytes().map(|b| DIGITS[usize::from(b - b'0')]).collect();
    format!("⁽{digits}⁾")
}
