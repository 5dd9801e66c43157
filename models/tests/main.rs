//! The integration tests of this crate as one test binary (one link, not one per file):
//! each file of `tests/` is a module here.

mod common;
#[cfg(feature = "serve")]
mod explorer_support;
mod resume_support;

mod any_cnn;
mod arch_gap_bias;
mod arch_layers;
mod arch_spec;
mod augment;
mod checkpoint;
mod cifar_reader;
mod class_names;
mod cli;
mod cnn_new_layers;
mod data_sets;
#[cfg(feature = "download")]
mod download;
#[cfg(feature = "serve")]
mod explorer;
#[cfg(feature = "serve")]
mod explorer_arch;
#[cfg(feature = "serve")]
mod explorer_arch_server;
#[cfg(feature = "serve")]
mod explorer_labels;
#[cfg(feature = "serve")]
mod explorer_residual;
#[cfg(feature = "serve")]
mod explorer_server;
mod export;
mod faults_cli;
mod faults_corrupt_files;
mod faults_fuzz_regressions;
mod faults_image_folders;
mod faults_numbers;
mod faults_outputs;
#[cfg(feature = "serve")]
mod faults_server;
mod faults_specs;
mod gradcheck_lenet5;
mod infer_chunks;
mod kind_added;
mod kinds_list;
mod library_api;
#[cfg(feature = "plot")]
mod plot;
mod predict;
mod pytorch_layers;
mod pytorch_residual;
mod pytorch_spec;
mod residual_cli;
mod resnet_preset;
mod resume_inprocess;
mod resume_kill;
mod threads_beyond_cores;
mod train_config;
mod train_one_epoch;
