//! Renders the document model as Markdown and as self-contained HTML. Every string
//! that comes from a user-controlled file (scenario, results, prices, targets) passes
//! through [`crate::escape`].

use super::document::{Block, Doc, Table};
use crate::verdict::Outcome;

use crate::escape::{html as esc, markdown as md};

pub(crate) fn markdown(d: &Doc) -> String {
    let mut o = format!("# {}\n\n", md(&d.title));
    for (k, v) in &d.meta {
        o.push_str(&format!("- **{}**: {}\n", md(k), md(v)));
    }
    for s in &d.sections {
        o.push_str(&format!("\n## {}\n\n", md(&s.title)));
        for b in &s.blocks {
            match b {
                Block::Para(p) => o.push_str(&format!("{}\n\n", md(p))),
                Block::Table(t) => o.push_str(&md_table(t)),
                Block::Charts(cs) => {
                    for (_, title, _) in cs {
                        o.push_str(&format!("_Chart in report.html: {}_\n\n", md(title)));
                    }
                }
                // Inside a fence nothing is interpreted; only a fence in the text could
                // break out, and the signature block has none.
                Block::Pre(p) => o.push_str(&format!("```\n{}\n```\n\n", p.replace("```", "'''"))),
            }
        }
    }
    o
}

fn md_table(t: &Table) -> String {
    let mut o = String::new();
    o.push_str(&format!(
        "| {} |\n",
        t.header
            .iter()
            .map(|h| md(h))
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    o.push_str(&format!("|{}\n", "---|".repeat(t.header.len())));
    for r in &t.rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if Some(i) == t.status_col {
                    format!("**{}**", md(c))
                } else {
                    md(c)
                }
            })
            .collect();
        o.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    o.push('\n');
    o
}

const CSS: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1280px; color: #1d1d1f; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .3rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .86rem; width: 100%; }
th, td { border: 1px solid #d8d8d8; padding: .3rem .45rem; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
td.ok { background: #e3f4e3; font-weight: 600; } td.bad { background: #fbe3e0; font-weight: 600; } td.warn { background: #fdf1d8; font-weight: 600; } td.nm { background: #f1f1f1; color: #555; font-weight: 600; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; border: 1px solid #e5e5e5; padding: 4px; }
figure svg { display: block; }
pre { background: #fafafa; border: 1px solid #ddd; padding: 1rem; font-size: .95rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; font-size: .9rem; }
dl.meta dt { font-weight: 600; }
"#;

pub(crate) fn html(d: &Doc) -> String {
    let mut o = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    o.push_str(&format!(
        "<title>{}</title>\n<style>{CSS}</style></head><body>\n",
        esc(&d.title)
    ));
    o.push_str(&format!("<h1>{}</h1>\n<dl class=\"meta\">", esc(&d.title)));
    for (k, v) in &d.meta {
        o.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(k), esc(v)));
    }
    o.push_str("</dl>\n");
    for s in &d.sections {
        o.push_str(&format!(
            "<section id=\"{}\"><h2>{}</h2>\n",
            esc(s.id),
            esc(&s.title)
        ));
        for b in &s.blocks {
            match b {
                Block::Para(p) => o.push_str(&format!("<p>{}</p>\n", esc(p))),
                Block::Table(t) => o.push_str(&html_table(t)),
                Block::Charts(cs) => {
                    o.push_str("<div class=\"charts\">");
                    for (id, title, svg) in cs {
                        // The SVG is ours (plotters escapes its text); only its title and
                        // id, which may carry user strings, are escaped here.
                        o.push_str(&format!(
                            "<figure class=\"chart\" id=\"{}\" data-chart=\"{}\" aria-label=\"{}\">{}</figure>",
                            esc(id),
                            esc(id),
                            esc(title),
                            svg
                        ));
                    }
                    o.push_str("</div>\n");
                }
                Block::Pre(p) => o.push_str(&format!("<pre>{}</pre>\n", esc(p))),
            }
        }
        o.push_str("</section>\n");
    }
    o.push_str("</body></html>\n");
    o
}

fn html_table(t: &Table) -> String {
    let mut o = String::from("<table><thead><tr>");
    for h in &t.header {
        o.push_str(&format!("<th>{}</th>", esc(h)));
    }
    o.push_str("</tr></thead><tbody>");
    for r in &t.rows {
        o.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            if Some(i) == t.status_col {
                o.push_str(&format!(
                    "<td class=\"{}\">{}</td>",
                    Outcome::css_of(c),
                    esc(c)
                ));
            } else {
                o.push_str(&format!("<td>{}</td>", esc(c)));
            }
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::document::Section;

    #[test]
    fn user_strings_are_escaped_in_both_renderings() {
        let hostile = "<script>alert('x')</script> | a & b";
        let d = Doc {
            title: hostile.into(),
            meta: vec![("scenario".into(), hostile.into())],
            sections: vec![Section {
                id: "s",
                title: hostile.into(),
                blocks: vec![
                    Block::Para(hostile.into()),
                    Block::Table(Table {
                        header: vec!["h".into()],
                        rows: vec![vec![hostile.into()]],
                        status_col: None,
                    }),
                ],
            }],
        };
        let h = html(&d);
        assert!(!h.contains("<script>"), "{h}");
        assert!(h.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        let m = markdown(&d);
        assert!(!m.contains("<script>"));
        assert!(m.contains("\\|"), "a pipe must not split a table cell: {m}");
    }
}
