//! A convolution after a batch norm keeps the batch norm's recipe, not its own input, and
//! computes the input again image by image in its backward pass; a convolution whose input's
//! gradient the tape has summed already adds `∇x` into that sum. Both must give the
//! gradients of the plain ops bit for bit, and finite differences in f64.

use autograd::{Kept, Tape, Var};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Activation, BufferPool, Tensor, Window2d};

use crate::common::{check_gradients, config, random_tensor, weighted_sum};

const PAD1: Window2d = Window2d { kernel: [3, 3], stride: [1, 1], padding: [1, 1] };

fn uniform(shape: &[usize], seed: u64) -> Tensor<f32> {
    Tensor::rand_uniform(shape, -1.0, 1.0, &mut StdRng::seed_from_u64(seed)).unwrap()
}

/// `L = Σ conv(act(bn(conv(x, W₁))), W₂)²` with the activation fused into the batch norm
/// (`fused`, whose output is then released as `forward_chain` does) or as its own op.
fn bn_chain<'t>(inputs: &[Var<'t, f32>], fused: bool, act: Option<Activation>) -> Var<'t, f32> {
    let [x, w1, gamma, beta, w2] = inputs else { panic!("five inputs") };
    let z = x.conv2d(*w1, None, &PAD1).unwrap();
    let y = match (fused, act) {
        (true, _) => z.batch_norm_train_activated(*gamma, *beta, 1e-5, None, act).unwrap().y,
        (false, Some(_)) => z.batch_norm_train(*gamma, *beta, 1e-5, None).unwrap().y.relu().unwrap(),
        (false, None) => z.batch_norm_train(*gamma, *beta, 1e-5, None).unwrap().y,
    };
    let out = y.conv2d(*w2, None, &PAD1).unwrap();
    if fused {
        y.release();
    }
    out.mul(out).unwrap().sum().unwrap()
}

fn bn_chain_grads(fused: bool, act: Option<Activation>, retain: bool) -> Vec<Vec<f32>> {
    let mut tape = Tape::<f32>::new();
    tape.set_retain_graph(retain);
    let shapes: [&[usize]; 5] = [&[3, 4, 6, 5], &[8, 4, 3, 3], &[8], &[8], &[5, 8, 3, 3]];
    let inputs: Vec<_> = shapes.iter().enumerate().map(|(i, s)| tape.leaf(uniform(s, i as u64))).collect();
    let loss = bn_chain(&inputs, fused, act);
    let grads = tape.backward(loss).unwrap();
    inputs.iter().map(|v| grads.get(*v).unwrap().to_vec()).collect()
}

#[test]
fn a_convolution_after_batch_norm_gives_the_plain_ops_gradients_bit_for_bit() {
    for act in [Some(Activation::Relu), None] {
        let plain = bn_chain_grads(false, act, false);
        assert_eq!(bn_chain_grads(true, act, false), plain, "{act:?}, the graph dropped as it goes");
        assert_eq!(bn_chain_grads(true, act, true), plain, "{act:?}, a retained graph");
    }
}

#[test]
fn the_batch_norms_output_goes_back_once_released() {
    let pool = BufferPool::new();
    let _entered = pool.enter();
    let tape = Tape::<f32>::new();
    let x = tape.leaf(uniform(&[4, 8, 16, 16], 1)); // 32 KiB per activation: pooled
    let (w1, w2) = (tape.leaf(uniform(&[8, 8, 3, 3], 2)), tape.leaf(uniform(&[8, 8, 3, 3], 3)));
    let (gamma, beta) = (tape.leaf(uniform(&[8], 4)), tape.leaf(uniform(&[8], 5)));
    let z = x.conv2d(w1, None, &PAD1).unwrap();
    let y = z.batch_norm_train_activated(gamma, beta, 1e-5, None, Some(Activation::Relu)).unwrap().y;
    assert!(y.kept().is_recomputed(), "batch norm registers its output's recipe");
    assert!(!z.kept().is_recomputed(), "a convolution registers none");
    let out = y.conv2d(w2, None, &PAD1).unwrap();
    let lent = pool.stats().lent_bytes;
    let expected = y.value();
    y.release();
    let kept: Kept<f32> = y.kept();
    assert_eq!(kept.get().unwrap().to_vec(), expected.to_vec(), "the recipe gives the output's bits");
    drop(expected);
    assert_eq!(pool.stats().lent_bytes, lent - 4 * 8 * 16 * 16 * 4, "y's buffer went back");
    let loss = out.sum().unwrap();
    assert!(tape.backward(loss).unwrap().get(w2).is_some());
}

/// `L = Σ w ⊙ (conv(x, W) + s·x)`: `x` read by the convolution and, recorded after it, by
/// a scale, whose gradient the tape holds when the convolution's VJP runs.
fn residual_grads(retain: bool) -> Vec<Vec<f32>> {
    let mut tape = Tape::<f32>::new();
    tape.set_retain_graph(retain);
    let x = tape.leaf(uniform(&[3, 8, 7, 6], 10));
    let w = tape.leaf(uniform(&[8, 8, 3, 3], 11));
    let weights = tape.constant(uniform(&[3, 8, 7, 6], 12));
    let t = x.conv2d(w, None, &PAD1).unwrap();
    let loss = t.add(x.scale(0.5).unwrap()).unwrap().mul(weights).unwrap().sum().unwrap();
    let grads = tape.backward(loss).unwrap();
    [x, w].iter().map(|v| grads.get(*v).unwrap().to_vec()).collect()
}

#[test]
fn a_convolution_adding_into_the_summed_gradient_gives_the_same_bits() {
    // A retained graph runs each op's plain VJP and the tape adds the contributions.
    assert_eq!(residual_grads(false), residual_grads(true));
}

proptest! {
    #![proptest_config(config(8))]

    #[test]
    fn conv_after_batch_norm_and_summed_input_gradients_pass_gradcheck(seed in any::<u64>(), relu in any::<bool>()) {
        let act = relu.then_some(Activation::Relu);
        let shapes: [&[usize]; 5] = [&[2, 2, 4, 3], &[3, 2, 3, 3], &[3], &[3], &[2, 3, 3, 3]];
        let inputs: Vec<Tensor<f64>> =
            shapes.iter().enumerate().map(|(i, s)| random_tensor(s, seed.wrapping_add(i as u64))).collect();
        // conv(act(bn(conv(x)))) + conv(x)·… : the first convolution's input x is also read
        // by a later op, so its gradient is summed before that convolution's VJP runs.
        check_gradients(
            |_, v| {
                let z = v[0].conv2d(v[1], None, &PAD1)?;
                let y = z.batch_norm_train_activated(v[2], v[3], 1e-5, None, act)?.y;
                let out = y.conv2d(v[4], None, &PAD1)?;
                y.release();
                let skip = v[0].sum()?.reshape(&[1])?;
                let l = weighted_sum(out, seed)?;
                l.reshape(&[1])?.add(skip)?.sum()
            },
            &inputs,
        )?;
    }
}
