//! Hostile specs and sizes: strides, kernels, paddings, channel counts, image sides and
//! batch sizes beyond what fits, through `shapes`, `train`, `eval` and `predict`. Each is a
//! clean run or a one-line error with status 2; none panics, hangs or takes memory in
//! proportion to a number it was given rather than to the work asked. A property test
//! generates valid and invalid specs: valid ones build with the sizes `shapes` gives, and
//! invalid ones are exit-2 errors.

use crate::common;

use std::time::Duration;

use layers::Module;
use models::arch::Arch;
use models::shapes::{ShapeRow, plan_table};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

use common::shapes::write_folder;
use common::{Measured, Scratch, lenet5, lenet5_command, measured, s};

/// The synthetic 12×12 IDX folder of 3 classes, in `scratch`.
fn data(scratch: &Scratch) -> std::path::PathBuf {
    let dir = scratch.join("data");
    std::fs::create_dir_all(&dir).unwrap();
    write_folder(&dir);
    dir
}

/// `lenet5 args…`, measured, killed after `deadline`.
fn run(args: &[&str], deadline: u64) -> Measured {
    measured(lenet5_command(args), Duration::from_secs(deadline))
}

/// Found 1: a stride of `u64::MAX` panicked `train` (capacity overflow), `eval` and
/// `predict` of its checkpoint. It gives one output position: the run trains, and its
/// checkpoint evaluates and predicts.
#[test]
fn a_stride_of_u64_max_trains_evaluates_and_predicts() {
    let scratch = Scratch::new("stride-max");
    let data = data(&scratch);
    let out = scratch.join("w.safetensors");
    let spec = "conv(8,3,s=18446744073709551615) flatten linear(10)";
    let shapes = run(&["shapes", "--arch", spec, "--input", "1,12,12"], 30);
    shapes.run.assert_ok("shapes");
    assert!(shapes.run.stdout.contains("64×8×1×1"), "{}", shapes.run.stdout);
    let train = run(&["train", "--arch", spec, "--data", s(&data), "--out", s(&out), "--max-steps", "3"], 120);
    train.run.assert_ok("train");
    assert!(train.peak_mib < 300, "train peaked at {} MiB", train.peak_mib);
    lenet5(&["eval", "--checkpoint", s(&out)]).assert_ok("eval");
    let png = scratch.join("digit.png");
    image::GrayImage::from_fn(12, 12, |x, y| image::Luma([((x * 20 + y) % 256) as u8])).save(&png).unwrap();
    let predict = lenet5(&["predict", "--checkpoint", s(&out), s(&png)]);
    predict.assert_ok("predict");
    assert!(predict.stdout.starts_with(s(&png)), "{}", predict.stdout);
}

/// Found 2: `s=4611686018427387904` spun for 11 minutes in the phase loop over
/// `0..stride`; `s=4294967296` aborted on an allocation; `s=1000000` trained in 880 MB. The
/// stride no longer sizes a loop or a buffer: each trains in seconds and little memory.
#[test]
fn huge_strides_train_in_seconds_and_little_memory() {
    let scratch = Scratch::new("stride-huge");
    let data = data(&scratch);
    for stride in ["4611686018427387904", "4294967296", "1000000"] {
        let out = scratch.join(&format!("s{stride}.safetensors"));
        let spec = format!("conv(8,3,s={stride},p=1) relu flatten linear(3)");
        let m = run(&["train", "--arch", &spec, "--data", s(&data), "--out", s(&out), "--max-steps", "4"], 120);
        assert!(!m.timed_out, "s={stride}: still running after {:.0} s", m.seconds);
        m.run.assert_ok(&format!("s={stride}"));
        println!("s={stride}: {:.1} s, peak {} MiB", m.seconds, m.peak_mib);
        assert!(m.peak_mib < 200, "s={stride}: peak {} MiB", m.peak_mib);
    }
}

/// Found 3: sizes checked before anything is allocated. `shapes` of networks of 313 GB,
/// 31 GB and 2.7 TB aborted (134) building their weights; now it prints the table and the
/// estimate from shapes alone, in little memory; `train` of them is refused with the
/// estimate (status 2), before allocating, and writes nothing.
#[test]
fn networks_too_large_for_the_machine_are_refused_before_allocating() {
    let scratch = Scratch::new("too-large");
    for (spec, input) in [
        ("flatten linear(100000000)", "1,28,28"),
        ("flatten linear(1000000)", "1,28,28"),
        ("conv(1000000,1) flatten linear(10)", "1,28,28"),
        ("conv(4096,11)", "3,4096,4096"),
    ] {
        let m = run(&["shapes", "--arch", spec, "--input", input], 30);
        m.run.assert_ok(spec);
        assert!(m.peak_mib < 64 && m.seconds < 5.0, "{spec}: {} MiB, {:.1} s", m.peak_mib, m.seconds);
        assert!(m.run.stdout.contains("training at batch 64"), "{spec}: {}", m.run.stdout);
    }
    // The 1.55 TB im2col network on a 3×512×512 image folder: refused before training.
    let folder = scratch.join("big-images");
    for (split, class) in [("train", "a"), ("train", "b"), ("test", "a")] {
        let dir = folder.join(split).join(class);
        std::fs::create_dir_all(&dir).unwrap();
        let img = image::RgbImage::from_fn(512, 512, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
        });
        img.save(dir.join("x.png")).unwrap();
    }
    let out = scratch.join("big.safetensors");
    let spec = "conv(4096,11) relu maxpool(502) flatten linear(2)";
    let m = run(&["train", "--arch", spec, "--data", s(&folder), "--out", s(&out)], 60);
    m.run.assert_one_line_error("conv(4096,11) on 512×512", 2, &["needs ≈", "TiB", "over the memory budget"]);
    assert!(m.peak_mib < 64, "peak {} MiB", m.peak_mib);
    let m = run(&["train", "--arch", "flatten linear(100000000)", "--data", s(&folder), "--out", s(&out)], 60);
    m.run.assert_one_line_error("linear(100000000)", 2, &["parameters", "over the memory budget"]);
    // A budget given: what fits under the machine's half is refused under a smaller one.
    let data = data(&scratch);
    let m =
        run(&["train", "--data", s(&data), "--arch", "flatten linear(3)", "--out", s(&out), "--max-memory", "64K"], 60);
    m.run.assert_one_line_error("--max-memory 64K", 2, &["64.0 KiB (--max-memory)"]);
    assert!(!out.exists() && !scratch.join("big.state.safetensors").exists());
}

/// Found 5: sizes that overflowed 64 bits were printed wrapped (a batch of `u64::MAX`
/// made 18446744073709548480 bytes; an input of 3×2³²×2³² made 0). They are errors now.
#[test]
fn sizes_that_overflow_are_errors_not_wrapped_numbers() {
    for (args, needles) in [
        (vec!["shapes", "--batch-size", "18446744073709551615"], vec!["--batch-size", "more bytes"]),
        (
            vec!["shapes", "--arch", "flatten linear(10)", "--input", "3,4294967296,4294967296"],
            vec!["3×4294967296×4294967296"],
        ),
        (vec!["shapes", "--arch", "conv(4,3,p=9223372036854775807) flatten linear(2)"], vec!["layer 1", "padding"]),
        (vec!["shapes", "--arch", "conv(4294967296,4294967296)", "--input", "4294967296,8,8"], vec!["layer 1"]),
        (vec!["shapes", "--arch", "linear(18446744073709551615)", "--input", "1,1,1"], vec!["layer 1"]),
        (vec!["shapes", "--arch", "flatten linear(4294967296) linear(4294967296)"], vec!["layer 3"]),
        (vec!["shapes", "--arch", "leakyrelu(1e39) flatten linear(10)"], vec!["layer 1", "32-bit"]),
        (vec!["shapes", "--arch", "maxpool(2) flatten"], vec!["no parameter"]),
    ] {
        let run = lenet5(&args);
        run.assert_one_line_error(&format!("{args:?}"), 2, &needles);
    }
    // At the edge of what counts, the numbers are exact.
    let run =
        lenet5(&["shapes", "--arch", "flatten linear(1)", "--input", "1,1,1", "--batch-size", "1152921504606846975"]);
    run.assert_ok("a batch of 2⁶⁰ − 1");
    assert!(run.stdout.contains("4611686018427387900"), "{}", run.stdout);
}

/// Rows as `shapes` compares them: layer, shape, bytes, source bytes (the text differs:
/// the built modules describe themselves, the plan writes the spec).
fn sizes(rows: &[ShapeRow]) -> Vec<(String, Vec<usize>, usize, Option<usize>)> {
    rows.iter().map(|r| (r.layer.clone(), r.shape.clone(), r.bytes, r.source_bytes)).collect()
}

/// A number as a spec writes it: mostly small, sometimes 0, huge, or not a number.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (1usize..=5).prop_map(|n| n.to_string()),
        2 => (6usize..=40).prop_map(|n| n.to_string()),
        1 => Just("0".to_string()),
        2 => prop::sample::select(vec![
            "4294967296",
            "4611686018427387904",
            "18446744073709551615",
            "100000000",
            "18446744073709551616",
            "-1",
            "x",
            "2.5",
        ])
        .prop_map(String::from),
    ]
}

fn fraction() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["0.5", "0", "1", "0.01", "1e39", "3e38", "-0.2", "NaN", "2", "inf"])
        .prop_map(String::from)
}

fn window_args() -> impl Strategy<Value = String> {
    (prop::option::of(number()), prop::option::of(number())).prop_map(|(s, p)| {
        let mut t = String::new();
        if let Some(s) = s {
            t += &format!(",s={s}");
        }
        if let Some(p) = p {
            t += &format!(",p={p}");
        }
        t
    })
}

/// One layer's text, valid or not.
fn layer() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (number(), number(), window_args()).prop_map(|(o, k, w)| format!("conv({o},{k}{w})")),
        3 => (prop::bool::ANY, number(), window_args())
            .prop_map(|(max, k, w)| format!("{}({k}{w})", if max { "maxpool" } else { "avgpool" })),
        3 => number().prop_map(|o| format!("linear({o})")),
        4 => prop::sample::select(vec!["relu", "tanh", "sigmoid", "flatten", "batchnorm", "leakyrelu"]).prop_map(String::from),
        2 => (prop::bool::ANY, fraction()).prop_map(|(d, f)| format!("{}({f})", if d { "dropout" } else { "leakyrelu" })),
        1 => prop::sample::select(vec!["rleu", "conv(", "linear(3))", "lenet5 relu", "conv(8,3,q=1)", "relu(2)", ""]).prop_map(String::from),
    ]
}

/// A well-formed feature layer with small numbers (it may still not fit its input).
fn feature() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (1usize..=8, 1usize..=3, 1usize..=2, 0usize..=1)
            .prop_map(|(o, k, s, p)| format!("conv({o},{k},s={s},p={p})")),
        2 => (prop::bool::ANY, 2usize..=3, 1usize..=2, 0usize..=1)
            .prop_map(|(max, k, s, p)| format!("{}({k},s={s},p={p})", if max { "maxpool" } else { "avgpool" })),
        3 => prop::sample::select(vec!["relu", "tanh", "sigmoid", "batchnorm", "leakyrelu(0.2)", "dropout(0.3)"])
            .prop_map(String::from),
    ]
}

/// A spec: mostly the shape of a CNN (well-formed feature layers, flatten, linear layers),
/// one layer of which may be replaced by any layer; sometimes any sequence of layers.
fn spec() -> impl Strategy<Value = String> {
    let cnn = (
        prop::collection::vec(feature(), 0..5),
        prop::collection::vec((1usize..=16).prop_map(|o| format!("linear({o}) relu")), 0..2),
        1usize..=12,
        prop::option::weighted(0.4, (any::<prop::sample::Index>(), layer())),
    )
        .prop_map(|(features, head, classes, mutation)| {
            let mut layers = features;
            layers.push("flatten".into());
            layers.extend(head);
            layers.push(format!("linear({classes})"));
            if let Some((at, other)) = mutation {
                let i = at.index(layers.len());
                layers[i] = other;
            }
            layers.join(" ")
        });
    prop_oneof![4 => cnn, 1 => prop::collection::vec(layer(), 1..7).prop_map(|l| l.join(" "))]
}

fn input() -> impl Strategy<Value = [usize; 3]> {
    prop_oneof![
        6 => (1usize..=3, 4usize..=24, 4usize..=24).prop_map(|(c, h, w)| [c, h, w]),
        1 => prop::sample::select(vec![[3, 4096, 4096], [1, 1 << 32, 1 << 32], [1 << 40, 2, 2], [usize::MAX, 1, 1]]),
    ]
}

fn batch() -> impl Strategy<Value = usize> {
    prop_oneof![6 => 1usize..=256, 1 => prop::sample::select(vec![1 << 40, usize::MAX / 3, usize::MAX])]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Valid specs build, with the sizes the shapes table gives from shapes alone equal
    /// to those of the built network; invalid ones are `SpecError`s in process and
    /// one-line exit-2 errors from `lenet5 shapes`; nothing panics.
    #[test]
    fn specs_build_with_the_planned_sizes_or_are_exit_2_errors(text in spec(), input in input(), batch in batch()) {
        let planned = text.parse::<Arch>().and_then(|arch| {
            let plan = arch.plan(input, None)?;
            Ok((arch, plan.clone(), plan_table(&plan, batch)?))
        });
        let [c, h, w] = input;
        let dims = format!("{c},{h},{w}");
        let batch_text = batch.to_string();
        let cli = lenet5(&["shapes", "--arch", &text, "--input", &dims, "--batch-size", &batch_text]);
        cli.assert_no_panic(&text);
        match planned {
            Err(e) => {
                prop_assert_eq!(cli.code, Some(2), "{} on {:?}: {}", text, input, cli.stderr);
                prop_assert_eq!(cli.stderr_lines().len(), 1, "{}", cli.stderr);
                if let Some(p) = e.position {
                    let needle = format!("layer {p}");
                    prop_assert!(cli.stderr.contains(&needle), "{}: {}", e, cli.stderr);
                }
            }
            Ok((arch, plan, table)) => {
                prop_assert_eq!(cli.code, Some(0), "{} on {:?}: {}", text, input, cli.stderr);
                let estimate = models::memory::MemoryEstimate::of(
                    &plan,
                    models::memory::Workload::Inference { batch: 1, threads: 1 },
                );
                if estimate.total() < 32 << 20 && batch <= 256 {
                    let layers = arch.layers();
                    let net = models::arch::build_layers::<f32, _>(layers, input, None, &mut StdRng::seed_from_u64(1))
                        .map_err(|e| TestCaseError::fail(format!("{text}: planned but {e}")))?;
                    prop_assert_eq!(net.num_parameters(), plan.parameters());
                    let built = sequential_table(&net, input, batch).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(sizes(&built), sizes(&table), "{}", text);
                }
            }
        }
    }
}

/// The table of a built [`Sequential`](layers::Sequential) for a batch of `n` inputs of
/// `input = [C, H, W]`, from each module's own matrices ([`MatrixForm`](layers::MatrixForm))
/// and output shape: the reference the planned table is checked against.
fn sequential_table(net: &layers::Sequential<f32>, input: [usize; 3], n: usize) -> layers::Result<Vec<ShapeRow>> {
    let row = |layer: &str, what: String, shape: Vec<usize>, source_bytes: Option<usize>| {
        let bytes = shape.iter().product::<usize>() * 4;
        ShapeRow { layer: layer.to_string(), what, shape, bytes, source_bytes }
    };
    let mut shape = vec![n, input[0], input[1], input[2]];
    let mut rows = vec![row("input", "x".into(), shape.clone(), None)];
    for (name, layer) in net.named_layers() {
        let out = layer.output_shape(&shape)?;
        let numel: usize = shape.iter().product();
        for (what, matrix) in layer.matrix_shapes(&shape) {
            let copied = (what.contains("im2col") || what == "windows").then_some(numel * 4);
            rows.push(row(name, what, matrix, copied));
        }
        rows.push(row(name, format!("output of {}", layer.describe()), out.clone(), None));
        shape = out;
    }
    Ok(rows)
}
