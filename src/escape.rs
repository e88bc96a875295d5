//! The one escaper for every output a person or a CI system reads: HTML, XML (JUnit)
//! and Markdown. Every string that comes from a user-controlled file (scenario,
//! results, prices, targets) passes through here before it is written.

/// Escapes text for HTML element content and attribute values.
pub fn html(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Escapes text for XML 1.0 content and attributes: as HTML, after dropping the
/// control characters XML cannot hold at all.
pub fn xml(s: &str) -> String {
    let allowed: String = s
        .chars()
        .filter(|c| matches!(c, '\u{9}' | '\u{a}' | '\u{d}' | '\u{20}'..))
        .collect();
    html(&allowed)
}

/// Escapes text for a Markdown table cell or paragraph: the characters that open
/// inline HTML (GitHub renders it), pipes, emphasis and link markers, and line breaks.
pub fn markdown(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
        .replace('`', "\\`")
        .replace('*', "\\*")
        .replace('_', "\\_")
        .replace('[', "\\[")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_neutralised_in_every_format() {
        let hostile = "<b>'x'</b> | a & b\u{1}\n*c*";
        assert_eq!(
            html(hostile),
            "&lt;b&gt;&#39;x&#39;&lt;/b&gt; | a &amp; b\u{1}\n*c*"
        );
        assert_eq!(
            xml(hostile),
            "&lt;b&gt;&#39;x&#39;&lt;/b&gt; | a &amp; b\n*c*"
        );
        assert_eq!(
            markdown(hostile),
            "&lt;b&gt;'x'&lt;/b&gt; \\| a &amp; b\u{1} \\*c\\*"
        );
    }
}
