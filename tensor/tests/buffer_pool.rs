//! `BufferPool`: a buffer comes back to the pool and is reused for a request of its size;
//! a reused buffer holds what a fresh one would (results bit for bit as without a pool);
//! buffers return from any thread and outlive their pool safely; the idle buffers stay
//! within the bound; small buffers and threads that entered no pool are left alone.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{
    Activation, BufferPool, IDLE_PER_PEAK, MIN_POOLED_BYTES, Tensor, Window2d, conv2d_activated,
    conv2d_activated_backward, max_pool2d, max_pool2d_backward,
};

/// Elements of an f32 buffer of `MIN_POOLED_BYTES · k` bytes.
fn pooled_len(k: usize) -> usize {
    k * MIN_POOLED_BYTES / 4
}

/// A tensor of `n` ones lent by `pool`, made on a thread that then leaves the pool.
fn lent_ones(pool: &BufferPool, n: usize) -> Tensor<f32> {
    let _entered = pool.enter();
    Tensor::<f32>::ones(&[n]).unwrap()
}

#[test]
fn a_buffer_of_the_same_size_is_reused() {
    let pool = BufferPool::new();
    let _entered = pool.enter();
    let n = pooled_len(4);
    let first = Tensor::<f32>::zeros(&[n]).unwrap();
    let at = first.storage().as_ptr();
    drop(first);
    let second = Tensor::<f32>::ones(&[n]).unwrap();
    assert_eq!(second.storage().as_ptr(), at, "the second buffer is the first one, back from the pool");
    let other_size = Tensor::<f32>::zeros(&[n + 1]).unwrap();
    assert_ne!(other_size.storage().as_ptr(), at);
    let s = pool.stats();
    assert_eq!((s.allocated, s.reused), (2, 1));
    assert_eq!(s.lent_bytes, (2 * n + 1) * 4);
}

#[test]
fn a_reused_buffer_holds_what_a_new_one_would() {
    let pool = BufferPool::new();
    let _entered = pool.enter();
    let n = pooled_len(2);
    let mut dirty = Tensor::<f32>::zeros(&[n]).unwrap();
    dirty.fill(7.5);
    drop(dirty);
    let zeros = Tensor::<f32>::zeros(&[n]).unwrap();
    assert!(zeros.storage().iter().all(|&v| v.to_bits() == 0), "every element +0.0");
    drop(zeros);
    let mut dirty = Tensor::<f32>::zeros(&[n]).unwrap();
    dirty.fill(f32::NAN);
    drop(dirty);
    // A map writes every element of a buffer it takes empty.
    let x = Tensor::<f32>::from_fn(&[n], |i| i[0] as f32).unwrap();
    let doubled = x.map(|v| 2.0 * v);
    assert_eq!(doubled.to_vec(), (0..n).map(|i| 2.0 * i as f32).collect::<Vec<_>>());
    assert!(pool.stats().reused >= 2);
}

/// A convolution, ReLU, max-pool and matrix product, forward and backward.
fn step(x: &Tensor<f32>, w: &Tensor<f32>, b: &Tensor<f32>, fc: &Tensor<f32>) -> Vec<Vec<u32>> {
    let window = Window2d::square(3, 1, 1);
    let y = conv2d_activated(x, w, Some(b), &window, Some(Activation::Relu)).unwrap();
    let (p, argmax) = max_pool2d(&y, &Window2d::square(2, 2, 0)).unwrap();
    let flat = p.reshape(&[p.shape()[0], p.numel() / p.shape()[0]]).unwrap();
    let out = flat.matmul(fc).unwrap();
    let g_flat = out.matmul(&fc.permute(&[1, 0]).unwrap()).unwrap();
    let g_p = g_flat.reshape(p.shape()).unwrap();
    let g_y = max_pool2d_backward(&g_p, &argmax).unwrap();
    let grads =
        conv2d_activated_backward(x, w, &window, &g_y, Some((Activation::Relu, &y)), [true, true, true]).unwrap();
    let bits = |t: &Tensor<f32>| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
    vec![bits(&out), bits(&grads.input.unwrap()), bits(&grads.weight.unwrap()), bits(&grads.bias.unwrap())]
}

#[test]
fn results_are_bit_identical_with_and_without_a_pool() {
    let mut rng = StdRng::seed_from_u64(25);
    let x = Tensor::<f32>::rand_normal(&[16, 3, 20, 20], 0.0, 1.0, &mut rng).unwrap();
    let w = Tensor::<f32>::rand_normal(&[8, 3, 3, 3], 0.0, 0.3, &mut rng).unwrap();
    let b = Tensor::<f32>::rand_normal(&[8], 0.0, 0.1, &mut rng).unwrap();
    let fc = Tensor::<f32>::rand_normal(&[8 * 10 * 10, 10], 0.0, 0.05, &mut rng).unwrap();
    let without = step(&x, &w, &b, &fc);
    let pool = BufferPool::new();
    let _entered = pool.enter();
    for round in 0..3 {
        assert!(step(&x, &w, &b, &fc) == without, "round {round} differs from the run without a pool");
    }
    let s = pool.stats();
    assert!(s.reused > 0 && s.allocated > 0, "{s:?}");
    assert_eq!(s.lent_bytes, 0, "every buffer of the steps came back: {s:?}");
}

#[test]
fn steady_steps_allocate_nothing_new() {
    let mut rng = StdRng::seed_from_u64(3);
    let x = Tensor::<f32>::rand_normal(&[16, 3, 20, 20], 0.0, 1.0, &mut rng).unwrap();
    let w = Tensor::<f32>::rand_normal(&[8, 3, 3, 3], 0.0, 0.3, &mut rng).unwrap();
    let b = Tensor::<f32>::zeros(&[8]).unwrap();
    let fc = Tensor::<f32>::rand_normal(&[800, 10], 0.0, 0.05, &mut rng).unwrap();
    let pool = BufferPool::new();
    let _entered = pool.enter();
    step(&x, &w, &b, &fc);
    let warm = pool.stats();
    for _ in 0..3 {
        step(&x, &w, &b, &fc);
    }
    let s = pool.stats();
    assert_eq!(s.allocated, warm.allocated, "{warm:?} then {s:?}");
    assert_eq!(s.released, 0);
    assert_eq!(s.reused - warm.reused, 3 * (warm.allocated + warm.reused));
}

#[test]
fn idle_buffers_stay_within_the_bound() {
    let pool = BufferPool::new();
    let _entered = pool.enter();
    // One buffer at a time, each of a new size: the peak is the largest, and without a
    // bound the pool would keep all fifty.
    for k in 1..=50 {
        drop(Tensor::<f32>::zeros(&[pooled_len(k)]).unwrap());
        let s = pool.stats();
        assert!(s.idle_bytes <= IDLE_PER_PEAK * s.peak_lent_bytes, "after {k}: {s:?}");
    }
    let s = pool.stats();
    assert_eq!(s.peak_lent_bytes, 50 * MIN_POOLED_BYTES);
    assert!(s.released > 0, "{s:?}");
    pool.clear();
    assert_eq!(pool.stats().idle_bytes, 0);
}

#[test]
fn buffers_return_from_other_threads_and_outlive_their_pool() {
    let pool = BufferPool::new();
    let n = pooled_len(3);
    let t = lent_ones(&pool, n);
    assert_eq!(pool.stats().lent_bytes, n * 4);
    std::thread::spawn(move || drop(t)).join().unwrap();
    assert_eq!((pool.stats().lent_bytes, pool.stats().idle_bytes), (0, n * 4));

    let survivor = lent_ones(&pool, n);
    drop(pool);
    assert_eq!(survivor.sum_all(), n as f32);
    drop(survivor); // back to no pool: freed
}

#[test]
fn a_copy_on_write_copy_comes_from_the_same_pool() {
    let pool = BufferPool::new();
    let n = pooled_len(2);
    let a = lent_ones(&pool, n);
    let mut b = a.clone();
    b.as_mut_slice()[0] = 3.0;
    assert_eq!((a.get(&[0]).unwrap(), b.get(&[0]).unwrap()), (1.0, 3.0));
    assert_eq!(pool.stats().lent_bytes, 2 * n * 4, "the copy was lent by the pool too");
}

#[test]
fn small_buffers_and_threads_without_a_pool_are_left_alone() {
    let pool = BufferPool::new();
    {
        let _entered = pool.enter();
        drop(Tensor::<f32>::zeros(&[pooled_len(1) - 1]).unwrap());
    }
    drop(Tensor::<f32>::zeros(&[pooled_len(8)]).unwrap());
    assert_eq!(pool.stats(), Default::default());
}

#[test]
fn entries_nest() {
    let (outer, inner) = (BufferPool::new(), BufferPool::new());
    assert!(BufferPool::current().is_none());
    let _a = outer.enter();
    {
        let _b = inner.enter();
        assert!(BufferPool::current().unwrap().same_pool(&inner));
    }
    assert!(BufferPool::current().unwrap().same_pool(&outer));
}

/// The bytes the pool lent at most during the convolution's VJP of a batch of `n` images
/// read from an image source, `∇x` added into a contiguous sum; checks the numbers against
/// the plain VJP.
fn peak_lent_by_vjp_into_a_sum(n: usize) -> usize {
    let mut rng = StdRng::seed_from_u64(9);
    let g = Window2d { kernel: [3, 3], stride: [1, 1], padding: [1, 1] };
    let x = Tensor::<f32>::rand_uniform(&[n, 16, 16, 16], -1.0, 1.0, &mut rng).unwrap();
    let w = Tensor::<f32>::rand_uniform(&[16, 16, 3, 3], -1.0, 1.0, &mut rng).unwrap();
    let gy = Tensor::<f32>::rand_uniform(&[n, 16, 16, 16], -1.0, 1.0, &mut rng).unwrap();
    let plain = tensor::conv2d_backward(&x, &w, &g, &gy, [true, true, false]).unwrap();
    let want_sum: Vec<f32> = x.to_vec().iter().zip(plain.input.unwrap().to_vec()).map(|(a, b)| a + b).collect();

    let mut sum = Tensor::from_vec(x.shape(), x.to_vec()).unwrap();
    let pool = BufferPool::new();
    let _entered = pool.enter();
    let source = tensor::ConvInput::Images(&x as &dyn tensor::ImageSource<f32>);
    let g =
        tensor::conv2d_activated_backward_with(source, &w, &g, &gy, None, [true, true, false], Some(&mut sum)).unwrap();
    assert!(g.input.is_none());
    assert_eq!(g.weight.unwrap().to_vec(), plain.weight.unwrap().to_vec());
    assert_eq!(sum.to_vec(), want_sum);
    pool.stats().peak_lent_bytes
}

/// The convolution's VJP reading its input from an image source and adding `∇x` into a
/// contiguous sum takes no buffer that grows with the batch (f32, the direct kernels): only
/// the kernels' per-image scratch. `TENSOR_KERNELS=im2col` checks the numbers only.
#[test]
fn a_vjp_from_an_image_source_into_a_sum_takes_no_buffer_of_the_batch_size() {
    let (small, large) = (peak_lent_by_vjp_into_a_sum(4), peak_lent_by_vjp_into_a_sum(32));
    if tensor::KernelPath::selected() == tensor::KernelPath::Im2col {
        // The reference path gathers the images into one tensor (the numbers are checked).
        return;
    }
    let input_bytes = 32 * 16 * 16 * 16 * 4;
    assert!(large < input_bytes, "{large} bytes lent for a {input_bytes}-byte input");
    assert_eq!(small, large, "the same scratch for 4 and 32 images");
}

/// `Tensor::from_chunks` in a reused buffer that held other values: each chunk is zero
/// where `write` leaves it alone (not what the buffer held), and holds what `write` put
/// elsewhere, chunk by chunk in order; a chunk that does not divide the count is an error,
/// and an empty shape asks for no chunk.
#[test]
fn from_chunks_zeroes_each_chunk_of_a_reused_buffer() {
    let pool = BufferPool::new();
    let _entered = pool.enter();
    let n = pooled_len(4);
    drop(Tensor::<f32>::full(&[n], 7.0).unwrap());
    let mut order = Vec::new();
    let t = Tensor::<f32>::from_chunks(&[n / 4, 4], 4, |k, chunk| {
        order.push(k);
        chunk[k % 4] = k as f32 + 1.0;
    })
    .unwrap();
    assert_eq!(order, (0..n / 4).collect::<Vec<_>>());
    for (k, chunk) in t.to_vec().chunks_exact(4).enumerate() {
        let want: Vec<f32> = (0..4).map(|i| if i == k % 4 { k as f32 + 1.0 } else { 0.0 }).collect();
        assert_eq!(chunk, want.as_slice(), "chunk {k}");
    }
    assert!(matches!(
        Tensor::<f32>::from_chunks(&[2, 3], 4, |_, _| {}),
        Err(tensor::TensorError::InvalidArgument { op: "from_chunks", .. })
    ));
    assert!(Tensor::<f32>::from_chunks(&[2, 3], 0, |_, _| {}).is_err());
    let mut calls = 0;
    assert_eq!(Tensor::<f32>::from_chunks(&[0, 3], 3, |_, _| calls += 1).unwrap().shape(), [0, 3]);
    assert_eq!(calls, 0);
}
