//! `lenet5 shapes`: every layer output and derivation matrix, with its bytes, for a batch.

use models::arch::{Arch, build_layers};
use models::{LeNet5, shapes};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::{Failure, parse_input};

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
    let mut rng = StdRng::seed_from_u64(0);
    let rows = match &arch {
        Arch::LeNet5 => {
            if let Some(input) = &args.input
                && parse_input(input)? != [1, 32, 32]
            {
                return Err(Failure::Usage(format!("--input {input}: LeNet-5 takes 1,32,32")));
            }
            shapes::table(&LeNet5::new(&mut rng)?, args.batch_size)?
        }
        Arch::Layers(layers) => {
            let input = parse_input(args.input.as_deref().unwrap_or("1,28,28"))?;
            let net = build_layers::<f32, _>(layers, input, None, &mut rng)
                .map_err(|e| Failure::Usage(format!("--arch: {e}")))?;
            shapes::sequential_table(&net, input, args.batch_size)?
        }
    };
    print!("{}", shapes::render(&rows));
    Ok(())
}
