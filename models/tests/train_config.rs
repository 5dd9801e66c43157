//! The hyper-parameter table: the state file's `config.*` entries keep the names and the
//! text they have always had (old state files resume), every value reads back, and the
//! range checks and the help name the flag and the choices.

use std::collections::BTreeMap;

use models::data::Augment;
use models::train::{HYPER_PARAMETERS, OptimizerKind, ScheduleKind, TrainConfig};

#[test]
fn the_state_files_entries_keep_their_keys_and_text() {
    let written: Vec<(String, String)> = TrainConfig { threads: 1, ..TrainConfig::lenet5_recipe() }.metadata();
    let expected = [
        ("config.epochs", "10"),
        ("config.batch_size", "64"),
        ("config.optimizer", "sgd"),
        ("config.lr", "0.05"),
        ("config.schedule", "cosine"),
        ("config.momentum", "0.9"),
        ("config.weight_decay", "0.0005"),
        ("config.seed", "0"),
        ("config.threads", "1"),
        ("config.max_steps", "none"),
        ("config.shuffle", "true"),
        ("config.clip_grad_norm", "none"),
        ("config.augment", "none"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(written, expected);
}

/// The defaults as PyTorch documents them (`torch.optim.Adam`: lr 1e-3, weight_decay 0;
/// `SGD`: lr 1e-3, momentum 0, weight_decay 0; no scheduler), written out here rather than
/// read from the table.
#[test]
fn the_default_is_pytorchs_for_every_optimizer() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from).to_string();
    let expected = [
        ("config.epochs", "10"),
        ("config.batch_size", "64"),
        ("config.optimizer", "adam"),
        ("config.lr", "0.001"),
        ("config.schedule", "constant"),
        ("config.momentum", "0.0"),
        ("config.weight_decay", "0.0"),
        ("config.seed", "0"),
        ("config.threads", cores.as_str()),
        ("config.max_steps", "none"),
        ("config.shuffle", "true"),
        ("config.clip_grad_norm", "none"),
        ("config.augment", "none"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(TrainConfig::default().metadata(), expected);
    for (optimizer, _) in OptimizerKind::ALL {
        let config = TrainConfig { optimizer, ..TrainConfig::default() };
        assert_eq!((config.lr, config.weight_decay, config.momentum), (1e-3, 0.0, 0.0), "{optimizer}");
        assert_eq!(config.schedule, ScheduleKind::Constant);
    }
    let recipe = TrainConfig { threads: 1, ..TrainConfig::lenet5_recipe() };
    assert_eq!(
        recipe.to_string(),
        "epochs 10, batch_size 64, optimizer sgd, lr 0.05, schedule cosine, momentum 0.9, weight_decay 0.0005, \
         seed 0, threads 1, max_steps none, shuffle true, clip_grad_norm none, augment none"
    );
}

#[test]
fn every_value_reads_back() {
    let config = TrainConfig {
        epochs: 3,
        batch_size: 17,
        optimizer: OptimizerKind::AdamW,
        lr: 1e-3,
        schedule: ScheduleKind::Step { epochs: 2, gamma: 0.5 },
        momentum: 0.0,
        weight_decay: 0.0,
        seed: u64::MAX,
        threads: 2,
        max_steps: Some(40),
        shuffle: false,
        clip_grad_norm: Some(1.5),
        augment: Augment { crop: Some(4), flip: true },
    };
    let meta: BTreeMap<String, String> = config.metadata().into_iter().collect();
    assert_eq!(meta["config.schedule"], "step:2:0.5");
    assert_eq!(meta["config.augment"], "crop:4,flip");
    assert_eq!(TrainConfig::from_metadata(&meta).unwrap(), config);
    // A checkpoint written before `augment` existed: no augmentation.
    let mut older = meta.clone();
    older.remove("config.augment");
    assert_eq!(TrainConfig::from_metadata(&older).unwrap(), TrainConfig { augment: Augment::NONE, ..config.clone() });
    let mut broken = meta.clone();
    broken.insert("config.optimizer".into(), "adagrad".into());
    assert_eq!(
        TrainConfig::from_metadata(&broken).unwrap_err(),
        ("config.optimizer".into(), "\"adagrad\" is not an optimizer (sgd, adam, adamw)".into())
    );
    broken.insert("config.optimizer".into(), "adam".into());
    broken.remove("config.lr");
    assert_eq!(TrainConfig::from_metadata(&broken).unwrap_err(), ("config.lr".into(), "missing".into()));
    assert_eq!(
        "step:0:0.5".parse::<ScheduleKind>().unwrap_err(),
        "\"step:0:0.5\": step:EPOCHS:GAMMA needs EPOCHS ≥ 1 and a finite GAMMA > 0"
    );
    assert_eq!(
        "linear".parse::<ScheduleKind>().unwrap_err(),
        "\"linear\" is not a schedule (cosine, constant or step:EPOCHS:GAMMA)"
    );
}

#[test]
fn range_checks_name_the_flag() {
    let check = |change: fn(&mut TrainConfig)| {
        let mut config = TrainConfig::lenet5_recipe();
        change(&mut config);
        config.validate().unwrap_err()
    };
    assert!(TrainConfig::lenet5_recipe().validate().is_ok());
    assert_eq!(check(|c| c.epochs = 0), "--epochs must be at least 1");
    assert_eq!(check(|c| c.threads = 0), "--threads must be at least 1");
    assert_eq!(check(|c| c.lr = 0.0), "--lr must be positive");
    assert_eq!(check(|c| c.lr = -1.0), "--lr must be a finite number ≥ 0, got -1");
    assert_eq!(check(|c| c.momentum = 1.0), "--momentum must be below 1, got 1");
    assert_eq!(check(|c| c.weight_decay = f64::NAN), "--weight-decay must be a finite number ≥ 0, got NaN");
    assert_eq!(check(|c| c.clip_grad_norm = Some(0.0)), "--clip-grad-norm must be a finite number > 0, got 0");
}

#[test]
fn the_help_lists_the_choices_from_the_kinds() {
    let help: BTreeMap<&str, String> = HYPER_PARAMETERS.iter().map(|h| (h.name, h.help())).collect();
    let names: Vec<&str> = OptimizerKind::ALL.iter().map(|(_, n)| *n).collect();
    assert_eq!(names, ["sgd", "adam", "adamw"]);
    assert_eq!(help["optimizer"], "The update rule: sgd, adam or adamw");
    assert_eq!(help["epochs"], "Passes over the training set");
}
