//! Checkpoints written as a run goes ([`Checkpointer`]): the weights and the state beside
//! them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use layers::checkpoint::save_module_with_metadata;
use layers::{CheckpointError, Module};

use super::{save_state, state_path};
use crate::train::{EpochMetrics, Flow, Observer, StepReport, TrainError, Trainer};

/// Writes checkpoints as a run goes: the weights (a `state_dict` with `metadata`) and the
/// state beside them, every `every` steps (0: never mid-epoch) and at each epoch's end.
#[derive(Debug, Clone)]
pub struct Checkpointer {
    /// The weights file.
    pub weights: PathBuf,
    /// The state file (by default [`state_path`] of the weights).
    pub state: PathBuf,
    /// Steps between mid-epoch checkpoints (0 for none).
    pub every: u64,
    /// Metadata written into both files (the network, the data folder, …).
    pub metadata: Vec<(String, String)>,
    /// The global step of the last checkpoint written or resumed from.
    pub last: Option<u64>,
}

impl Checkpointer {
    /// Checkpoints to `weights` and its state file, every `every` steps and at epoch ends.
    pub fn new(weights: PathBuf, every: u64, metadata: Vec<(String, String)>) -> Self {
        Checkpointer { state: state_path(&weights), weights, every, metadata, last: None }
    }

    /// Writes the weights, then the state (each atomically).
    pub fn write<M: Module<f32>>(&mut self, trainer: &Trainer<M>) -> Result<(), CheckpointError> {
        let mut meta: BTreeMap<String, String> = self.metadata.iter().cloned().collect();
        meta.extend(trainer.preprocess.metadata());
        save_module_with_metadata(&trainer.model, &self.weights, &meta)?;
        save_state(trainer, &self.state, &self.metadata)?;
        self.last = Some(trainer.steps);
        Ok(())
    }

    /// Where the last good checkpoint is, in words.
    pub fn last_words(&self) -> String {
        match self.last {
            Some(step) => format!("the last good checkpoint, after step {step}, is {}", self.state.display()),
            None => "no checkpoint was written".into(),
        }
    }
}

impl<M: Module<f32>> Observer<M> for Checkpointer {
    fn on_step(&mut self, trainer: &Trainer<M>, r: &StepReport) -> Result<Flow, TrainError> {
        let ends_epoch = r.step == r.steps || trainer.config.max_steps == Some(r.global_step);
        if self.every > 0 && r.global_step.is_multiple_of(self.every) && !ends_epoch {
            self.write(trainer)?;
        }
        Ok(Flow::Continue)
    }

    fn on_epoch(&mut self, trainer: &Trainer<M>, _: &EpochMetrics) -> Result<Flow, TrainError> {
        self.write(trainer)?;
        Ok(Flow::Continue)
    }
}
