//! `nn-train lab regularize`: one job with each regulariser in turn, the train/validation gap,
//! and the test-time rule against Monte-Carlo averaging.

use std::path::PathBuf;

use nn_train::lab::regularize::lab_job;
use nn_train::lab::regularize_plot::{plot_regularize, run_label};
use nn_train::lab::{RegularizeLabConfig, Regularizer, run_regularize_lab};
use nn_train::write_atomic;

use super::{CliResult, Overrides, load_config};

/// The lecture's regularisers side by side: the job is trained with none, then with each of L2,
/// L1, dropout, DropConnect, stochastic depth, cutout, mixup, fractional max pooling and
/// augmentation in turn (the job's own setting of each when it has one, else the lab's), and
/// the gap between clean-training and validation accuracy is drawn per epoch
/// (regularize_curves.png) and at the end (regularize_gap.png). For dropout, DropConnect,
/// stochastic depth and fractional pooling, the test-time rule is compared with averaging K
/// random masks or region draws (regularize_mc.png). Stochastic depth and fractional pooling
/// run on a small ResNet / CNN when the job's model has no residual blocks / pooling stages.
/// Writes regularize.json; prints a verdict.
#[derive(clap::Args)]
pub struct Args {
    /// The job (TOML); omitted: the lab's job (the digits MLP on 300 training images, 40
    /// epochs, so that it overfits).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    overrides: Overrides,
    /// Regularisers to train (comma-separated): none, l2, l1, dropout, dropconnect,
    /// stochastic_depth, cutout, mixup, fractional_pool, augment.
    #[arg(long, value_delimiter = ',')]
    regularizers: Option<Vec<String>>,
    /// The main knob of a regulariser, e.g. `--strength dropout=0.3` (repeatable): λ for l2/l1,
    /// p for dropout/dropconnect, p_L for stochastic_depth, the square's side for cutout, α for
    /// mixup, the size ratio for fractional_pool, the crop's padding for augment.
    #[arg(long = "strength", value_name = "NAME=VALUE")]
    strengths: Vec<String>,
    /// The largest number K of masks (region draws) averaged at test time; 0 skips the
    /// comparison.
    #[arg(long, default_value_t = 32)]
    mc_draws: usize,
    /// Skip regularisers the job's model cannot take instead of training them on the lab's
    /// small CNN / ResNet.
    #[arg(long)]
    no_other_models: bool,
    /// Output directory.
    #[arg(long, default_value = "lab-regularize")]
    out: PathBuf,
}

fn parse_reg(s: &str, flag: &str) -> Result<Regularizer, String> {
    Regularizer::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Regularizer::ALL.iter().map(|r| r.name()).collect();
        format!(
            "{flag}: unknown regulariser `{s}` (expected one of {})",
            names.join(", ")
        )
    })
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let mut job = match &args.config {
        Some(_) => load_config(args.config.as_deref())?,
        None => lab_job(),
    };
    args.overrides.apply(&mut job)?;
    let mut cfg = RegularizeLabConfig {
        max_draws: args.mc_draws,
        other_models: !args.no_other_models,
        ..RegularizeLabConfig::default()
    };
    if let Some(list) = &args.regularizers {
        cfg.regularizers = list
            .iter()
            .map(|s| parse_reg(s, "--regularizers"))
            .collect::<Result<_, _>>()?;
    }
    for s in &args.strengths {
        let (name, v) = s
            .split_once('=')
            .ok_or_else(|| format!("--strength {s}: expected NAME=VALUE, e.g. dropout=0.3"))?;
        let reg = parse_reg(name, "--strength")?;
        let v: f64 = v
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("--strength {s}: expected a number >= 0"))?;
        cfg.strengths.push((reg, v));
    }
    std::fs::create_dir_all(&args.out)?;
    let report = run_regularize_lab(&job, &cfg, &mut |run| match (run.last(), &run.error) {
        (Some(e), None) => println!(
            "{:<16} {:<6} train {:.4}  val {:.4}  gap {:+.4}  test {:.4}  {}",
            run.regularizer.name(),
            run.model,
            e.train_acc,
            e.val_acc,
            e.train_acc - e.val_acc,
            run.test_acc,
            run.setting
        ),
        (_, Some(err)) => println!("{:<16} {:<6} {err}", run.regularizer.name(), run.model),
        (None, None) => println!("{:<16} {:<6} no epoch", run.regularizer.name(), run.model),
    })?;
    for run in &report.runs {
        if let Some(mc) = &run.mc {
            let points: Vec<String> = mc
                .points
                .iter()
                .map(|p| format!("K={} {:.4}", p.draws, p.acc))
                .collect();
            println!(
                "{}: {} {:.4}; {}",
                run_label(&report, run),
                mc.rule,
                mc.rule_acc,
                points.join(", ")
            );
        }
    }
    println!();
    for line in &report.verdict {
        println!("{line}");
    }
    for p in plot_regularize(&args.out, &report)? {
        println!("wrote {}", p.display());
    }
    let text = serde_json::to_string_pretty(&report)?;
    write_atomic(&args.out.join("regularize.json"), text.as_bytes())?;
    println!("wrote {}/regularize.json", args.out.display());
    Ok(())
}
