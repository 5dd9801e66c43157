//! Hand-computed VJPs on small literal matrices. Every expected value is worked out in the
//! comments, so that these tests pin the conventions (bias gradient = column sum, softmax
//! cross-entropy gradient = (P − Y)/N, ties to the first maximum, ReLU'(0) = 0) that
//! gradcheck cannot decide at a kink.

use crate::common;

use autograd::Tape;
use common::assert_close;
use tensor::{Tensor, Window2d};

fn t(shape: &[usize], data: &[f64]) -> Tensor<f64> {
    Tensor::from_vec(shape, data.to_vec()).unwrap()
}

#[test]
fn matmul_vjp_by_hand() {
    // A = [1 2 3; 4 5 6], B = [1 0; 0 1; 1 1], Z = A·B = [4 5; 10 11].
    // Seed G = [1 2; 3 −1].
    // ∇A = G·Bᵀ, Bᵀ = [1 0 1; 0 1 1]:  row 1: [1 2]·Bᵀ = [1, 2, 1+2] = [1 2 3]
    //                                 row 2: [3 −1]·Bᵀ = [3, −1, 3−1] = [3 −1 2]
    // ∇B = Aᵀ·G, Aᵀ = [1 4; 2 5; 3 6]: row 1: [1·1+4·3, 1·2+4·(−1)] = [13 −2]
    //                                 row 2: [2+15, 4−5] = [17 −1]
    //                                 row 3: [3+18, 6−6] = [21 0]
    let tape = Tape::<f64>::new();
    let a = tape.leaf(t(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    let b = tape.leaf(t(&[3, 2], &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]));
    let z = a.matmul(b).unwrap();
    assert_eq!(z.value().to_vec(), vec![4.0, 5.0, 10.0, 11.0]);
    let grads = tape.backward_with_seed(z, t(&[2, 2], &[1.0, 2.0, 3.0, -1.0])).unwrap();
    assert_eq!(grads.get(a).unwrap().shape(), &[2, 3]);
    assert_eq!(grads.get(a).unwrap().to_vec(), vec![1.0, 2.0, 3.0, 3.0, -1.0, 2.0]);
    assert_eq!(grads.get(b).unwrap().shape(), &[3, 2]);
    assert_eq!(grads.get(b).unwrap().to_vec(), vec![13.0, -2.0, 17.0, -1.0, 21.0, 0.0]);
}

#[test]
fn add_bias_gradient_is_the_column_sum_not_the_mean() {
    // z = a + 1·bᵀ for a: [3, 2]. Seed G = [1 2; 3 4; 5 6].
    // ∇a = G; ∇b = 1ᵀ·G = [1+3+5, 2+4+6] = [9 12]  (the mean over rows would be [3 4]).
    let tape = Tape::<f64>::new();
    let a = tape.leaf(t(&[3, 2], &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]));
    let b = tape.leaf(t(&[2], &[10.0, 20.0]));
    let z = a.add_bias(b).unwrap();
    assert_close(&z.value().to_vec(), &[10.1, 20.2, 10.3, 20.4, 10.5, 20.6], 1e-15);
    let g = t(&[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let grads = tape.backward_with_seed(z, g.clone()).unwrap();
    assert_eq!(grads.get(a).unwrap(), &g);
    assert_eq!(grads.get(b).unwrap().shape(), &[2]);
    assert_eq!(grads.get(b).unwrap().to_vec(), vec![9.0, 12.0]);
}

#[test]
fn add_bias_under_the_mean_loss_gets_column_sums_of_p_minus_y_over_n() {
    // logits = 0 + b with b = 0 (2 rows, 2 classes), labels [0, 0]: P = [½ ½] on each row,
    // ∇Z = (P − Y)/N = [−¼ ¼; −¼ ¼], and ∇b = column sums = [−½ ½]  (the derivation's
    // row-mean would give [−¼ ¼], half the gradient of the stated loss).
    let tape = Tape::<f64>::new();
    let a = tape.constant(Tensor::zeros(&[2, 2]).unwrap());
    let b = tape.leaf(Tensor::zeros(&[2]).unwrap());
    let loss = a.add_bias(b).unwrap().softmax_cross_entropy(&[0, 0]).unwrap();
    let grads = tape.backward(loss).unwrap();
    assert_close(&grads.get(b).unwrap().to_vec(), &[-0.5, 0.5], 1e-15);
}

#[test]
fn softmax_cross_entropy_gradient_is_p_minus_y_over_n() {
    // Z = [0 0; ln 3  0], labels [0, 1], N = 2.
    // Row 1: P = [½ ½], −ln P₀ = ln 2.      Row 2: P = [¾ ¼], −ln P₁ = ln 4.
    // L = (ln 2 + ln 4)/2 = 1.5·ln 2.
    // ∇Z = (P − Y)/N = [(½−1)/2, ½/2; ¾/2, (¼−1)/2] = [−¼ ¼; ⅜ −⅜].
    let tape = Tape::<f64>::new();
    let z = tape.leaf(t(&[2, 2], &[0.0, 0.0, 3f64.ln(), 0.0]));
    let loss = z.softmax_cross_entropy(&[0, 1]).unwrap();
    assert_eq!(loss.shape(), Vec::<usize>::new());
    assert_close(&[loss.value().item().unwrap()], &[1.5 * 2f64.ln()], 1e-14);
    let grads = tape.backward(loss).unwrap();
    assert_close(&grads.get(z).unwrap().to_vec(), &[-0.25, 0.25, 0.375, -0.375], 1e-14);

    // An upstream gradient scales it: L' = 3·L gives ∇Z' = 3·∇Z.
    let tape = Tape::<f64>::new();
    let z = tape.leaf(t(&[2, 2], &[0.0, 0.0, 3f64.ln(), 0.0]));
    let loss = z.softmax_cross_entropy(&[0, 1]).unwrap().scale(3.0).unwrap();
    let grads = tape.backward(loss).unwrap();
    assert_close(&grads.get(z).unwrap().to_vec(), &[-0.75, 0.75, 1.125, -1.125], 1e-14);
}

#[test]
fn smoothed_softmax_cross_entropy_by_hand() {
    // Same Z and labels, ε = ½, K = 2: Q = (1−ε)·Y + ε/K, i.e. ¾ on the label, ¼ elsewhere.
    // Row 1: Q = [¾ ¼], P = [½ ½]: −(¾ ln ½ + ¼ ln ½) = ln 2.
    // Row 2: Q = [¼ ¾], P = [¾ ¼]: −(¼ ln ¾ + ¾ ln ¼) = ln 4 − ¼ ln 3.
    // L = (3 ln 2 − ¼ ln 3)/2.
    // ∇Z = (P − Q)/N = [(½−¾)/2, (½−¼)/2; (¾−¼)/2, (¼−¾)/2] = [−⅛ ⅛; ¼ −¼].
    let tape = Tape::<f64>::new();
    let z = tape.leaf(t(&[2, 2], &[0.0, 0.0, 3f64.ln(), 0.0]));
    let loss = z.softmax_cross_entropy_smoothed(&[0, 1], 0.5).unwrap();
    let expected = (3.0 * 2f64.ln() - 0.25 * 3f64.ln()) / 2.0;
    assert_close(&[loss.value().item().unwrap()], &[expected], 1e-14);
    let grads = tape.backward(loss).unwrap();
    assert_close(&grads.get(z).unwrap().to_vec(), &[-0.125, 0.125, 0.25, -0.25], 1e-14);

    // ε = 1: uniform targets whatever the labels; with equal logits P = Q and ∇Z = 0.
    let tape = Tape::<f64>::new();
    let z = tape.leaf(Tensor::full(&[1, 4], 2.0).unwrap());
    let loss = z.softmax_cross_entropy_smoothed(&[3], 1.0).unwrap();
    assert_close(&[loss.value().item().unwrap()], &[4f64.ln()], 1e-14);
    let grads = tape.backward(loss).unwrap();
    assert_close(&grads.get(z).unwrap().to_vec(), &[0.0; 4], 1e-15);
}

#[test]
fn softmax_cross_entropy_is_stable_for_large_logits() {
    // Z = [1000 0], label 1: L = lse − Z₁ = 1000 + ln(1 + e⁻¹⁰⁰⁰) − 0 = 1000 (to f64),
    // P = [1, e⁻¹⁰⁰⁰] ≈ [1, 0], ∇Z = P − Y = [1, −1].
    let tape = Tape::<f64>::new();
    let z = tape.leaf(t(&[1, 2], &[1000.0, 0.0]));
    let loss = z.softmax_cross_entropy(&[1]).unwrap();
    assert_eq!(loss.value().item().unwrap(), 1000.0);
    let grads = tape.backward(loss).unwrap();
    assert_eq!(grads.get(z).unwrap().to_vec(), vec![1.0, -1.0]);
    // softmax_rows agrees: [1, 0] without NaN.
    let p = autograd::softmax_rows(&t(&[1, 2], &[1000.0, 0.0])).unwrap();
    assert_eq!(p.to_vec(), vec![1.0, 0.0]);
}

#[test]
fn max_rows_tie_goes_wholly_to_the_first_maximum() {
    // A = [1 3 3; 2 2 2; 5 1 5], z = [3 2 5], seed [10 20 30]:
    // row 1 ties at columns 1 and 2 → column 1 gets 10; row 2 ties everywhere → column 0
    // gets 20; row 3 ties at 0 and 2 → column 0 gets 30. Nothing is split or duplicated.
    let tape = Tape::<f64>::new();
    let a = tape.leaf(t(&[3, 3], &[1.0, 3.0, 3.0, 2.0, 2.0, 2.0, 5.0, 1.0, 5.0]));
    let z = a.max_rows().unwrap();
    assert_eq!(z.value().to_vec(), vec![3.0, 2.0, 5.0]);
    let grads = tape.backward_with_seed(z, t(&[3], &[10.0, 20.0, 30.0])).unwrap();
    assert_eq!(grads.get(a).unwrap().to_vec(), vec![0.0, 10.0, 0.0, 20.0, 0.0, 0.0, 30.0, 0.0, 0.0]);
}

#[test]
fn max_pool2d_ties_go_to_the_first_maximum_of_each_window() {
    // x = [1 2 1; 2 2 2; 1 2 1], kernel 2, stride 1: four overlapping windows, taps (i, j)
    // in row-major order.
    //   (0,0): [1 2; 2 2] → first max at tap (0,1) → x[0,1]
    //   (0,1): [2 1; 2 2] → tap (0,0)              → x[0,1]
    //   (1,0): [2 2; 1 2] → tap (0,0)              → x[1,0]
    //   (1,1): [2 2; 2 1] → tap (0,0)              → x[1,1]
    // Seed [1 2; 3 4]: ∇x[0,1] = 1 + 2 = 3, ∇x[1,0] = 3, ∇x[1,1] = 4, all else 0.
    let x = t(&[1, 1, 3, 3], &[1.0, 2.0, 1.0, 2.0, 2.0, 2.0, 1.0, 2.0, 1.0]);
    let seed = t(&[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let expected = vec![0.0, 3.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0];
    let window = Window2d::square(2, 1, 0);

    let tape = Tape::<f64>::new();
    let xv = tape.leaf(x.clone());
    let y = xv.max_pool2d(&window).unwrap();
    assert_eq!(y.value().to_vec(), vec![2.0; 4]);
    assert_eq!(tape.backward_with_seed(y, seed.clone()).unwrap().get(xv).unwrap().to_vec(), expected);

    // The two-step form routes the same way.
    let tape = Tape::<f64>::new();
    let xv = tape.leaf(x);
    let y = xv.pool_windows(&window).unwrap().max_rows().unwrap();
    let grads = tape.backward_with_seed(y, seed.reshape(&[4]).unwrap()).unwrap();
    assert_eq!(grads.get(xv).unwrap().to_vec(), expected);
}

#[test]
fn max_pool2d_padding_never_wins() {
    // x = [−5 −6; −7 −8], kernel 2, stride 2, padding 1: output 2×2, every window holds one
    // input and three padding taps (−∞ for pooling, not 0), so y = x and ∇x = seed.
    let tape = Tape::<f64>::new();
    let xv = tape.leaf(t(&[1, 1, 2, 2], &[-5.0, -6.0, -7.0, -8.0]));
    let y = xv.max_pool2d(&Window2d::square(2, 2, 1)).unwrap();
    assert_eq!(y.value().to_vec(), vec![-5.0, -6.0, -7.0, -8.0]);
    let grads = tape.backward_with_seed(y, t(&[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0])).unwrap();
    assert_eq!(grads.get(xv).unwrap().to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn relu_gradient_at_exactly_zero_is_zero() {
    // x = [−1, 0, 2, −0.0, 1e−300]: ∇x = ∇y ⊙ 1(x > 0) = [0, 0, 1, 0, 1]·seed.
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[5], &[-1.0, 0.0, 2.0, -0.0, 1e-300]));
    let y = x.relu().unwrap();
    assert_eq!(y.value().to_vec(), vec![0.0, 0.0, 2.0, 0.0, 1e-300]);
    let grads = tape.backward_with_seed(y, t(&[5], &[7.0, 7.0, 7.0, 7.0, 7.0])).unwrap();
    assert_eq!(grads.get(x).unwrap().to_vec(), vec![0.0, 0.0, 7.0, 0.0, 7.0]);
}

#[test]
fn reductions_and_scale_by_hand() {
    // x = [1 −2; 3 4].
    let x0 = t(&[2, 2], &[1.0, -2.0, 3.0, 4.0]);
    let grad_of = |f: &dyn for<'t> Fn(autograd::Var<'t, f64>) -> autograd::Var<'t, f64>| {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(x0.clone());
        let out = f(x);
        let grads = tape.backward(out).unwrap();
        (out.value().item().unwrap(), grads.get(x).unwrap().to_vec())
    };
    // sum = 6, ∇ = 1.
    assert_eq!(grad_of(&|x| x.sum().unwrap()), (6.0, vec![1.0; 4]));
    // mean = 6/4, ∇ = 1/4.
    assert_eq!(grad_of(&|x| x.mean().unwrap()), (1.5, vec![0.25; 4]));
    // Σx² = 1 + 4 + 9 + 16 = 30, ∇ = 2x.
    assert_eq!(grad_of(&|x| x.sum_squares().unwrap()), (30.0, vec![2.0, -4.0, 6.0, 8.0]));
    // 0.5·λ·Σx² with λ = 0.1: 1.5, ∇ = λ·x (the L2 penalty's contribution).
    let (v, g) = grad_of(&|x| x.sum_squares().unwrap().scale(0.05).unwrap());
    assert_close(&[v], &[1.5], 1e-15);
    assert_close(&g, &[0.1, -0.2, 0.3, 0.4], 1e-15);
    // Σ(−1.5·x) = −9, ∇ = −1.5.
    assert_eq!(grad_of(&|x| x.scale(-1.5).unwrap().sum().unwrap()), (-9.0, vec![-1.5; 4]));
}

#[test]
fn add_broadcast_vjp_sums_over_broadcast_axes() {
    // Seed G = [1 2 3; 4 5 6] on a [2, 3] output.
    let g = t(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let grads_for = |sa: &[usize], sb: &[usize]| {
        let tape = Tape::<f64>::new();
        let a = tape.leaf(Tensor::zeros(sa).unwrap());
        let b = tape.leaf(Tensor::zeros(sb).unwrap());
        let z = a.add(b).unwrap();
        assert_eq!(z.shape(), vec![2, 3]);
        let grads = tape.backward_with_seed(z, g.clone()).unwrap();
        let (ga, gb) = (grads.get(a).unwrap(), grads.get(b).unwrap());
        assert_eq!(ga.shape(), sa);
        assert_eq!(gb.shape(), sb);
        (ga.to_vec(), gb.to_vec())
    };
    // b: [3] is a new leading axis: ∇b = column sums [5 7 9].
    assert_eq!(grads_for(&[2, 3], &[3]), (g.to_vec(), vec![5.0, 7.0, 9.0]));
    // b: [2, 1] is stretched along columns: ∇b = row sums [6; 15].
    assert_eq!(grads_for(&[2, 3], &[2, 1]), (g.to_vec(), vec![6.0, 15.0]));
    // Both sides broadcast: a: [2, 1] gets row sums, b: [1, 3] gets column sums.
    assert_eq!(grads_for(&[2, 1], &[1, 3]), (vec![6.0, 15.0], vec![5.0, 7.0, 9.0]));
    // A rank-0 b gets the total 21; the left side may be the broadcast one too.
    assert_eq!(grads_for(&[2, 3], &[]), (g.to_vec(), vec![21.0]));
    assert_eq!(grads_for(&[], &[2, 3]), (vec![21.0], g.to_vec()));
}

#[test]
fn transpose_and_permute_vjps_by_hand() {
    // x: [2, 3], y = xᵀ: [3, 2]; seed S = [1 2; 3 4; 5 6] → ∇x = Sᵀ = [1 3 5; 2 4 6].
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros(&[2, 3]).unwrap());
    let y = x.t().unwrap();
    let grads = tape.backward_with_seed(y, t(&[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])).unwrap();
    assert_eq!(grads.get(x).unwrap().shape(), &[2, 3]);
    assert_eq!(grads.get(x).unwrap().to_vec(), vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);

    // x: [1, 2, 3], y = permute(x, [2, 0, 1]): [3, 1, 2] with y[k, 0, i] = x[0, i, k].
    // Seed S[k, 0, i] = 10k + i → ∇x[0, i, k] = 10k + i = [0 10 20; 1 11 21].
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros(&[1, 2, 3]).unwrap());
    let y = x.permute(&[2, 0, 1]).unwrap();
    assert_eq!(y.shape(), vec![3, 1, 2]);
    let seed = t(&[3, 1, 2], &[0.0, 1.0, 10.0, 11.0, 20.0, 21.0]);
    let grads = tape.backward_with_seed(y, seed).unwrap();
    assert_eq!(grads.get(x).unwrap().to_vec(), vec![0.0, 10.0, 20.0, 1.0, 11.0, 21.0]);
}

#[test]
fn im2col_vjp_by_hand() {
    // One 2×2 window over x: [1, 2, 2, 2] gives one row whose columns are (c, i, j) in
    // row-major order, so seed [1..8] goes back as x's own layout: ∇x = [1..8].
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros(&[1, 2, 2, 2]).unwrap());
    let a = x.im2col(&Window2d::square(2, 1, 0)).unwrap();
    assert_eq!(a.shape(), vec![1, 8]);
    let seed: Vec<f64> = (1..=8).map(f64::from).collect();
    let grads = tape.backward_with_seed(a, t(&[1, 8], &seed)).unwrap();
    assert_eq!(grads.get(x).unwrap().to_vec(), seed);

    // A 3×3 input, kernel 2, stride 1: 4 windows; with an all-ones seed each input gets the
    // number of windows that read it: [1 2 1; 2 4 2; 1 2 1].
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros(&[1, 1, 3, 3]).unwrap());
    let a = x.im2col(&Window2d::square(2, 1, 0)).unwrap();
    let grads = tape.backward_with_seed(a, Tensor::ones(&[4, 4]).unwrap()).unwrap();
    assert_eq!(grads.get(x).unwrap().to_vec(), vec![1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);

    // Kernel [3, 1], stride [2, 1], padding [1, 0] on 3×3: window rows start at padded rows
    // 0 and 2, i.e. input rows {0, 1} and {1, 2} (the padding taps drop out): rows are read
    // 1, 2, 1 times; each column once per row window. ∇x = [1 1 1; 2 2 2; 1 1 1].
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros(&[1, 1, 3, 3]).unwrap());
    let window = Window2d { kernel: [3, 1], stride: [2, 1], padding: [1, 0] };
    let a = x.im2col(&window).unwrap();
    assert_eq!(a.shape(), vec![6, 3]);
    let grads = tape.backward_with_seed(a, Tensor::ones(&[6, 3]).unwrap()).unwrap();
    assert_eq!(grads.get(x).unwrap().to_vec(), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0]);
}

#[test]
fn reshape_and_flatten_vjps_keep_row_major_order() {
    // y = flatten(x) for x: [2, 1, 3]: [2, 3], same order; seed [1..6] comes back as is.
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros(&[2, 1, 3]).unwrap());
    let y = x.flatten().unwrap();
    assert_eq!(y.shape(), vec![2, 3]);
    let seed: Vec<f64> = (1..=6).map(f64::from).collect();
    let grads = tape.backward_with_seed(y, t(&[2, 3], &seed)).unwrap();
    assert_eq!(grads.get(x).unwrap().shape(), &[2, 1, 3]);
    assert_eq!(grads.get(x).unwrap().to_vec(), seed);
}
