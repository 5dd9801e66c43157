//! Weights prepared for the tile kernels (packed in vectors of filters, their taps listed),
//! kept across the calls of the inference ops ([`conv2d_pair`](crate::conv2d_pair),
//! [`conv2d_pooled`](crate::conv2d_pooled), [`conv2d_dense`](crate::conv2d_dense)) as
//! ONNX Runtime packs its weights once per session. Packed per call, the stride-2
//! network's fully connected layer (1,568 × 10 weights per batch of 64) took 4 % of its
//! inference.
//!
//! A tensor's storage is never written while it is shared (copy-on-write): an entry holds a
//! clone of the weight, so it stays right for as long as a caller gives the same view of
//! the same storage with the same key. A parameter updated in place (an optimizer step)
//! gets a fresh storage and is prepared again on its next call; the stale entry ages out.
//! A weight made per call (batch norm folded in) never hits and only takes a slot.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use crate::tensor::Tensor;
use crate::window::Window2d;

/// Entries kept per thread, the least recently used dropped first: more than the
/// convolutions and layers of a small network (resnet20 has 22). Each thread has its own
/// (the training stack's threads live as long as the process), so a call never waits for
/// another; what an entry holds stays alive until it ages out or its thread ends.
const ENTRIES: usize = 64;

struct Entry {
    weight: Tensor<f32>,
    key: Vec<usize>,
    value: Rc<dyn Any>,
}

thread_local! {
    static CACHE: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// `make()`, the preparation of `weight` that `key` describes (everything it depends on but
/// the weight's values), from the cache when an entry holds the same view of the same
/// storage and the same key; kept there when `weight` is given, else made for this call.
pub(crate) fn prepared<V: Any>(weight: Option<&Tensor<f32>>, key: Vec<usize>, make: impl FnOnce() -> V) -> Rc<V> {
    let Some(weight) = weight else { return Rc::new(make()) };
    let same = |e: &Entry| {
        e.key == key
            && e.weight.shares_storage_with(weight)
            && e.weight.offset() == weight.offset()
            && e.weight.shape() == weight.shape()
            && e.weight.strides() == weight.strides()
    };
    let hit = CACHE.with_borrow_mut(|cache| {
        let entry = cache.remove(cache.iter().position(same)?);
        let value = Rc::clone(&entry.value);
        cache.push(entry);
        value.downcast::<V>().ok()
    });
    if let Some(v) = hit {
        return v;
    }
    let v = Rc::new(make());
    CACHE.with_borrow_mut(|cache| {
        if cache.len() >= ENTRIES {
            cache.remove(0);
        }
        cache.push(Entry { weight: weight.clone(), key, value: v.clone() });
    });
    v
}

/// A key of `head` (a tag per kind of preparation, then the sizes it depends on) and the
/// window `g` it packs for.
pub(crate) fn window_key(head: &[usize], g: &Window2d) -> Vec<usize> {
    [head, &g.kernel, &g.stride, &g.padding].concat()
}

#[cfg(test)]
mod tests {
    use super::prepared;
    use crate::tensor::Tensor;

    /// The same weight and key hit; another key, another storage with equal values, or
    /// the weight after a write (copy-on-write: a fresh storage) are prepared again; no
    /// weight, never kept.
    #[test]
    fn an_entry_serves_only_the_same_storage_view_and_key() {
        let calls = std::cell::Cell::new(0);
        let make = || {
            calls.set(calls.get() + 1);
            calls.get()
        };
        let mut w = Tensor::<f32>::from_vec(&[2, 3], vec![1.0; 6]).unwrap();
        let key = vec![usize::MAX, 7, 1];
        let first = *prepared(Some(&w), key.clone(), make);
        assert_eq!(*prepared(Some(&w), key.clone(), make), first);
        assert_eq!(*prepared(Some(&w.clone()), key.clone(), make), first);
        assert_ne!(*prepared(Some(&w), vec![usize::MAX, 7, 2], make), first);
        let twin = Tensor::<f32>::from_vec(&[2, 3], vec![1.0; 6]).unwrap();
        assert_ne!(*prepared(Some(&twin), key.clone(), make), first);
        assert_ne!(*prepared(Some(&w.reshape(&[3, 2]).unwrap()), key.clone(), make), first);
        w.as_mut_slice()[0] = 2.0;
        let after = *prepared(Some(&w), key.clone(), make);
        assert_ne!(after, first);
        assert_eq!(*prepared(Some(&w), key.clone(), make), after);
        let before = calls.get();
        prepared(None, key.clone(), make);
        prepared(None, key, make);
        assert_eq!(calls.get(), before + 2);
    }
}
