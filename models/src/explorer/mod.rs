//! The explorer: every matrix of a network's forward and backward pass for one image, as the
//! derivation (`docs/derivation.md`) writes them, served with an interactive page.
//!
//! - [`pass()`] computes a network's matrices with the framework's own ops on one recording
//!   tape, each layer in its kind's matrix form: `a⁽⁰⁾ = im2col(x)`, `z⁽¹⁾ = a⁽⁰⁾·W⁽¹⁾ + b⁽¹⁾`,
//!   the pooling windows and their argmax, … , the softmax, then the tape's gradient of each
//!   of them for a chosen label (`∇z⁽⁷⁾ = P − Y`, `∇W`, `∇b`, `∇a`, the max-pool routing).
//!   LeNet-5 is a preset like any other network; its stage cards make the page write the
//!   derivation's notation (`explorer/names.rs`). [`layers_pass()`] is the same for a list of layers.
//! - [`step()`] takes SGD steps on that image on an in-memory copy of the network and
//!   reports the weight changes and the probabilities before and after.
//! - [`serve()`] runs the local web server: the page (HTML, JS and CSS compiled into the
//!   binary, no CDN) and its JSON routes, listed in [`server`].

mod assets;
mod error;
mod http;
pub mod input;
mod layer_at;
pub mod layer_text;
mod layer_view;
pub mod layers_pass;
pub mod link;
pub mod matrix;
mod names;
pub mod net;
mod recorder;
mod routes;
pub mod server;
pub mod step;

pub use error::ExplorerError;
pub use http::release_free_memory;
pub use input::Image;
pub use layer_at::LayerAt;
pub use layer_text::{LayerCard, arch_cards, layer_cards};
pub use layer_view::{Backward, Forward, sections};
pub use layers_pass::{Pass, layers_pass, pass};
pub use link::Link;
pub use matrix::Matrix;
pub use net::Net;
pub use server::{ServeOptions, Server, serve};
pub use step::{StepResult, step};
