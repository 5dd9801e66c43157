//! The derivation's notation in text: superscript layer numbers.

/// `12` → `⁽¹²⁾`.
pub fn sup(i: usize) -> String {
    sup_key(&i.to_string())
}

/// A layer's key as a superscript: `3` → `⁽³⁾`; inside a residual block, layer 1 of block
/// 3's body `3b1` → `⁽³ᵇ¹⁾`, layer 0 of its shortcut `3s0` → `⁽³ˢ⁰⁾`.
pub fn sup_key(key: &str) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let raised: String = key
        .chars()
        .map(|c| match c {
            'b' => 'ᵇ',
            's' => 'ˢ',
            c => c.to_digit(10).map_or(c, |d| DIGITS[d as usize]),
        })
        .collect();
    format!("⁽{raised}⁾")
}

/// The key of layer `j` of path `path` (`body`, `shortcut`) of the block keyed `block`:
/// `3`, `body`, 1 → `3b1`; `3`, `shortcut`, 0 → `3s0` (the page's ids and formulas).
pub fn inner_key(block: &str, path: &str, j: usize) -> String {
    format!("{block}{}{j}", path.get(..1).unwrap_or(""))
}
