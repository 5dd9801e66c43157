//! Checks and transforms of a step's gradients before the update: the first non-finite
//! gradient (to stop a diverging run, naming the parameter) and global-norm clipping.

use autograd::Gradients;
use tensor::Element;

use crate::module::Module;

/// The first parameter of `model` (in `named_parameters` order) whose gradient holds a NaN
/// or an infinity.
pub fn first_non_finite_gradient<T: Element, M: Module<T> + ?Sized>(model: &M, grads: &Gradients<T>) -> Option<String> {
    model
        .named_parameters()
        .into_iter()
        .find(|(_, p)| grads.param(p).is_some_and(|g| g.iter().any(|x| !x.to_f64_exact().is_finite())))
        .map(|(name, _)| name)
}

/// The global L2 norm of every parameter gradient, accumulated in f64.
pub fn gradient_norm<T: Element>(grads: &Gradients<T>) -> f64 {
    grads.params().flat_map(|(_, g)| g.iter()).map(|x| x.to_f64_exact() * x.to_f64_exact()).sum::<f64>().sqrt()
}

/// Scales every gradient by `min(1, max_norm / (‖g‖₂ + 10⁻⁶))`, as PyTorch's
/// `clip_grad_norm_` does; returns the norm before clipping.
pub fn clip_grad_norm<T: Element>(grads: &mut Gradients<T>, max_norm: f64) -> f64 {
    let norm = gradient_norm(grads);
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        grads.scale_all(T::from_f64_lossy(factor));
    }
    norm
}
