//! A `Trainer`'s steps reuse their large buffers: once the first steps have filled its
//! `BufferPool`, a step asks the allocator for no block of `MIN_POOLED_BYTES` or more, so
//! its speed does not depend on how the allocator treats large blocks (glibc would `mmap`
//! and trim them). The same steps outside a pool ask for dozens, which shows the counter
//! sees them; and the pool changes no result (the gradients bit for bit).
//!
//! The test binary installs a global allocator that counts large allocations, so this is
//! measured, not assumed. `matrixmultiply` allocates its packing buffers on every product,
//! out of the library's reach; they are aligned to at least 16 bytes on x86-64 (its SIMD
//! kernels' alignment), whereas a tensor's storage is aligned to its element (4 or 8), which
//! is how the counter tells them apart.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use models::prelude::*;
use models::train::forward_backward_step;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{BufferPool, MIN_POOLED_BYTES, Tensor};

struct Counting;

/// Large allocations (and reallocations to a large size) with an element's alignment.
static LARGE: AtomicUsize = AtomicUsize::new(0);

fn note(layout: Layout, size: usize) {
    if size >= MIN_POOLED_BYTES && layout.align() <= 8 {
        LARGE.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call forwards to the system allocator with the caller's arguments; the
// bookkeeping is one atomic add (no allocation).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout, layout.size());
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout, layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(layout, new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The tests of this binary run one at a time: the counter is the process's.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn large() -> usize {
    LARGE.load(Ordering::Relaxed)
}

/// The CNN (not LeNet-5): a padded 3×3 convolution, a strided one, an overlapping
/// max-pool, two linear layers.
fn network(seed: u64) -> Box<dyn Module<f32>> {
    let net = Sequential::input([1, 28, 28])
        .with(LazyConv2d::new(16, 3).padding(1))
        .with(ReLU)
        .with(LazyConv2d::new(32, 3).stride(2).padding(1))
        .with(ReLU)
        .with(MaxPool2d::with_window(Window2d::square(3, 2, 0)).unwrap())
        .with(Flatten)
        .with(LazyLinear::new(64))
        .with(ReLU)
        .with(LazyLinear::new(10))
        .build(seed)
        .unwrap();
    Box::new(net)
}

fn images(n: usize) -> (Tensor<f32>, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(7);
    let x = Tensor::<f32>::rand_uniform(&[n, 1, 28, 28], 0.0, 1.0, &mut rng).unwrap();
    (x, (0..n).map(|i| (i * 7) % 10).collect())
}

/// The large allocations of each of the first `steps` steps of a `Trainer` on `threads`.
fn trainer_steps(threads: usize, steps: usize) -> Vec<usize> {
    let (x, labels) = images(steps * 32);
    let data = TensorSet::new(&x, labels, 10).unwrap();
    let config = TrainConfig { epochs: 1, threads, batch_size: 32, seed: 1, ..TrainConfig::default() };
    let mut trainer = Trainer::new(network(1), config, Preprocess::fit(&data, 0).unwrap()).unwrap();
    let mut at_step = vec![large()];
    trainer
        .advance(&data, &data, |report| {
            at_step.push(large());
            assert!(report.loss.is_finite());
            Flow::Continue
        })
        .unwrap();
    at_step.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn a_trainers_steady_steps_allocate_no_large_buffer() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let one = trainer_steps(1, 8);
    // The first step fills the pool: an output and a gradient per layer at least (the
    // exact count moves whenever a buffer is reused within the step).
    assert!(one[0] >= 10, "the first step fills the pool: {one:?}");
    assert_eq!(one[2..], [0; 6], "large allocations per step, 1 thread: {one:?}");
    // On two threads a buffer size that both shards happen to hold at once for the first
    // time (their scratch overlapping) takes a second buffer then, at most once per size.
    let two = trainer_steps(2, 20);
    let late: usize = two[10..].iter().sum();
    assert!(late <= 2, "large allocations per step, 2 threads: {two:?}");
}

#[test]
fn without_a_pool_the_same_steps_allocate_large_buffers_and_the_same_gradients() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (x, labels) = images(64);
    let net = network(2);
    let grads = || {
        let before = large();
        let outcome = forward_backward_step(net.as_ref(), &x, &labels, 1, 0, 0).unwrap();
        let allocated = large() - before;
        let mut bits: Vec<(String, Vec<u32>)> = outcome
            .grads
            .params()
            .map(|(id, g)| (format!("{id:?}"), g.to_vec().iter().map(|v| v.to_bits()).collect()))
            .collect();
        bits.sort();
        (bits, allocated)
    };
    let (plain, allocated) = grads();
    assert!(allocated >= 20, "only {allocated} large allocations in a step without a pool");
    let pool = BufferPool::new();
    let _entered = pool.enter();
    for round in 0..3 {
        let (pooled, allocated) = grads();
        assert!(pooled == plain, "round {round}: gradients differ with a pool");
        if round > 0 {
            assert_eq!(allocated, 0, "round {round}");
        }
    }
}
