//! `lenet5 shapes`: every layer output and derivation matrix, with its bytes, for a batch,
//! and the memory training it would take; from shapes alone (no weight is built).

use models::arch::Arch;
use models::memory::{MemoryEstimate, Workload};
use models::shapes;

use crate::{Failure, default_threads, parse_input};

#[derive(clap::Args)]
pub struct ShapesArgs {
    /// Images in the batch.
    #[arg(long, default_value_t = 64, allow_negative_numbers = true)]
    batch_size: usize,
    /// The network: `lenet5` or a spec such as "conv(16,3,p=1) relu maxpool(2) flatten linear(10)".
    #[arg(long, default_value = "lenet5", value_name = "SPEC")]
    arch: String,
    /// One input's shape after preprocessing, C,H,W (default: 1,32,32 for lenet5, else 1,28,28).
    #[arg(long, value_name = "C,H,W")]
    input: Option<String>,
}

pub fn run(args: ShapesArgs) -> Result<(), Failure> {
    if args.batch_size == 0 {
        return Err(Failure::Usage("--batch-size must be at least 1".into()));
    }
    let arch: Arch = args.arch.parse().map_err(|e| Failure::Usage(format!("--arch: {e}")))?;
    fn usage(flag: &'static str) -> impl Fn(models::arch::SpecError) -> Failure {
        move |e| Failure::Usage(format!("{flag}: {e}"))
    }
    let input = args.input.as_deref().map_or(Ok(arch.default_input()), parse_input)?;
    let plan = arch.plan(input, None).map_err(usage("--arch"))?;
    let rows = shapes::plan_table(&plan, args.batch_size).map_err(usage("--batch-size"))?;
    print!("{}", shapes::render(&rows));
    let threads = default_threads();
    let workload = Workload::Training { batch: args.batch_size, threads, optimizer_buffers: 1 };
    println!(
        "\ntraining at batch {} (SGD with momentum, {threads} thread(s)): {}",
        args.batch_size,
        MemoryEstimate::of(&plan, workload)
    );
    Ok(())
}
