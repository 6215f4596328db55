//! `report.html`: one self-contained page per run — the job, the CPU, the curves, the
//! confusion matrix, per-class accuracy, update/weight ratios (when monitored), sample
//! predictions with their images and the per-epoch history. Every figure is an inline PNG
//! (`data:` URI) and the page loads nothing from the network, so it can be mailed or archived
//! as one file. A small inline script marks `<body data-images-loaded="k/n">` once the page
//! has loaded, for automated checks in a headless browser.

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;
use ndarray::Array3;

use crate::error::{Result, TrainError};
use crate::trainer::TrainReport;

/// One test image with the model's prediction, for the report's gallery.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplePrediction {
    /// The raw image, CHW in `[0, 1]` (1 or 3 channels).
    pub image: Array3<f32>,
    /// The true label.
    pub label: usize,
    /// The predicted label.
    pub predicted: usize,
    /// The predicted probability of `predicted`.
    pub probability: f32,
}

/// Everything a run report shows.
#[derive(Debug, Clone, Default)]
pub struct RunReport<'a> {
    /// The page title (e.g. the run folder).
    pub title: String,
    /// The job as TOML.
    pub config_toml: String,
    /// The training report.
    pub report: Option<&'a TrainReport>,
    /// Class names by label.
    pub class_names: Vec<String>,
    /// Figures: (caption, PNG bytes), in order.
    pub figures: Vec<(String, Vec<u8>)>,
    /// Update/weight ratio medians per parameter: (name, median, low flags, high flags).
    pub ratios: Vec<(String, f64, usize, usize)>,
    /// The gallery of test predictions.
    pub samples: Vec<SamplePrediction>,
}

/// The CPU model (`model name` of `/proc/cpuinfo`, else the architecture) and the number of
/// hardware threads.
pub fn cpu_description() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{model}, {threads} hardware threads")
}

/// `text` with `& < > " '` escaped for HTML.
pub fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c => s.push(c),
        }
    }
    s
}

/// A `data:image/png;base64,…` URI.
pub fn png_data_uri(png: &[u8]) -> String {
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}

/// A CHW image in `[0, 1]` (1 or 3 channels; others show their first channel) as PNG bytes.
pub fn image_png(image: &Array3<f32>) -> Result<Vec<u8>> {
    let (c, h, w) = image.dim();
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    let mut rgb = Vec::with_capacity(h * w * 3);
    for y in 0..h {
        for x in 0..w {
            for k in 0..3 {
                let ch = if c == 3 { k } else { 0 };
                rgb.push(byte(image[[ch, y, x]]));
            }
        }
    }
    let img = image::RgbImage::from_raw(w as u32, h as u32, rgb).expect("w·h·3 bytes");
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| TrainError::Plot {
            path: "<sample image>".into(),
            message: e.to_string(),
        })?;
    Ok(png)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;font-size:.9em}td,th{padding:.2em .7em;border-bottom:1px solid #eee;text-align:right}\
th:first-child,td:first-child{text-align:left}figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}\
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:.85em}.gallery{display:flex;flex-wrap:wrap;gap:.8em}\
.sample{width:120px;text-align:center;font-size:.8em}.sample img{width:96px;height:96px;image-rendering:pixelated;border:2px solid #3a3}\
.sample.wrong img{border-color:#c33}.wrong .pred{color:#c33;font-weight:bold}";

const SCRIPT: &str = "window.addEventListener('load',function(){var a=Array.prototype.slice.call(document.images);\
var ok=a.filter(function(i){return i.complete&&i.naturalWidth>0;}).length;\
document.body.setAttribute('data-images-loaded',ok+'/'+a.length);});";

fn pct(v: Option<f32>) -> String {
    v.map_or("-".into(), |v| format!("{:.1} %", 100.0 * v))
}

impl RunReport<'_> {
    /// The page.
    pub fn to_html(&self) -> Result<String> {
        let mut h = String::new();
        let title = escape(&self.title);
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title><style>{STYLE}</style></head>\n<body>\n<h1>{title}</h1>\n"
        );
        let _ = writeln!(h, "<p id=\"cpu\">CPU: {}</p>", escape(&cpu_description()));
        if let Some(r) = self.report {
            let seconds: f32 = r.history.iter().map(|e| e.seconds).sum();
            let rows = [
                ("test accuracy", format!("{:.4}", r.test_acc)),
                ("test loss", format!("{:.4}", r.test_loss)),
                (
                    "best epoch (kept snapshot)",
                    format!("{} of {}", r.best_epoch, r.history.len()),
                ),
                ("best validation accuracy", format!("{:.4}", r.best_val_acc)),
                ("kept weights", format!("{:?}", r.kept).to_lowercase()),
                ("parameters", r.parameters.to_string()),
                (
                    "initial validation loss (log C)",
                    format!("{:.4} ({:.4})", r.initial_val_loss, r.expected_initial_loss),
                ),
                ("training time", format!("{seconds:.1} s")),
            ];
            h.push_str("<h2>Summary</h2>\n<table id=\"summary\">\n");
            for (k, v) in rows {
                let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(&v));
            }
            h.push_str("</table>\n");
        }
        if !self.figures.is_empty() {
            h.push_str("<h2>Figures</h2>\n");
            for (i, (caption, png)) in self.figures.iter().enumerate() {
                let _ = writeln!(
                    h,
                    "<figure><img class=\"figure\" id=\"figure-{i}\" alt=\"{c}\" src=\"{}\"><figcaption>{c}</figcaption></figure>",
                    png_data_uri(png),
                    c = escape(caption)
                );
            }
        }
        if let Some(m) = self.report.and_then(|r| r.test_metrics.as_ref()) {
            h.push_str("<h2>Per-class accuracy (test split)</h2>\n<table id=\"per-class\">\n");
            h.push_str("<tr><th>class</th><th>images</th><th>accuracy</th><th>precision</th><th>most often mistaken for</th></tr>\n");
            for c in 0..m.num_classes() {
                let worst = m.confusion[c]
                    .iter()
                    .enumerate()
                    .filter(|&(p, &n)| p != c && n > 0)
                    .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
                    .map_or(String::new(), |(p, n)| format!("{} ({n})", m.classes[p]));
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&m.classes[c]),
                    m.support[c],
                    pct(m.per_class_accuracy[c]),
                    pct(m.per_class_precision[c]),
                    escape(&worst)
                );
            }
            h.push_str("</table>\n");
        }
        if !self.ratios.is_empty() {
            h.push_str("<h2>Update / weight ratios</h2>\n<p>Median ‖ΔW‖/‖W‖ over the sampled steps (target about 1e-3; flagged below 1e-4 or above 1e-2).</p>\n<table id=\"ratios\">\n<tr><th>parameter</th><th>median</th><th>low</th><th>high</th></tr>\n");
            for (name, median, low, high) in &self.ratios {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{median:.2e}</td><td>{low}</td><td>{high}</td></tr>",
                    escape(name)
                );
            }
            h.push_str("</table>\n");
        }
        if !self.samples.is_empty() {
            h.push_str("<h2>Sample predictions (test split; mistakes first)</h2>\n<div class=\"gallery\" id=\"samples\">\n");
            for s in &self.samples {
                let name = |l: usize| {
                    self.class_names
                        .get(l)
                        .cloned()
                        .unwrap_or_else(|| l.to_string())
                };
                let wrong = s.label != s.predicted;
                let _ = writeln!(
                    h,
                    "<div class=\"sample{}\"><img class=\"sample-image\" alt=\"true {t}\" src=\"{}\"><div class=\"pred\">{p} ({:.0} %)</div><div>true: {t}</div></div>",
                    if wrong { " wrong" } else { "" },
                    png_data_uri(&image_png(&s.image)?),
                    100.0 * s.probability,
                    p = escape(&name(s.predicted)),
                    t = escape(&name(s.label)),
                );
            }
            h.push_str("</div>\n");
        }
        if let Some(r) = self.report {
            h.push_str("<h2>History</h2>\n<table id=\"history\">\n<tr><th>epoch</th><th>lr</th><th>train loss</th><th>train acc</th><th>val loss</th><th>val acc</th><th>s</th></tr>\n");
            for e in &r.history {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{:.5}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.2}</td></tr>",
                    e.epoch, e.lr, e.train_loss, e.train_acc, e.val_loss, e.val_acc, e.seconds
                );
            }
            h.push_str("</table>\n");
        }
        let _ = write!(
            h,
            "<h2>Job</h2>\n<pre id=\"config\">{}</pre>\n<script>{SCRIPT}</script>\n</body></html>\n",
            escape(&self.config_toml)
        );
        Ok(h)
    }

    /// Writes the page to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::write_atomic(path, self.to_html()?.as_bytes())
    }
}

/// Up to `count` sample predictions of `model` on the first `scan` images of `dataset`:
/// mistakes first (at most half of `count`), then correct ones, each in data-set order.
pub fn sample_predictions(
    model: &dyn nn_core::Module,
    dataset: &dyn nn_data::Dataset,
    preprocess: &dyn nn_data::ImagePreprocessor,
    scan: usize,
    count: usize,
) -> Result<Vec<SamplePrediction>> {
    let n = scan.min(dataset.len());
    if n == 0 || count == 0 {
        return Ok(Vec::new());
    }
    let samples = (0..n)
        .map(|i| dataset.get(i))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let views: Vec<Array3<f32>> = samples
        .iter()
        .map(|s| preprocess.apply(s.image.clone()))
        .collect();
    let probs = crate::trainer::predict_proba(model, nn_augment::tta::stack_views(&views));
    let all: Vec<SamplePrediction> = samples
        .into_iter()
        .zip(probs.outer_iter())
        .map(|(s, p)| {
            let (predicted, probability) = p.iter().enumerate().fold(
                (0, f32::NEG_INFINITY),
                |b, (k, &v)| if v > b.1 { (k, v) } else { b },
            );
            SamplePrediction {
                image: s.image,
                label: s.label,
                predicted,
                probability,
            }
        })
        .collect();
    let (wrong, right): (Vec<_>, Vec<_>) = all.into_iter().partition(|s| s.label != s.predicted);
    let mut out: Vec<SamplePrediction> = wrong.into_iter().take(count / 2).collect();
    let rest = count - out.len();
    out.extend(right.into_iter().take(rest));
    Ok(out)
}

/// A report's figures read from a run folder: each `(file, caption)` that exists.
pub fn figures_from(dir: &Path, files: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    files
        .iter()
        .filter_map(|(file, caption)| {
            std::fs::read(dir.join(file))
                .ok()
                .map(|png| (caption.to_string(), png))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_encodes() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        // RFC 4648 test vector.
        assert!(png_data_uri(b"foobar").ends_with("Zm9vYmFy"));
        let img = Array3::from_shape_fn((1, 2, 3), |(_, y, x)| (y * 3 + x) as f32 / 5.0);
        let png = image_png(&img).unwrap();
        let back = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!((back.width(), back.height()), (3, 2));
        assert_eq!(back.get_pixel(2, 1).0, [255, 255, 255]);
    }

    #[test]
    fn the_page_is_self_contained() {
        let page = RunReport {
            title: "run <1>".into(),
            config_toml: "epochs = 3 # <b>".into(),
            figures: vec![("curves".into(), vec![1, 2, 3])],
            ..RunReport::default()
        }
        .to_html()
        .unwrap();
        assert!(page.contains("<title>run &lt;1&gt;</title>"));
        assert!(page.contains("epochs = 3 # &lt;b&gt;"));
        assert!(page.contains("src=\"data:image/png;base64,AQID\""));
        for needle in ["http://", "https://", "src=\"/", "<link"] {
            assert!(!page.contains(needle), "{needle}");
        }
    }
}
