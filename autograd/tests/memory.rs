//! What a tape keeps alive: values released by the forward pass ([`Var::release`]) and the
//! ops a backward pass has run ([`Tape::set_retain_graph`]).

use std::rc::Rc;

use autograd::{AutogradError, Op, Tape};
use tensor::{BufferPool, Tensor};

/// `y = x`, holding a counted token so that the test sees when the tape drops it.
struct Holder {
    _token: Rc<()>,
}

impl Op<f32> for Holder {
    fn name(&self) -> &'static str {
        "holder"
    }

    fn vjp(&self, grad: &Tensor<f32>, wanted: &[bool]) -> autograd::Result<Vec<Option<Tensor<f32>>>> {
        Ok(wanted.iter().map(|&w| w.then(|| grad.clone())).collect())
    }
}

fn ramp(n: usize) -> Tensor<f32> {
    Tensor::from_vec(&[n], (0..n).map(|i| i as f32 - n as f32 / 2.0).collect()).unwrap()
}

#[test]
fn backward_drops_each_op_it_ran_and_a_second_pass_is_refused() {
    let token = Rc::new(());
    let tape = Tape::<f32>::new();
    let x = tape.leaf(ramp(4));
    let y = tape.record(&[x], x.value(), || Holder { _token: Rc::clone(&token) }).unwrap();
    let loss = y.sum().unwrap();
    assert_eq!(Rc::strong_count(&token), 2);
    let grads = tape.backward(loss).unwrap();
    assert_eq!(grads.get(x).unwrap().to_vec(), vec![1.0; 4]);
    assert_eq!(Rc::strong_count(&token), 1, "the op and what it saved are gone after its VJP ran");
    assert_eq!(tape.backward(loss).err(), Some(AutogradError::GraphFreed { op: "sum" }));
    // The values stay readable.
    assert_eq!(y.value().to_vec(), ramp(4).to_vec());
}

#[test]
fn a_retained_graph_keeps_its_ops_and_walks_again() {
    let token = Rc::new(());
    let mut tape = Tape::<f32>::new();
    tape.set_retain_graph(true);
    let x = tape.leaf(ramp(4));
    let y = tape.record(&[x], x.value(), || Holder { _token: Rc::clone(&token) }).unwrap();
    let loss = y.scale(3.0).unwrap().sum().unwrap();
    let first = tape.backward(loss).unwrap().get(x).unwrap().to_vec();
    assert_eq!(Rc::strong_count(&token), 2);
    let second = tape.backward(loss).unwrap().get(x).unwrap().to_vec();
    assert_eq!(first, vec![3.0; 4]);
    assert_eq!(first, second);
}

#[test]
fn a_released_value_goes_back_unless_a_vjp_keeps_it() {
    let n = 1 << 16; // 256 KiB of f32: pooled
    let bytes = n * 4;
    let pool = BufferPool::new();
    let _entered = pool.enter();
    let tape = Tape::<f32>::new();
    let x = tape.leaf(ramp(n));

    // An addition keeps neither its inputs nor its output.
    let a = x.add(x).unwrap();
    let lent = pool.stats().lent_bytes;
    let b = a.scale(0.5).unwrap();
    assert_eq!(pool.stats().lent_bytes, lent + bytes);
    a.release();
    assert_eq!(pool.stats().lent_bytes, lent, "the sum's buffer went back to the pool");
    assert_eq!(a.shape(), vec![n]);

    // A ReLU keeps its output for its VJP: releasing it frees nothing.
    let r = b.relu().unwrap();
    let loss = r.sum().unwrap();
    let lent = pool.stats().lent_bytes;
    r.release();
    b.release();
    assert_eq!(pool.stats().lent_bytes, lent - bytes, "b goes; r stays, for the ReLU's VJP");

    // Gradients still flow through released values: L = Σ relu(½(x + x)), ∇x = 1(x > 0).
    let grads = tape.backward(loss).unwrap();
    let expected: Vec<f32> = ramp(n).iter().map(|v| if v > 0.0 { 1.0 } else { 0.0 }).collect();
    assert_eq!(grads.get(x).unwrap().to_vec(), expected);
}

#[test]
#[should_panic(expected = "was released")]
fn reading_a_released_value_panics() {
    let tape = Tape::<f32>::no_grad();
    let x = tape.constant(ramp(4));
    let y = x.scale(2.0).unwrap();
    y.release();
    let _ = y.value();
}

/// Buffers the pool had to allocate during `backward` of `L = Σ (x·1)·W`, `x: [256, 64]`
/// (pooled), and `∇x`.
fn backward_allocations(retain: bool) -> (u64, Vec<f32>) {
    let pool = BufferPool::new();
    let _entered = pool.enter();
    let mut tape = Tape::<f32>::new();
    tape.set_retain_graph(retain);
    let x = tape.leaf(Tensor::from_vec(&[256, 64], (0..256 * 64).map(|i| (i % 7) as f32 - 3.0).collect()).unwrap());
    let w = tape.leaf(Tensor::from_vec(&[64, 4], (0..64 * 4).map(|i| (i % 5) as f32 * 0.5).collect()).unwrap());
    let a = x.scale(1.0).unwrap();
    let loss = a.matmul(w).unwrap().sum().unwrap();
    a.release();
    let before = pool.stats().allocated;
    let grads = tape.backward(loss).unwrap();
    (pool.stats().allocated - before, grads.get(x).unwrap().to_vec())
}

#[test]
fn the_last_matmul_vjp_lets_its_input_go_before_the_input_gradient_is_allocated() {
    let (freeing, gx) = backward_allocations(false);
    let (retaining, gx_retained) = backward_allocations(true);
    assert_eq!(gx, gx_retained, "the same numbers either way");
    // ∇x = ∇a = 1·Wᵀ summed per row: row sums of W for every row of x.
    let w_rows: Vec<f32> = (0..64).map(|r| (0..4).map(|c| ((r * 4 + c) % 5) as f32 * 0.5).sum()).collect();
    assert_eq!(gx, (0..256 * 64).map(|i| w_rows[i % 64]).collect::<Vec<_>>());
    assert_eq!(retaining, freeing + 1, "∇a took a's buffer instead of a new one");
}
