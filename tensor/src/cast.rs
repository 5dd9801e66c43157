//! Generic element slices seen as `f32`, for the SIMD kernels (which exist for `f32` only):
//! `Some` exactly when the element type is `f32`.

use std::any::TypeId;

/// `&[T]` as `&[f32]` when `T` is `f32`.
pub(crate) fn f32_slice<T: 'static>(s: &[T]) -> Option<&[f32]> {
    // SAFETY: `T` is `f32` (the same type id), so this is the same slice.
    (TypeId::of::<T>() == TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr().cast(), s.len()) })
}

/// `&mut [T]` as `&mut [f32]` when `T` is `f32`.
pub(crate) fn f32_slice_mut<T: 'static>(s: &mut [T]) -> Option<&mut [f32]> {
    if TypeId::of::<T>() != TypeId::of::<f32>() {
        return None;
    }
    // SAFETY: `T` is `f32` (the same type id), so this is the same slice, borrowed once.
    Some(unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast(), s.len()) })
}
