//! Resuming in process, on synthetic data (no MNIST needed): a run stopped after any step,
//! saved to a state file, read back into a new trainer and continued, ends with the same
//! weights, optimizer state and epoch metrics, bit for bit, as the run straight through;
//! and a state file that lacks or mangles an entry is refused with a typed error naming
//! the file and the entry.

use crate::resume_support;
use layers::WithPath;
use models::resume::StateFault;

use std::collections::BTreeMap;
use std::path::Path;

use layers::checkpoint::{read_checkpoint, write_tensors};
use layers::{CheckpointError, CheckpointFault, Module};
use models::resume::{ResumeError, STATE_FORMAT, load_state, save_state, state_path, weights_path};
use models::train::{Advance, EpochMetrics, Flow, HYPER_PARAMETERS, OptimizerKind, TrainConfig, Trainer};
use models::{Split, resume};
use resume_support::{Scratch, lenet5_trainer, synthetic_split};
use tensor::Tensor;

/// 96 training images in batches of 20: 5 steps an epoch, the last of 16 images.
const TRAIN: usize = 96;
const BATCH: usize = 20;
const EPOCHS: usize = 3;

fn config(optimizer: OptimizerKind, threads: usize, clip: Option<f64>) -> TrainConfig {
    TrainConfig {
        epochs: EPOCHS,
        batch_size: BATCH,
        optimizer,
        lr: if optimizer == OptimizerKind::Adam { 0.002 } else { 0.05 },
        seed: 11,
        threads,
        clip_grad_norm: clip,
        ..TrainConfig::lenet5_recipe()
    }
}

/// An epoch's metrics without the times, floats as bits: epoch, lr, train loss and
/// accuracy, test loss and accuracy, the confusion matrix.
type MetricBits = (usize, u64, u64, u64, u64, u64, Vec<usize>);

/// Everything a finished run is compared on: every epoch's metrics (without the times),
/// the weights' bits and the optimizer's buffers' bits.
#[derive(Debug, PartialEq)]
struct Outcome {
    metrics: Vec<MetricBits>,
    weights: Vec<(String, Vec<u32>)>,
    optimizer: Vec<(String, Vec<u32>)>,
    optimizer_step: u64,
    steps: u64,
}

fn key(m: &EpochMetrics) -> MetricBits {
    (
        m.epoch,
        m.lr.to_bits(),
        m.train_loss.to_bits(),
        m.train_accuracy.to_bits(),
        m.test.loss.to_bits(),
        m.test.accuracy.to_bits(),
        m.test.confusion.iter().flatten().copied().collect(),
    )
}

fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.iter().map(f32::to_bits).collect()
}

fn outcome<M: Module<f32>>(trainer: &Trainer<M>, metrics: &[EpochMetrics]) -> Outcome {
    let state = trainer.optimizer.state();
    Outcome {
        metrics: metrics.iter().map(key).collect(),
        weights: trainer.model.named_parameters().into_iter().map(|(n, p)| (n, bits(&p.value))).collect(),
        optimizer: state.tensors.iter().map(|(n, t)| (n.clone(), bits(t))).collect(),
        optimizer_step: state.step,
        steps: trainer.steps,
    }
}

/// Runs `trainer` to its end, pausing after global step `stop` (if given) and returning
/// there; the metrics of the epochs that ended are appended to `metrics`.
fn run<M: Module<f32>>(
    trainer: &mut Trainer<M>,
    train: &Split,
    test: &Split,
    stop: Option<u64>,
    metrics: &mut Vec<EpochMetrics>,
) {
    while !trainer.finished() {
        let advanced = trainer
            .advance(train, test, |r| if Some(r.global_step) == stop { Flow::Pause } else { Flow::Continue })
            .unwrap();
        match advanced {
            Advance::Paused => return,
            Advance::EpochEnd(m) => metrics.push(*m),
        }
    }
}

fn check_resume_matches(optimizer: OptimizerKind, threads: usize, clip: Option<f64>, stops: &[u64]) {
    let train = synthetic_split(TRAIN, 1);
    let test = synthetic_split(30, 2);
    let mut straight = lenet5_trainer(config(optimizer, threads, clip));
    let mut metrics = Vec::new();
    run(&mut straight, &train, &test, None, &mut metrics);
    assert_eq!(straight.steps, (EPOCHS * TRAIN.div_ceil(BATCH)) as u64);
    let expected = outcome(&straight, &metrics);

    let scratch = Scratch::new("resume-inprocess");
    let path = scratch.join("run.state.safetensors");
    for &stop in stops {
        // Stop after `stop` steps, save, drop the trainer; read back and finish.
        let mut first = lenet5_trainer(config(optimizer, threads, clip));
        let mut metrics = Vec::new();
        run(&mut first, &train, &test, Some(stop), &mut metrics);
        assert_eq!(first.steps, stop, "paused after step {stop}");
        save_state(&first, &path, &[]).unwrap();
        drop(first);
        let resumed = load_state(&path).unwrap();
        assert_eq!(resumed.train_images, TRAIN);
        let mut second = resumed.trainer;
        assert_eq!(second.steps, stop);
        run(&mut second, &train, &test, None, &mut metrics);
        assert_eq!(
            outcome(&second, &metrics),
            expected,
            "{optimizer:?}, {threads} thread(s), clip {clip:?}: stopped after step {stop}"
        );
    }
}

#[test]
fn sgd_resumed_after_any_step_ends_bit_identical() {
    // Mid-epoch, the last step of an epoch, the first of the next, and before the last.
    check_resume_matches(OptimizerKind::Sgd, 1, None, &[1, 3, 5, 6, 10, 14]);
}

#[test]
fn adam_on_two_threads_with_clipping_resumed_ends_bit_identical() {
    check_resume_matches(OptimizerKind::Adam, 2, Some(0.5), &[2, 5, 9, 13]);
}

#[test]
fn a_resumed_run_with_a_step_limit_stops_where_the_straight_run_does() {
    let train = synthetic_split(TRAIN, 3);
    let test = synthetic_split(20, 4);
    let limited = TrainConfig { max_steps: Some(7), ..config(OptimizerKind::Sgd, 1, None) };
    let mut straight = lenet5_trainer(limited.clone());
    let mut metrics = Vec::new();
    run(&mut straight, &train, &test, None, &mut metrics);
    // Epoch 1 of 5 steps, then epoch 2 cut at its 2nd step and evaluated.
    assert_eq!((straight.steps, straight.epoch, metrics.len()), (7, 2, 2));

    let scratch = Scratch::new("resume-limit");
    let path = scratch.join("x.state.safetensors");
    let mut first = lenet5_trainer(limited);
    let mut first_metrics = Vec::new();
    run(&mut first, &train, &test, Some(6), &mut first_metrics);
    save_state(&first, &path, &[]).unwrap();
    let mut second = load_state(&path).unwrap().trainer;
    run(&mut second, &train, &test, None, &mut first_metrics);
    assert_eq!(outcome(&second, &first_metrics), outcome(&straight, &metrics));
    assert!(second.finished());
}

#[test]
fn the_state_file_holds_the_documented_entries() {
    let train = synthetic_split(TRAIN, 5);
    let test = synthetic_split(10, 6);
    let mut trainer = lenet5_trainer(config(OptimizerKind::Sgd, 1, Some(2.5)));
    run(&mut trainer, &train, &test, Some(7), &mut Vec::new());
    let scratch = Scratch::new("resume-entries");
    let path = scratch.join("lenet5.state.safetensors");
    save_state(&trainer, &path, &[]).unwrap();
    let file = read_checkpoint::<f32>(&path).unwrap();

    let names: Vec<String> = trainer.model.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 10);
    for n in &names {
        let t = &file.tensors[&format!("model.{n}")];
        let p = trainer.model.named_parameters().into_iter().find(|(m, _)| m == n).unwrap().1;
        assert_eq!(bits(t), bits(&p.value), "model.{n}");
        assert!(file.tensors.contains_key(&format!("optimizer.momentum.{n}")), "momentum of {n}");
    }
    assert_eq!(file.tensors.len(), 20, "10 weights and 10 momentum buffers");
    let m = &file.metadata;
    // After 7 steps of 5 per epoch: epoch 1 done, 2 steps of epoch 2 taken (40 images).
    for (k, v) in [
        ("format", STATE_FORMAT),
        ("version", "2"),
        ("epoch", "1"),
        ("step_in_epoch", "2"),
        ("steps", "7"),
        ("optimizer.step", "7"),
        ("epoch.seen", "40"),
        ("data.train_images", "96"),
        ("config.epochs", "3"),
        ("config.batch_size", "20"),
        ("config.optimizer", "sgd"),
        ("config.lr", "0.05"),
        ("config.momentum", "0.9"),
        ("config.weight_decay", "0.0005"),
        ("config.seed", "11"),
        ("config.threads", "1"),
        ("config.max_steps", "none"),
        ("config.shuffle", "true"),
        ("config.clip_grad_norm", "2.5"),
        ("config.schedule", "cosine"),
        ("config.augment", "none"),
        ("preprocess.pad", "2"),
        ("preprocess.mean", "0.1307"),
        ("preprocess.std", "0.3081"),
    ] {
        assert_eq!(m.get(k).map(String::as_str), Some(v), "metadata {k}");
    }
    let loss_sum: f64 = m["epoch.loss_sum"].parse().unwrap();
    assert_eq!(loss_sum.to_bits(), trainer.progress.loss_sum.to_bits(), "the running loss round-trips exactly");
    assert_eq!(m["epoch.correct"], trainer.progress.correct.to_string());
    assert!(m.contains_key("epoch.train_seconds"));
    assert_eq!(m.len(), 27, "{m:?}");

    assert_eq!(state_path(Path::new("runs/lenet5.safetensors")), Path::new("runs/lenet5.state.safetensors"));
    assert_eq!(weights_path(Path::new("runs/lenet5.state.safetensors")).unwrap(), Path::new("runs/lenet5.safetensors"));
    assert_eq!(weights_path(Path::new("runs/other.bin")), None);
}

/// A valid state (SGD, 7 steps), as its tensors and metadata, to be spoiled.
fn valid_state() -> (BTreeMap<String, Tensor<f32>>, BTreeMap<String, String>) {
    let train = synthetic_split(TRAIN, 7);
    let test = synthetic_split(10, 8);
    let mut trainer = lenet5_trainer(config(OptimizerKind::Sgd, 1, None));
    run(&mut trainer, &train, &test, Some(7), &mut Vec::new());
    let scratch = Scratch::new("resume-valid");
    let path = scratch.join("v.state.safetensors");
    save_state(&trainer, &path, &[]).unwrap();
    let c = read_checkpoint::<f32>(&path).unwrap();
    (c.tensors, c.metadata)
}

fn write_state(path: &Path, tensors: &BTreeMap<String, Tensor<f32>>, meta: &BTreeMap<String, String>) {
    let named: Vec<(String, &Tensor<f32>)> = tensors.iter().map(|(n, t)| (n.clone(), t)).collect();
    write_tensors(path, &named, meta).unwrap();
}

#[test]
fn spoiled_state_files_are_refused_with_typed_errors_naming_file_and_entry() {
    let (tensors, meta) = valid_state();
    let scratch = Scratch::new("resume-spoiled");
    let path = scratch.join("s.state.safetensors");
    let p = path.display().to_string();
    write_state(&path, &tensors, &meta);
    assert!(load_state(&path).is_ok(), "the unspoiled file loads");

    let mut tried = 0;
    // Hyper-parameters added since the format began: missing means their default.
    let added: Vec<String> = HYPER_PARAMETERS.iter().filter(|h| h.absent.is_some()).map(|h| h.key()).collect();
    // Every other metadata entry, missing: CheckpointError::Metadata naming it (format: NotState).
    for key in meta.keys() {
        let mut m = meta.clone();
        m.remove(key);
        write_state(&path, &tensors, &m);
        if added.contains(key) {
            assert!(load_state(&path).is_ok(), "missing {key} takes its default");
            tried += 1;
            continue;
        }
        let err = load_state(&path).err().unwrap_or_else(|| panic!("missing {key} was accepted"));
        match (&err, key.as_str()) {
            (ResumeError::State(WithPath { source: StateFault::NotState, .. }), "format") => {}
            (ResumeError::Checkpoint(CheckpointError { source: CheckpointFault::Metadata { key: k, .. }, .. }), _) => {
                assert_eq!(k, key)
            }
            _ => panic!("missing {key}: {err:?}"),
        }
        assert!(err.to_string().starts_with(&p), "{err}");
        tried += 1;
    }
    // Every entry that must parse, mangled.
    for key in meta.keys().filter(|k| !["format", "version"].contains(&k.as_str())) {
        let mut m = meta.clone();
        m.insert(key.clone(), "twelve".into());
        write_state(&path, &tensors, &m);
        match load_state(&path) {
            Err(ResumeError::Checkpoint(CheckpointError {
                source: CheckpointFault::Metadata { key: k, reason, .. },
                ..
            })) => {
                assert_eq!(&k, key);
                assert!(reason.contains("twelve"), "{reason}");
            }
            other => panic!("mangled {key}: {:?}", other.err()),
        }
        tried += 1;
    }
    // Values that parse but make no valid run.
    let cases: [(&str, &str, &str); 12] = [
        ("version", "3", "version 3"),
        ("config.batch_size", "0", "--batch-size"),
        ("config.lr", "-0.5", "--lr"),
        ("config.lr", "NaN", "--lr"),
        ("config.epochs", "0", "--epochs"),
        ("config.threads", "0", "--threads"),
        ("config.clip_grad_norm", "-1.0", "--clip-grad-norm"),
        ("epoch", "9", "epoch 9"),
        ("steps", "8", "steps is 8"),
        ("optimizer.step", "3", "optimizer.step"),
        ("epoch.seen", "41", "epoch.seen"),
        ("epoch.loss_sum", "inf", "epoch.loss_sum"),
    ];
    for (key, value, needle) in cases {
        let mut m = meta.clone();
        m.insert(key.into(), value.into());
        write_state(&path, &tensors, &m);
        let err = load_state(&path).err().unwrap_or_else(|| panic!("{key} = {value} was accepted"));
        assert!(
            matches!(
                err,
                ResumeError::State(WithPath { source: StateFault::Invalid(_), .. })
                    | ResumeError::State(WithPath { source: StateFault::Version { .. }, .. })
            ),
            "{key}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.starts_with(&p) && msg.contains(needle), "{key} = {value}: {msg}");
        tried += 1;
    }
    // Tensors: each model weight missing, one of the wrong shape, a NaN, a stray tensor,
    // a momentum buffer of the wrong shape or of an unknown parameter, an Adam buffer in
    // an SGD run.
    for name in tensors.keys().filter(|n| n.starts_with("model.")) {
        let mut t = tensors.clone();
        t.remove(name);
        write_state(&path, &t, &meta);
        match load_state(&path) {
            Err(ResumeError::Checkpoint(CheckpointError {
                source: CheckpointFault::Missing { name: n, .. }, ..
            })) => assert_eq!(&n, name),
            other => panic!("without {name}: {:?}", other.err()),
        }
        tried += 1;
    }
    let spoil = |name: &str, t: Tensor<f32>| {
        let mut all = tensors.clone();
        all.insert(name.into(), t);
        write_state(&path, &all, &meta);
        load_state(&path).err().unwrap_or_else(|| panic!("{name} was accepted"))
    };
    let err = spoil("model.c1.bias", Tensor::zeros(&[7]).unwrap());
    assert!(
        matches!(&err, ResumeError::Checkpoint(CheckpointError { source: CheckpointFault::Shape { name, expected, got, .. }, .. })
            if name == "model.c1.bias" && expected == &[6] && got == &[7]),
        "{err:?}"
    );
    let err = spoil("model.f7.bias", Tensor::from_vec(&[10], vec![f32::NAN; 10]).unwrap());
    assert!(err.to_string().contains("model.f7.bias") && err.to_string().contains("NaN"), "{err}");
    let err = spoil("stray", Tensor::zeros(&[1]).unwrap());
    assert!(
        matches!(&err, ResumeError::Checkpoint(CheckpointError { source: CheckpointFault::Unexpected { name, .. }, .. }) if name == "stray")
    );
    let err = spoil("model.c9.weight", Tensor::zeros(&[1]).unwrap());
    assert!(
        matches!(&err, ResumeError::Checkpoint(CheckpointError { source: CheckpointFault::Unexpected { .. }, .. })),
        "{err:?}"
    );
    let err = spoil("optimizer.momentum.c1.weight", Tensor::zeros(&[6, 1, 5, 4]).unwrap());
    assert!(err.to_string().contains("optimizer.momentum.c1.weight"), "{err}");
    let err = spoil("optimizer.momentum.c9.weight", Tensor::zeros(&[1]).unwrap());
    assert!(err.to_string().contains("c9.weight"), "{err}");
    let err = spoil("optimizer.exp_avg.c1.bias", Tensor::zeros(&[6]).unwrap());
    assert!(err.to_string().contains("exp_avg.c1.bias"), "{err}");
    tried += 7;

    // The weights file is not a state file.
    let weights = scratch.join("w.safetensors");
    let model = lenet5_trainer(TrainConfig::lenet5_recipe()).model;
    layers::checkpoint::save_module(&model, &weights).unwrap();
    assert!(matches!(load_state(&weights), Err(ResumeError::State(WithPath { source: StateFault::NotState, .. }))));
    // A missing file and a file that is not safetensors at all.
    assert!(matches!(
        load_state(scratch.join("nope.state.safetensors")),
        Err(ResumeError::Checkpoint(CheckpointError { source: CheckpointFault::Io(_), .. }))
    ));
    std::fs::write(&path, b"not a safetensors file").unwrap();
    assert!(matches!(
        load_state(&path),
        Err(ResumeError::Checkpoint(CheckpointError { source: CheckpointFault::Format(_), .. }))
    ));
    tried += 3;
    println!("spoiled state files refused: {tried}");
    assert_eq!(tried, meta.len() * 2 - 2 + 12 + 10 + 7 + 3);
}

#[test]
fn data_of_another_size_is_refused() {
    let train = synthetic_split(TRAIN, 9);
    let mut trainer = lenet5_trainer(config(OptimizerKind::Sgd, 1, None));
    trainer.train_images = train.len();
    let scratch = Scratch::new("resume-data");
    let path = scratch.join("d.state.safetensors");
    save_state(&trainer, &path, &[]).unwrap();
    let resumed = resume::load_state(&path).unwrap();
    assert!(resumed.check_data(TRAIN, &path).is_ok());
    let err = resumed.check_data(TRAIN + 1, &path).unwrap_err();
    assert!(
        matches!(err, ResumeError::State(WithPath { source: StateFault::Data { expected: TRAIN, got, .. }, .. }) if got == TRAIN + 1)
    );
}

#[test]
fn a_state_file_is_looked_at_before_its_network_is_built() {
    let train = synthetic_split(TRAIN, 10);
    let test = synthetic_split(10, 12);
    let mut trainer = lenet5_trainer(config(OptimizerKind::Adam, 1, None));
    run(&mut trainer, &train, &test, Some(3), &mut Vec::new());
    let scratch = Scratch::new("resume-look");
    let path = scratch.join("l.state.safetensors");
    save_state(&trainer, &path, &[("data.dir".into(), "/somewhere".into())]).unwrap();

    let state = resume::StateFile::read(&path).unwrap();
    assert_eq!(state.config.optimizer, OptimizerKind::Adam);
    assert_eq!(state.config.batch_size, BATCH);
    assert_eq!(state.metadata("data.dir"), Some("/somewhere"));
    assert_eq!(state.preprocess.metadata(), trainer.preprocess.metadata());
    // No `arch` entry: the one rule says LeNet-5 on MNIST.
    assert_eq!(state.info, models::network::NetworkInfo::lenet5_mnist());
    let resumed = state.resume().unwrap();
    assert_eq!(resumed.trainer.steps, 3);
    assert_eq!(resumed.trainer.optimizer.state().step, 3);
    let bits = |m: &dyn Module<f32>| -> Vec<Vec<u32>> {
        m.named_parameters().iter().map(|(_, p)| p.value.iter().map(|x| x.to_bits()).collect()).collect()
    };
    assert_eq!(bits(resumed.trainer.model.as_ref()), bits(&trainer.model));
}

#[test]
fn one_rule_describes_every_file_without_metadata_as_lenet5_on_mnist() {
    use models::data::Preprocess;
    use models::network::{NetworkInfo, describe};
    let path = Path::new("f.safetensors");
    let none = BTreeMap::new();
    assert_eq!(describe(&none, path).unwrap(), (NetworkInfo::lenet5_mnist(), Preprocess::mnist()));
    // The preprocessing alone (a library run saved without the network): taken, checked.
    let custom = Preprocess::new(0, vec![0.25], vec![2.0]).unwrap();
    let only_preprocess: BTreeMap<String, String> = custom.metadata().into_iter().collect();
    assert_eq!(describe(&only_preprocess, path).unwrap().1, custom);
    let mut spoiled = only_preprocess.clone();
    spoiled.remove("preprocess.std");
    assert!(matches!(
        describe(&spoiled, path),
        Err(models::network::NetworkError::Checkpoint(CheckpointError { source: CheckpointFault::Metadata { key, .. }, .. })) if key == "preprocess.std"
    ));
    // A network named without its preprocessing is refused, not read as MNIST's.
    let mut named: BTreeMap<String, String> = NetworkInfo::lenet5_mnist().metadata().into_iter().collect();
    assert!(describe(&named, path).is_err());
    named.extend(custom.metadata());
    assert_eq!(describe(&named, path).unwrap(), (NetworkInfo::lenet5_mnist(), custom));
}
