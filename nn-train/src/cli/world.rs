//! The process's place in a data-parallel job: under `mpirun` (built with the `mpi` feature)
//! the MPI world, otherwise one process.

use nn_train::TrainError;
use nn_train::dist::Dist;

/// Number of processes the launcher started, from the environment of Open MPI's `mpirun`
/// (`OMPI_COMM_WORLD_SIZE`), or of MPICH/PMI launchers (`PMI_SIZE`).
fn launched_size() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
}

/// The world this process belongs to.
#[cfg(feature = "mpi")]
pub fn world() -> Result<Dist, TrainError> {
    use std::sync::Arc;
    if launched_size().is_none() {
        return Ok(Dist::single());
    }
    match nn_train::dist::mpi::MpiCollective::init()? {
        Some(world) => Ok(Dist::new(Arc::new(world))),
        None => Err(TrainError::Collective("MPI was already initialised".into())),
    }
}

/// The world this process belongs to: one process. Under a launcher that started several,
/// an error (each copy would train the whole job and write the same run folder).
#[cfg(not(feature = "mpi"))]
pub fn world() -> Result<Dist, TrainError> {
    match launched_size() {
        Some(n) if n > 1 => Err(TrainError::Collective(format!(
            "started as one of {n} MPI processes, but this nn-train was built without MPI; \
             build it with `cargo build --release -p nn-train --features mpi`"
        ))),
        _ => Ok(Dist::single()),
    }
}

/// Ends every rank at once after a panic on this one (which the ranks' agreement cannot
/// report); returns in a single process.
pub fn abort_others(dist: &Dist) {
    if dist.size() > 1 {
        eprintln!("error: rank {} panicked; stopping all ranks", dist.rank());
        #[cfg(feature = "mpi")]
        nn_train::dist::mpi::MpiCollective::abort(1);
    }
}

/// An error for the subcommands that do not run distributed.
pub fn single_only(dist: &Dist, command: &str) -> Result<(), TrainError> {
    if dist.size() > 1 {
        return Err(TrainError::Collective(format!(
            "`nn-train {command}` runs in one process; under mpirun only `train` and `tune` \
             run distributed"
        )));
    }
    Ok(())
}
