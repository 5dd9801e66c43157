//! A module's state, its parameters and buffers by name, copied from another module: the
//! in-memory `dst.load_state_dict(src.state_dict())` of PyTorch (a copy to train apart, a
//! model in f64 to check an f32 one).

use std::collections::BTreeMap;

use tensor::{Element, Tensor};

use crate::error::{LayerError, Result};
use crate::module::Module;

/// Copies every parameter and buffer of `src` into the one of `dst` with the same dotted
/// name, converting the element type (`f32` to `f64` exactly, `f64` to `f32` rounded). The
/// two must hold the same names with the same shapes (PyTorch's `strict=True`); otherwise
/// [`LayerError::State`] names the first that differs and nothing is copied.
///
/// ```
/// use layers::{Linear, Module, copy_state};
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let trained = Linear::<f32>::new(3, 2, &mut rng)?;
/// let mut check = Linear::<f64>::new(3, 2, &mut rng)?;
/// copy_state(&mut check, &trained)?;
/// let w64 = check.weight.value.to_vec();
/// assert!(trained.weight.value.iter().zip(w64).all(|(a, b)| f64::from(a) == b));
/// assert!(copy_state(&mut Linear::<f32>::new(2, 2, &mut rng)?, &trained).is_err());
/// # Ok::<(), layers::LayerError>(())
/// ```
pub fn copy_state<T: Element, U: Element>(
    dst: &mut (impl Module<T> + ?Sized),
    src: &(impl Module<U> + ?Sized),
) -> Result<()> {
    let mut values: BTreeMap<String, Tensor<U>> =
        src.named_parameters().into_iter().map(|(name, p)| (name, p.value.clone())).collect();
    values.extend(src.named_buffers().into_iter().map(|(name, b)| (name, b.get())));
    let mismatch = |name: &str, reason: String| LayerError::State { name: name.to_string(), reason };
    let mut wanted: Vec<(String, Vec<usize>)> =
        dst.named_parameters().into_iter().map(|(name, p)| (name, p.shape().to_vec())).collect();
    wanted.extend(dst.named_buffers().into_iter().map(|(name, b)| (name, b.shape())));
    for (name, shape) in &wanted {
        let value = values.get(name).ok_or_else(|| mismatch(name, "missing from the source".into()))?;
        if value.shape() != shape.as_slice() {
            return Err(mismatch(name, format!("shape {:?} in the source, {shape:?} here", value.shape())));
        }
    }
    if let Some(extra) = values.keys().find(|name| !wanted.iter().any(|(n, _)| n == *name)) {
        return Err(mismatch(extra, "in the source only".into()));
    }
    let mut convert = |name: &str| -> Result<Tensor<T>> {
        let value = values.remove(name).expect("checked above");
        Ok(Tensor::from_vec(value.shape(), value.iter().map(|v| T::from_f64_lossy(v.to_f64_exact())).collect())?)
    };
    for (name, buffer) in dst.named_buffers() {
        buffer.set(convert(&name)?);
    }
    for (name, param) in dst.named_parameters_mut() {
        param.value = convert(&name)?;
    }
    Ok(())
}

/// Every parameter of `module` as `(name, shape, bit patterns)`, for tests that a run
/// reproduces another bit for bit (`assert_eq!(parameter_bits(&a), parameter_bits(&b))`):
/// unlike `==` on floats, it tells `0.0` from `-0.0` and equates a NaN with itself. Each
/// value is widened exactly to f64 ([`Element::to_f64_exact`]) before taking its bits.
///
/// ```
/// use layers::{Linear, parameter_bits};
/// use rand::SeedableRng;
///
/// let a = Linear::<f32>::new(3, 2, &mut rand::rngs::StdRng::seed_from_u64(4))?;
/// let b = Linear::<f32>::new(3, 2, &mut rand::rngs::StdRng::seed_from_u64(4))?;
/// assert_eq!(parameter_bits(&a), parameter_bits(&b));
/// assert_eq!(parameter_bits(&a)[0].0, "weight");
/// # Ok::<(), layers::LayerError>(())
/// ```
pub fn parameter_bits<T: Element>(module: &(impl Module<T> + ?Sized)) -> Vec<(String, Vec<usize>, Vec<u64>)> {
    module
        .named_parameters()
        .into_iter()
        .map(|(name, p)| (name, p.shape().to_vec(), p.value.iter().map(|x| x.to_f64_exact().to_bits()).collect()))
        .collect()
}
