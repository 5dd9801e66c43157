//! The guide's links point at code that exists.
//!
//! `docs/derivation.md` links every formula to the function that computes it and to the test
//! that checks it, written as `` [`Name`](relative/path.rs) ``. This test reads the guide
//! (and the root `README.md`), extracts every relative link, and checks that:
//!
//! - the target path exists (relative to the markdown file);
//! - an `#anchor` on a markdown target names one of its headings (GitHub's slugs), and an
//!   `#L<n>` anchor on another file is within its line count;
//! - every name in backticks in the link text is a Rust path (`fn_name`, `Type`,
//!   `Type::method`, `crate::fn_name`) whose last segment is defined in the target file
//!   (`fn`, `struct`, `enum`, `trait`, `type`, `const`, `static`, `mod` or `macro_rules!`
//!   followed by the name), and whose type qualifier, if any (`Type` in `Type::method`),
//!   occurs in the file.
//!
//! Links outside the repository (`http…`, `mailto:`) are not followed. Fenced code blocks,
//! inline code spans and `$…$` math are skipped, so brackets there are not taken for links.
//!
//! `docs/testing-gradients.md` and `docs/adding-a-layer.md` are held to the same link rules,
//! and each of their ```rust blocks must be quoted verbatim from the code they name.
//!
//! Two more tests tie the guide's figures to the code, so that they cannot drift apart: the
//! byte counts it quotes for the im2col matrices are those of `models::shapes::table` (what
//! `lenet5 shapes` prints), and the shapes it derives for N = 2 are the model's.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A link found in a markdown file.
#[derive(Debug)]
struct Link {
    line: usize,
    text: String,
    target: String,
}

/// Every `[text](target)` outside fenced code blocks, inline code and `$…$` math.
fn links(markdown: &str) -> Vec<Link> {
    let mut out = Vec::new();
    let mut fenced = false;
    let mut display_math = false;
    for (number, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if trimmed.starts_with("$$") {
            // A `$$` line opens or closes a display block, unless it does both (`$$…$$`).
            let single = trimmed.len() > 2 && trimmed.trim_end().ends_with("$$") && trimmed.trim_end().len() >= 4;
            if !single {
                display_math = !display_math;
            }
            continue;
        }
        if fenced || display_math {
            continue;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '`' => i = skip_past(&chars, i + 1, '`'),
                '$' => i = skip_past(&chars, i + 1, '$'),
                '\\' => i += 2,
                '[' => {
                    let Some(close) = find_link_text_end(&chars, i + 1) else {
                        i += 1;
                        continue;
                    };
                    if chars.get(close + 1) == Some(&'(')
                        && let Some(end) = chars[close + 2..].iter().position(|&c| c == ')')
                    {
                        let text: String = chars[i + 1..close].iter().collect();
                        let target: String = chars[close + 2..close + 2 + end].iter().collect();
                        // Drop an optional title: `(path "title")`.
                        let target = target.split_whitespace().next().unwrap_or("").to_string();
                        out.push(Link { line: number + 1, text, target });
                        i = close + 3 + end;
                        continue;
                    }
                    i = close + 1;
                }
                _ => i += 1,
            }
        }
    }
    out
}

/// The index just past the next `delimiter` at or after `from` (or the end of the line).
fn skip_past(chars: &[char], from: usize, delimiter: char) -> usize {
    chars[from.min(chars.len())..].iter().position(|&c| c == delimiter).map_or(chars.len(), |p| from + p + 1)
}

/// The `]` closing a link text that starts at `from`; backticked spans inside may hold `]`.
fn find_link_text_end(chars: &[char], from: usize) -> Option<usize> {
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '`' => i = skip_past(chars, i + 1, '`'),
            ']' => return Some(i),
            '[' => return None,
            _ => i += 1,
        }
    }
    None
}

/// The backticked spans of a link text.
fn code_names(text: &str) -> Vec<String> {
    text.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Whether `source` defines `name` (`fn name`, `struct name`, …) as a whole word.
fn defines(source: &str, name: &str) -> bool {
    const KEYWORDS: [&str; 9] = ["fn", "struct", "enum", "trait", "type", "const", "static", "mod", "macro_rules!"];
    KEYWORDS.iter().any(|kw| {
        let needle = format!("{kw} {name}");
        source.match_indices(&needle).any(|(at, _)| {
            let before_ok = at == 0 || !source[..at].ends_with(|c: char| c == '_' || c.is_ascii_alphanumeric());
            let after = &source[at + needle.len()..];
            let after_ok = !after.starts_with(|c: char| c == '_' || c.is_ascii_alphanumeric());
            before_ok && after_ok
        })
    })
}

/// Whether `word` occurs in `source` as a whole identifier.
fn mentions(source: &str, word: &str) -> bool {
    source.match_indices(word).any(|(at, _)| {
        let before_ok = at == 0 || !source[..at].ends_with(|c: char| c == '_' || c.is_ascii_alphanumeric());
        let after_ok = !source[at + word.len()..].starts_with(|c: char| c == '_' || c.is_ascii_alphanumeric());
        before_ok && after_ok
    })
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a markdown file's headings (with GitHub's `-1`, `-2` for repeats).
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let base = slug(line.trim_start_matches('#'));
        let mut candidate = base.clone();
        let mut k = 0;
        while seen.contains(&candidate) {
            k += 1;
            candidate = format!("{base}-{k}");
        }
        seen.insert(candidate);
    }
    seen
}

/// Every problem with the relative links of the markdown file at `path`, one line each.
fn check_file(path: &Path) -> (usize, Vec<String>) {
    let markdown = fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let dir = path.parent().expect("a file has a parent");
    let shown = path.strip_prefix(workspace_root()).unwrap_or(path).display().to_string();
    let mut problems = Vec::new();
    let mut checked = 0;
    for link in links(&markdown) {
        let target = link.target.as_str();
        if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        checked += 1;
        let at = format!("{shown}:{}: [{}]({})", link.line, link.text, link.target);
        let (file, anchor) = match target.split_once('#') {
            Some((f, a)) => (f, Some(a)),
            None => (target, None),
        };
        let resolved = if file.is_empty() { path.to_path_buf() } else { dir.join(file) };
        let file = if file.is_empty() { shown.as_str() } else { file };
        if !resolved.exists() {
            problems.push(format!("{at}: {file} does not exist (relative to {})", dir.display()));
            continue;
        }
        let is_markdown = resolved.extension().is_some_and(|e| e == "md");
        if let Some(anchor) = anchor {
            let source = fs::read_to_string(&resolved).unwrap_or_default();
            if is_markdown {
                if !anchors(&source).contains(anchor) {
                    problems.push(format!("{at}: no heading with anchor #{anchor} in {file}"));
                }
            } else if let Some(n) = anchor.strip_prefix('L').and_then(|n| n.split('-').next()?.parse::<usize>().ok()) {
                if n == 0 || n > source.lines().count() {
                    problems.push(format!("{at}: line {n} is past the end of {file}"));
                }
            } else {
                problems.push(format!("{at}: anchor #{anchor} on a file that is not markdown (use #L<line>)"));
            }
        }
        let names = code_names(&link.text);
        if names.is_empty() {
            continue;
        }
        if resolved.is_dir() {
            problems.push(format!("{at}: names code but links to a directory"));
            continue;
        }
        let source = fs::read_to_string(&resolved).unwrap_or_default();
        for name in names {
            let path_like = name.trim_end_matches("()");
            let segments: Vec<&str> = path_like.split("::").collect();
            if !segments.iter().all(|s| is_ident(s)) {
                problems.push(format!(
                    "{at}: `{name}` is not a Rust path (link texts in backticks must name code: `fn_name`, `Type::method`)"
                ));
                continue;
            }
            let last = segments[segments.len() - 1];
            let is_rust = resolved.extension().is_some_and(|e| e == "rs");
            if is_rust {
                if !defines(&source, last) {
                    problems.push(format!(
                        "{at}: no definition of `{last}` (fn/struct/enum/trait/type/const/static/mod) in {file}"
                    ));
                }
                let qualifier = segments.len().checked_sub(2).map(|k| segments[k]);
                if let Some(qualifier) = qualifier.filter(|q| q.starts_with(|c: char| c.is_ascii_uppercase()))
                    && !mentions(&source, qualifier)
                {
                    problems.push(format!("{at}: the type `{qualifier}` does not occur in {file}"));
                }
            } else if !mentions(&source, last) {
                problems.push(format!("{at}: `{last}` does not occur in {file}"));
            }
        }
    }
    (checked, problems)
}

#[test]
fn derivation_guide_links_resolve() {
    let guide = workspace_root().join("docs/derivation.md");
    let (checked, problems) = check_file(&guide);
    assert!(problems.is_empty(), "broken links in the guide:\n{}", problems.join("\n"));
    assert!(checked >= 40, "only {checked} relative links found in docs/derivation.md: is the parser still right?");
}

#[test]
fn readme_links_resolve() {
    let readme = workspace_root().join("README.md");
    let (_, problems) = check_file(&readme);
    assert!(problems.is_empty(), "broken links in README.md:\n{}", problems.join("\n"));
}

/// `1234567` as `1,234,567`, the way the guide prints byte counts.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The memory table of the guide quotes, for N = 1, 64 and 256 and each convolution, the
/// im2col matrix's shape and bytes and the bytes of the tensor it was copied from, as
/// `lenet5 shapes` computes them.
#[test]
fn derivation_guide_quotes_the_shapes_table() {
    let guide = fs::read_to_string(workspace_root().join("docs/derivation.md")).expect("the guide exists");
    let mut missing = Vec::new();
    for n in [1, 64, 256] {
        let rows = models::shapes::table(n).expect("the table for a valid batch");
        for row in rows.iter().filter(|r| r.what.contains("im2col")) {
            let shape = row.shape.iter().map(usize::to_string).collect::<Vec<_>>().join("×");
            let source = row.source_bytes.expect("an im2col row has a source");
            let (bytes, source) = (thousands(row.bytes), thousands(source));
            let found = guide.lines().any(|l| {
                l.starts_with('|')
                    && l.contains(&format!("| {n} |"))
                    && l.contains(&format!("| {} |", row.layer))
                    && l.contains(&shape)
                    && l.contains(&bytes)
                    && l.contains(&source)
            });
            if !found {
                missing
                    .push(format!("N = {n}, {}: {} {shape}, {bytes} bytes from {source} bytes", row.layer, row.what));
            }
        }
    }
    assert!(missing.is_empty(), "rows missing from the guide's memory table:\n{}", missing.join("\n"));
}

/// The shapes the guide derives for LeNet-5, for N = 2, are those of the model: C1's output
/// is (32 − 5 + 2·0)/1 + 1 = 28, and S2 and S4 pool 2×2 windows with stride 2 (4 columns,
/// halving the side), not the 5×5 stride-1 windows of the derivation's S4 paragraph.
#[test]
fn lenet5_shapes_are_the_guides() {
    let rows = models::shapes::table(2).expect("the table for a valid batch");
    let got: Vec<(&str, Vec<usize>)> = rows.iter().map(|r| (r.layer.as_str(), r.shape.clone())).collect();
    let expected: Vec<(&str, Vec<usize>)> = vec![
        ("input", vec![2, 1, 32, 32]),
        ("C1", vec![2 * 784, 25]), // a⁽⁰⁾ = im2col(x)
        ("C1", vec![25, 6]),       // W⁽¹⁾
        ("C1", vec![2 * 784, 6]),  // z⁽¹⁾
        ("C1", vec![2, 6, 28, 28]),
        ("S2", vec![2 * 1176, 4]), // a⁽¹⁾: one 2×2 window per row
        ("S2", vec![2, 6, 14, 14]),
        ("C3", vec![2 * 100, 150]),
        ("C3", vec![150, 16]),
        ("C3", vec![2 * 100, 16]),
        ("C3", vec![2, 16, 10, 10]),
        ("S4", vec![2 * 400, 4]),
        ("S4", vec![2, 16, 5, 5]),
        ("C5", vec![2, 400]),
        ("C5", vec![400, 120]),
        ("C5", vec![2, 120]),
        ("C5", vec![2, 120, 1, 1]),
        ("F6", vec![120, 84]),
        ("F6", vec![2, 84]),
        ("F7", vec![84, 10]),
        ("F7", vec![2, 10]),
    ];
    assert_eq!(got, expected);
}

#[test]
fn testing_gradients_guide_links_resolve() {
    let guide = workspace_root().join("docs/testing-gradients.md");
    let (checked, problems) = check_file(&guide);
    assert!(problems.is_empty(), "broken links in the guide:\n{}", problems.join("\n"));
    assert!(checked >= 30, "only {checked} relative links found in docs/testing-gradients.md");
}

/// The ```rust blocks of a markdown guide.
fn rust_blocks(guide: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in guide.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```rust") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().expect("inside a block")),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// Checks that every ```rust block of the guide at `guide` (at least `min` of them) is
/// quoted verbatim from one of `files`, so that its code compiles and runs.
fn assert_quotes(guide: &str, files: &[&str], min: usize) {
    let root = workspace_root();
    let text = fs::read_to_string(root.join(guide)).expect("the guide exists");
    let sources: Vec<String> =
        files.iter().map(|p| fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"))).collect();
    let blocks = rust_blocks(&text);
    assert!(blocks.len() >= min, "only {} rust blocks in {guide}", blocks.len());
    let missing: Vec<&String> = blocks.iter().filter(|b| !sources.iter().any(|s| s.contains(b.as_str()))).collect();
    assert!(missing.is_empty(), "rust blocks of {guide} not found verbatim in the files it quotes:\n{missing:#?}");
}

/// Every ```rust block of `docs/testing-gradients.md` is quoted verbatim from the example or
/// the tests it names, so the guide's code compiles and runs (in `.ci/run` and the tests).
#[test]
fn testing_gradients_guide_quotes_code_that_exists() {
    let files =
        ["autograd/examples/custom_op.rs", "autograd/tests/catalogue_planted.rs", "layers/tests/module_gradcheck.rs"];
    assert_quotes("docs/testing-gradients.md", &files, 5);
}

#[test]
fn adding_a_layer_guide_links_resolve() {
    let guide = workspace_root().join("docs/adding-a-layer.md");
    let (checked, problems) = check_file(&guide);
    assert!(problems.is_empty(), "broken links in the guide:\n{}", problems.join("\n"));
    assert!(checked >= 10, "only {checked} relative links found in docs/adding-a-layer.md");
}

/// Every ```rust block of `docs/adding-a-layer.md` is quoted verbatim from the kind it walks
/// through, the list, or the test that adds a kind of its own.
#[test]
fn adding_a_layer_guide_quotes_code_that_exists() {
    let files = ["models/src/arch/kinds/leakyrelu.rs", "models/src/arch/kinds/mod.rs", "models/tests/kind_added.rs"];
    assert_quotes("docs/adding-a-layer.md", &files, 5);
}
