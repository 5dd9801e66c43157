//! A pool of the large buffers a training step allocates, so that the next step takes them
//! back instead of asking the allocator again.
//!
//! See [`BufferPool`] for why and how.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::buffer::{Buffer, Home};

/// Buffers of fewer bytes are not pooled: the allocator's own caches serve small blocks
/// well, and they are not what it hands back to the kernel.
pub const MIN_POOLED_BYTES: usize = 16 << 10;

/// How many times its peak of bytes lent at once a pool may hold idle. More than one: a
/// step also takes scratch buffers that it gives back before taking others of other
/// sizes, so the buffers a step needs add up to more than its peak; with a cap of one peak
/// LeNet-5's steps freed and reallocated five buffers each.
pub const IDLE_PER_PEAK: usize = 2;

/// A pool of large buffers shared by the threads that [enter](BufferPool::enter) it.
/// Cloning gives another handle to the same pool.
///
/// A training step allocates the same few dozen large buffers every time (activations,
/// convolution outputs, pooling winners, gradients) and frees them before the next step.
/// glibc serves blocks above its mmap threshold with `mmap` and gives the top of its heaps
/// back to the kernel once it exceeds the trim threshold, so without a pool every step pays
/// fresh page faults and the kernel's zeroing of those pages: a step ran 1.35–1.4× slower
/// than with the allocator told to keep its memory (`mallopt`), a setting that is the
/// program's to make, not the library's. A [`BufferPool`] keeps the buffers in the process
/// instead, whatever the allocator does.
///
/// How it works: a thread that has [entered](BufferPool::enter) a pool takes its large
/// buffers from it (the tensor kernels ask the pool for their outputs); each such buffer remembers its
/// pool and goes back to it when the last tensor viewing it is dropped, on whichever
/// thread that happens. A thread that has entered none allocates as before.
///
/// Bounded: the idle buffers never exceed [`IDLE_PER_PEAK`] times the most bytes the pool
/// has had lent out at once (a step's working set); a buffer that would go over is freed
/// instead. Dropping the pool frees its idle buffers; buffers still in use
/// are then freed normally when dropped.
///
/// Deterministic: a buffer is handed out either empty (for kernels that write every
/// element) or filled with the caller's value, as a fresh allocation would be, so results do
/// not depend on which buffer was reused.
///
/// ```
/// use tensor::{Tensor, BufferPool};
/// let pool = BufferPool::new();
/// let _entered = pool.enter();
/// for _ in 0..3 {
///     let x = Tensor::<f32>::zeros(&[256, 256])?; // 256 KiB: from the pool after the first
///     drop(x);
/// }
/// let stats = pool.stats();
/// assert_eq!((stats.allocated, stats.reused), (1, 2));
/// # Ok::<(), tensor::TensorError>(())
/// ```
#[derive(Clone, Default)]
pub struct BufferPool {
    pool: Arc<Shared>,
}

/// What a [`BufferPool`] has done, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Requests served by a new allocation (the pool had no buffer of a fitting size).
    pub allocated: u64,
    /// Requests served by a buffer from the pool.
    pub reused: u64,
    /// Buffers freed on their return because the pool was full.
    pub released: u64,
    /// Bytes of the buffers lent out now.
    pub lent_bytes: usize,
    /// The most bytes lent out at once so far; `idle_bytes` stays within
    /// [`IDLE_PER_PEAK`] times it.
    pub peak_lent_bytes: usize,
    /// Bytes of the buffers waiting in the pool.
    pub idle_bytes: usize,
}

#[derive(Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// One free list per element type: `(TypeId::of::<T>(), Box<Vec<Vec<T>>>)`.
    lists: Vec<(TypeId, Box<dyn Any + Send>)>,
    stats: PoolStats,
}

impl State {
    fn list<T: Send + 'static>(&mut self) -> &mut Vec<Vec<T>> {
        let id = TypeId::of::<T>();
        let i = match self.lists.iter().position(|(t, _)| *t == id) {
            Some(i) => i,
            None => {
                self.lists.push((id, Box::new(Vec::<Vec<T>>::new())));
                self.lists.len() - 1
            }
        };
        self.lists[i].1.downcast_mut().expect("the list of its type id")
    }
}

thread_local! {
    /// The pool the current thread has entered, if any.
    static CURRENT: RefCell<Option<BufferPool>> = const { RefCell::new(None) };
}

impl BufferPool {
    /// An empty pool.
    pub fn new() -> Self {
        BufferPool::default()
    }

    /// The pool the current thread has entered, if any. hand it to the threads a step
    /// spawns, so that they draw from the same pool.
    pub fn current() -> Option<BufferPool> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// Makes the current thread take its large buffers from this pool until the guard
    /// is dropped; the guard then restores the pool entered before (entries nest).
    pub fn enter(&self) -> EnteredPool {
        let previous = CURRENT.with(|c| c.replace(Some(self.clone())));
        EnteredPool { previous, _not_send: std::marker::PhantomData }
    }

    /// What the pool has done so far and holds now.
    pub fn stats(&self) -> PoolStats {
        self.pool.lock().stats
    }

    /// Frees every idle buffer (those in use go back to the pool later as usual).
    pub fn clear(&self) {
        let mut state = self.pool.lock();
        state.lists.clear();
        state.stats.idle_bytes = 0;
    }

    /// Whether two handles share one pool.
    pub fn same_pool(&self, other: &BufferPool) -> bool {
        Arc::ptr_eq(&self.pool, &other.pool)
    }
}

impl fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferPool").field("stats", &self.stats()).finish()
    }
}

/// The guard of [`BufferPool::enter`]: leaves the pool when dropped. Not `Send`, since
/// it restores a thread-local setting.
#[must_use = "the pool is left when the guard is dropped"]
pub struct EnteredPool {
    previous: Option<BufferPool>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for EnteredPool {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // During thread teardown the thread-local may be gone already; nothing to restore.
        let _ = CURRENT.try_with(|c| c.replace(previous));
    }
}

impl fmt::Debug for EnteredPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnteredPool")
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent at every await-free step, so a panic elsewhere while
        // it was held does not make it unusable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A buffer with room for `len` elements from the pool (or newly allocated), empty,
    /// whose bytes count as lent until it comes back through [`Shared::give`].
    fn take<T: Send + 'static>(&self, len: usize) -> Vec<T> {
        let mut state = self.lock();
        let list = state.list::<T>();
        // Only a buffer of the exact size: a step asks for the same sizes each time, and a
        // larger buffer taken for a smaller request would leave the larger request that
        // comes next without one (a new allocation every step).
        let data = match list.iter().position(|v| v.capacity() == len) {
            Some(i) => {
                let data = list.swap_remove(i);
                state.stats.reused += 1;
                state.stats.idle_bytes -= bytes_of(&data);
                data
            }
            None => {
                state.stats.allocated += 1;
                Vec::with_capacity(len)
            }
        };
        let s = &mut state.stats;
        s.lent_bytes += bytes_of(&data);
        s.peak_lent_bytes = s.peak_lent_bytes.max(s.lent_bytes);
        data
    }

    /// Takes back a buffer lent as `lent` bytes: kept, emptied, if the idle buffers stay
    /// within the most ever lent at once; freed otherwise.
    fn give<T: Send + 'static>(&self, mut data: Vec<T>, lent: usize) {
        let bytes = bytes_of(&data);
        // `data`, when not kept, is freed after the lock is released (locals drop first).
        let mut state = self.lock();
        state.stats.lent_bytes -= lent;
        if bytes < MIN_POOLED_BYTES {
            return;
        }
        if state.stats.idle_bytes + bytes > IDLE_PER_PEAK * state.stats.peak_lent_bytes {
            state.stats.released += 1;
            return;
        }
        data.clear();
        state.stats.idle_bytes += bytes;
        state.list::<T>().push(data);
    }
}

fn bytes_of<T>(v: &Vec<T>) -> usize {
    v.capacity() * std::mem::size_of::<T>()
}

/// An empty buffer with room for `len` elements: from the current thread's pool when
/// it has entered one and the buffer is large enough to pool, else newly allocated.
pub(crate) fn take<T: Send + 'static>(len: usize) -> Buffer<T> {
    if len.saturating_mul(std::mem::size_of::<T>()) < MIN_POOLED_BYTES {
        return Buffer::from(Vec::with_capacity(len));
    }
    match BufferPool::current() {
        Some(w) => lend(&w.pool, len),
        None => Buffer::from(Vec::with_capacity(len)),
    }
}

/// `len` copies of `value` in a buffer from [`take`].
pub(crate) fn filled<T: Clone + Send + 'static>(len: usize, value: T) -> Buffer<T> {
    let mut buffer = take(len);
    buffer.resize(len, value);
    buffer
}

/// The `len` items in a buffer from [`take`].
pub(crate) fn collected<T: Send + 'static>(len: usize, items: impl Iterator<Item = T>) -> Buffer<T> {
    let mut buffer = take(len);
    buffer.extend(items);
    buffer
}

/// A buffer for `len` elements from `pool`, which it returns to when dropped.
fn lend<T: Send + 'static>(pool: &Arc<Shared>, len: usize) -> Buffer<T> {
    let data = pool.take::<T>(len);
    let home = Home { pool: Arc::downgrade(pool), lent: bytes_of(&data), give: give::<T>, take: retake::<T> };
    Buffer::with_home(data, home)
}

fn give<T: Send + 'static>(pool: &Weak<Shared>, data: Vec<T>, lent: usize) {
    if let Some(pool) = pool.upgrade() {
        pool.give(data, lent);
    }
}

/// Another buffer from the pool a buffer came from (a copy-on-write copy of it), or a new
/// one when that pool is gone.
fn retake<T: Send + 'static>(pool: &Weak<Shared>, len: usize) -> Buffer<T> {
    match pool.upgrade() {
        Some(pool) => lend(&pool, len),
        None => Buffer::from(Vec::with_capacity(len)),
    }
}
