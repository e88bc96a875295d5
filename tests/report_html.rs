//! The approval report rendered by a real browser: `report.html` built from the
//! example results (a real run on local stores) is opened in headless Chromium, which
//! must parse every chart, and each chart is rasterised and checked for the series
//! colours its data draws. The full-page PNG is kept in `reports/out/report-check/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use archbench::report::{Report, ReportInputs};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chromium() -> PathBuf {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(o) = Command::new("which").arg(c).output()
            && o.status.success()
        {
            return PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        }
    }
    panic!("no chromium on PATH: run scripts/setup (it installs Debian's `chromium`)");
}

fn headless(args: &[&str]) -> std::process::Output {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .args(args)
        .output()
        .expect("chromium starts");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// RGB pixels of a PNG.
fn decode(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    let px = buf[..info.buffer_size()]
        .chunks(step)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    (info.width, info.height, px)
}

fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (*x as i32 - y as i32).abs() <= 24)
}

const ORANGE: [u8; 3] = [0xd6, 0x5f, 0x3e];
const BLUE: [u8; 3] = [0x2a, 0x7a, 0xb9];

#[test]
fn every_chart_of_the_report_renders_in_chromium_with_its_data() {
    let out = root().join("reports/out/report-check");
    let _ = std::fs::remove_dir_all(&out);
    let example = root().join("reports/example/results.json");
    let report = Report::build(&ReportInputs::defaults(&root(), example)).unwrap();
    let paths = report.write(&out).unwrap();
    let html = std::fs::read_to_string(&paths.html).unwrap();

    // Self-contained: nothing is fetched.
    for forbidden in ["<script", "<link", "@import", "<img"] {
        assert!(
            !html.contains(forbidden),
            "report.html must not contain {forbidden}"
        );
    }
    // Price sources are printed as text; no element may load them.
    for attr in ["src=\"http", "href=\"http", "url(http"] {
        assert!(
            !html.contains(attr),
            "report.html loads from the network: {attr}"
        );
    }

    let mut expected: Vec<String> = [
        "create", "update", "get", "list", "search", "history", "activity",
    ]
    .iter()
    .map(|o| format!("latency-{o}"))
    .collect();
    expected.push("storage".into());
    for u in [1_000, 10_000, 100_000, 1_000_000] {
        expected.push(format!("cost-{u}"));
    }
    expected.push("lag".into());
    expected.push("growth".into());
    expected.push("tornado".into());

    // Chromium parses the page and every chart in it.
    let dom = headless(&["--dump-dom", &format!("file://{}", paths.html.display())]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    for id in &expected {
        let at = dom
            .find(&format!("data-chart=\"{id}\""))
            .unwrap_or_else(|| panic!("chart {id} missing from the DOM"));
        let rest = &dom[at..];
        let fig = &rest[..rest.find("</figure>").expect("figure closes")];
        assert!(
            fig.contains("<svg")
                && fig.matches("<rect").count() + fig.matches("<polyline").count() >= 3,
            "chart {id} is empty"
        );
    }
    for section in ["claims", "go-no-go", "checklist", "signature"] {
        assert!(dom.contains(&format!("id=\"{section}\"")), "{section}");
    }

    // The whole page, kept for review.
    let full = out.join("report.png");
    headless(&[
        "--window-size=1300,9000",
        &format!("--screenshot={}", full.display()),
        &format!("file://{}", paths.html.display()),
    ]);
    let (w, h, px) = decode(&full);
    assert!(w >= 1300 && h >= 9000);
    assert!(px.iter().any(|p| near(*p, ORANGE)) && px.iter().any(|p| near(*p, BLUE)));

    // Each chart alone at a known place on one page, rasterised, its region checked.
    let mut page = String::from("<!DOCTYPE html><html><body style=\"margin:0;background:#fff\">");
    let mut regions = Vec::new();
    let mut top = 0u32;
    for id in &expected {
        let at = html.find(&format!("data-chart=\"{id}\"")).unwrap();
        let svg_at = at + html[at..].find("<svg").unwrap();
        let svg_end = svg_at + html[svg_at..].find("</svg>").unwrap() + "</svg>".len();
        let svg = &html[svg_at..svg_end];
        let dim = |name: &str| -> u32 {
            let k = svg.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            svg[k..k + svg[k..].find('"').unwrap()].parse().unwrap()
        };
        let (cw, ch) = (dim("width"), dim("height"));
        page.push_str(&format!(
            "<div style=\"position:absolute;left:0;top:{top}px\">{svg}</div>"
        ));
        regions.push((id.clone(), top, cw, ch));
        top += ch + 10;
    }
    page.push_str("</body></html>");
    let page_path = out.join("charts.html");
    std::fs::write(&page_path, page).unwrap();
    let shot = out.join("charts.png");
    headless(&[
        &format!("--window-size=700,{top}"),
        &format!("--screenshot={}", shot.display()),
        &format!("file://{}", page_path.display()),
    ]);
    let (w, _, px) = decode(&shot);
    for (id, top, cw, ch) in regions {
        let mut ink = 0usize;
        let (mut orange, mut blue) = (0usize, 0usize);
        for y in top..top + ch {
            for x in 0..cw.min(w) {
                let p = px[(y * w + x) as usize];
                if p.iter().any(|c| *c < 235) {
                    ink += 1;
                }
                orange += near(p, ORANGE) as usize;
                blue += near(p, BLUE) as usize;
            }
        }
        let area = (cw * ch) as usize;
        assert!(ink * 100 > area, "chart {id}: {ink} inked pixels of {area}");
        // Series colours: both systems' curves, both stores' bars, the cost components;
        // the lag chart's one segment is the first colour. A legend swatch alone is at
        // most 11 × 11 px: 200 px of the first colour means data was drawn.
        assert!(
            orange > 200,
            "chart {id}: first series not drawn ({orange} px)"
        );
        if id != "lag" {
            assert!(blue > 40, "chart {id}: second series not drawn ({blue} px)");
        }
    }
}
