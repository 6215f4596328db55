//! `nn-train lab optimizers`: optimizer paths on 2-D functions, and loss curves on a job.

use std::path::PathBuf;

use nn_train::lab::optimizers::{Method, run_surface, surfaces};
use nn_train::lab::optimizers_job::{job_verdict, pick_lr, run_job_curve};
use nn_train::lab::optimizers_plot::{plot_job, plot_surfaces};
use nn_train::write_atomic;

use super::{CliResult, Overrides, load_config};

/// The lecture's optimizers side by side: SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam and
/// L-BFGS on the Rosenbrock function, a saddle and an ill-conditioned quadratic (paths on
/// contour plots: optimizers_paths.png; f - min f per step: optimizers_2d_loss.png), then each
/// of them training a real job (default: the digits job; loss and validation accuracy curves:
/// optimizers_job.png; L-BFGS full-batch with the job's noise switched off). Writes optimizers.json; prints a verdict per surface and for
/// the job.
#[derive(clap::Args)]
pub struct Args {
    /// The job for the loss curves (TOML); omitted: the default digits job.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    overrides: Overrides,
    /// Methods to run (comma-separated): sgd, momentum, nesterov, adagrad, rmsprop, adam, lbfgs.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "sgd,momentum,nesterov,adagrad,rmsprop,adam,lbfgs"
    )]
    methods: Vec<String>,
    /// Learning rate of a method on the job, e.g. `--lr adam=3e-3` (repeatable).
    #[arg(long = "lr", value_name = "METHOD=LR")]
    lrs: Vec<String>,
    /// On the job, use each method's LR range test suggestion (`nn-train lr-find`) instead of
    /// its default rate.
    #[arg(long)]
    lr_find: bool,
    /// Skip the 2-D functions.
    #[arg(long)]
    no_2d: bool,
    /// Skip the job.
    #[arg(long)]
    no_job: bool,
    /// Output directory.
    #[arg(long, default_value = "lab-optimizers")]
    out: PathBuf,
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let methods = args
        .methods
        .iter()
        .map(|m| Method::parse(m.trim()).ok_or_else(|| format!("--methods: unknown method `{m}`")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut lrs = Vec::new();
    for s in &args.lrs {
        let (m, v) = s
            .split_once('=')
            .ok_or_else(|| format!("--lr {s}: expected METHOD=LR, e.g. adam=1e-3"))?;
        let m = Method::parse(m.trim()).ok_or_else(|| format!("--lr {s}: unknown method `{m}`"))?;
        let v: f64 = v
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v > 0.0)
            .ok_or_else(|| format!("--lr {s}: expected a positive number"))?;
        lrs.push((m, v));
    }
    let mut json = serde_json::Map::new();
    if !args.no_2d {
        let surfaces = surfaces();
        let mut reports = Vec::new();
        for s in &surfaces {
            let r = run_surface(s, &methods)?;
            println!("{}", r.verdict);
            reports.push(r);
        }
        for p in plot_surfaces(&args.out, &surfaces, &reports)? {
            println!("wrote {}", p.display());
        }
        json.insert("surfaces".into(), serde_json::to_value(&reports)?);
    }
    if !args.no_job {
        let mut job = load_config(args.config.as_deref())?;
        args.overrides.apply(&mut job)?;
        let mut curves = Vec::new();
        for &m in &methods {
            let given = lrs.iter().find(|(x, _)| *x == m).map(|(_, v)| *v);
            let lr = pick_lr(&job, m, given, args.lr_find)?;
            let c = match run_job_curve(&job, m, lr) {
                Ok(c) => c,
                Err(e) => {
                    println!("job, {:<9} not run: {e}", m.name());
                    continue;
                }
            };
            let best = c.epochs.iter().map(|e| e.val_acc).fold(0.0f32, f32::max);
            match &c.error {
                None => println!(
                    "job, {:<9} lr {lr:<9.2e} {} epochs, best val acc {best:.4}, test acc {:.4}",
                    m.name(),
                    c.epochs.len(),
                    c.test_acc.unwrap_or(f32::NAN)
                ),
                Some(e) => println!("job, {:<9} lr {lr:<9.2e} {e}", m.name()),
            }
            curves.push(c);
        }
        if !curves.is_empty() {
            println!("{}", job_verdict(&curves));
            println!("wrote {}", plot_job(&args.out, &curves)?.display());
        }
        json.insert("job".into(), serde_json::to_value(&curves)?);
    }
    let text = serde_json::to_string_pretty(&json)?;
    write_atomic(&args.out.join("optimizers.json"), text.as_bytes())?;
    println!("wrote {}/optimizers.json", args.out.display());
    Ok(())
}
