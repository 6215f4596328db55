//! `nn-train digits-folder`: the embedded digits as an image folder, to try `image_folder`.

use std::path::PathBuf;

use nn_train::image_source::write_digits_folder;

use super::CliResult;

/// Write the embedded UCI digits as an image folder (DIR/{train,val,test}/<digit>/*.png, 8x8
/// grayscale), the data of `jobs/image-folder.toml`. Does nothing if DIR exists.
#[derive(clap::Args)]
pub struct Args {
    /// The folder to create.
    #[arg(long, default_value = "target/digits-folder")]
    out: PathBuf,
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let existed = args.out.is_dir();
    write_digits_folder(&args.out)?;
    if existed {
        println!("{} exists already; left as it is", args.out.display());
    } else {
        println!(
            "wrote {}/{{train,val,test}}/<digit>/*.png",
            args.out.display()
        );
    }
    Ok(())
}
