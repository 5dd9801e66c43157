//! One epoch of training with the default hyper-parameters (epochs = 1, so the per-step
//! cosine schedule anneals from the full learning rate to 0 within the epoch), run
//! in-process through `Trainer` on 2 threads. The issue asks for ≥ 98.0% test accuracy.
//!
//! The evaluation the trainer reports is cross-checked: its confusion matrix's row sums
//! are the test label counts of the data README, and the accuracy is recomputed from
//! logits of images preprocessed by hand.
//!
//! Measured (2 cores, release build, seed 0): 98.61% after one epoch in 16 s of training
//! (4,100 img/s). An earlier schedule that held the rate for the whole epoch stopped at
//! 97.7–97.9%.

use crate::common;

use std::time::Instant;

use models::EpochMetrics;
use models::train::TrainConfig;

/// Trains one epoch with the defaults on 2 threads, prints the figures, and checks what
/// holds of any correct run: the step count, the learning rate, the evaluation's counts
/// and its accuracy recomputed independently.
fn one_epoch(test: &str) -> Option<EpochMetrics> {
    let dir = common::mnist_dir(test)?;
    let data = common::mnist(&dir);
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));

    let config = TrainConfig { epochs: 1, threads: 2, ..TrainConfig::default() };
    let mut trainer = common::lenet5_trainer(config);
    let mut steps_seen = 0usize;
    let started = Instant::now();
    let m = trainer.run_epoch(&data.train, &data.test, |r| steps_seen = r.step).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "1 epoch, batch 64, 2 threads: test accuracy {:.2}% (loss {:.4}), train loss {:.4}; \
         {seconds:.1} s with the evaluation ({:.1} s training, {:.0} img/s)",
        100.0 * m.test.accuracy,
        m.test.loss,
        m.train_loss,
        m.train_seconds,
        m.images_per_second
    );

    // 60,000 / 64 = 937.5 → 938 steps, the last one of 32 images.
    assert_eq!(steps_seen, 938);
    assert_eq!(trainer.steps, 938);
    assert_eq!(trainer.epoch, 1);
    assert!(trainer.finished());
    assert_eq!(m.lr, 0.05, "the first step of the run uses the base learning rate");

    // The evaluation covers every test image once, with the README's label counts.
    for (digit, row) in m.test.confusion.iter().enumerate() {
        assert_eq!(row.iter().sum::<usize>(), common::TEST_LABEL_COUNTS[digit], "test images of digit {digit}");
    }
    let trace: usize = (0..10).map(|c| m.test.confusion[c][c]).sum();
    assert_eq!(m.test.accuracy, trace as f64 / 10_000.0);

    // The accuracy again, from logits of images preprocessed by hand.
    let mut correct = 0;
    let indices: Vec<usize> = (0..data.test.len()).collect();
    for chunk in indices.chunks(1000) {
        let logits = common::logits(&trainer.model, &data.test, chunk);
        let predicted = common::argmax_rows(&logits.to_vec(), 10);
        correct += chunk.iter().zip(&predicted).filter(|(i, p)| usize::from(data.test.labels[**i]) == **p).count();
    }
    assert_eq!(correct, trace, "accuracy recomputed from the logits");
    assert!(m.test.loss.is_finite() && m.test.loss < 0.1, "test loss {}", m.test.loss);
    Some(m)
}

#[test]
fn one_epoch_with_the_defaults_reaches_98_percent() {
    let Some(m) = one_epoch("one_epoch_with_the_defaults_reaches_98_percent") else { return };
    assert!(m.test.accuracy >= 0.98, "test accuracy after one epoch: {:.2}% < 98.0%", 100.0 * m.test.accuracy);
}
