//! The explorer's generic pass (any `--arch` network) against independent computations, on
//! a network with padding, stride 2, an overlapping padded max-pool, batch norm (2-D and
//! 1-D, running statistics), a padded average pool and every activation:
//!
//! - forward: each layer's output `y⁽ⁱ⁾` against the library's `Module::forward` of the
//!   layers so far (the fused `conv2d`, `max_pool2d`, `avg_pool2d` ops, not the matrix
//!   chain), `P` against the softmax of the network's logits, the convolutions' `z` against
//!   naive loops, the max-pool window rows and argmax against a naive scan;
//! - backward: every `∇W`, `∇b`, `∇γ`, `∇β` and `∇x⁽⁰⁾` against `tape.backward` through
//!   the fused forward pass, `∇y⁽ᴸ⁾` against `P − Y`, the routing against the argmax;
//! - SGD step: `ΔW = −η·∇W`, the label's probability rises, the network unchanged.

use crate::explorer_support;

use autograd::Tape;
use layers::Module;
use models::explorer::{ExplorerError, Image, Matrix, Net, layers_pass, step};
use tensor::Tensor;

use explorer_support::arch::{CLASSES, INPUT, arch_net, input, library_outputs, specs};
use explorer_support::{find, max_abs_diff, softmax};

fn close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let d = max_abs_diff(got, want);
    assert!(d <= tol * scale, "{what}: differs by {d} (scale {scale})");
}

#[test]
fn every_layer_output_matches_the_library_forward() {
    let (specs, net, x) = (specs(), arch_net(1), input());
    let p = layers_pass(&specs, &net, x.clone(), Some(2)).unwrap();
    assert_eq!(find(&p.forward, "x").data, x.to_vec());
    let outputs = library_outputs(&net, &x);
    assert_eq!(outputs.len(), specs.len());
    for (i, want) in outputs.iter().enumerate() {
        let y = find(&p.forward, &format!("y{i}"));
        assert!(y.layer.starts_with(&format!("layer {i} ")), "{}", y.layer);
        close(&format!("y{i} ({})", y.layer), &y.data, want, 1e-5);
    }
    let logits = outputs.last().unwrap();
    close("P", &p.probabilities, &softmax(logits), 1e-6);
    assert_eq!(find(&p.forward, "P").data, p.probabilities);
    assert_eq!(
        p.prediction,
        p.probabilities.iter().enumerate().fold(0, |b, (i, v)| if *v > p.probabilities[b] { i } else { b })
    );
    assert!((p.loss + p.probabilities[2].ln()).abs() < 1e-5);
    // Shapes: maps for one image, rows for the matrices.
    assert_eq!(find(&p.forward, "a0").shape, [144, 27]);
    assert_eq!(find(&p.forward, "W0").shape, [27, 4]);
    assert_eq!(find(&p.forward, "y0").shape, [4, 12, 12]);
    assert_eq!(find(&p.forward, "a3").shape, [4 * 6 * 6, 9]);
    assert_eq!(find(&p.forward, "a6").shape, [6 * 2 * 2, 4]);
    assert_eq!(find(&p.forward, "W10").shape, [24, 8]);
    assert_eq!(find(&p.forward, "mu1").shape, [1, 4]);
}

/// `z[r, f]` of a convolution by loops: `input` `[C, H, W]`, `weight` `[F, C, k, k]`.
fn naive_conv(
    input: &[f32],
    [c, h, w]: [usize; 3],
    weight: &[f32],
    bias: &[f32],
    k: usize,
    stride: usize,
    pad: usize,
) -> (Vec<f32>, usize) {
    let f = bias.len();
    let (oh, ow) = ((h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1);
    let mut z = vec![0.0; oh * ow * f];
    for i in 0..oh {
        for j in 0..ow {
            for o in 0..f {
                let mut s = bias[o];
                for ch in 0..c {
                    for u in 0..k {
                        for v in 0..k {
                            let (r, q) =
                                ((i * stride + u) as isize - pad as isize, (j * stride + v) as isize - pad as isize);
                            if r >= 0 && q >= 0 && (r as usize) < h && (q as usize) < w {
                                s += weight[((o * c + ch) * k + u) * k + v]
                                    * input[(ch * h + r as usize) * w + q as usize];
                            }
                        }
                    }
                }
                z[(i * ow + j) * f + o] = s;
            }
        }
    }
    (z, oh * ow)
}

fn param(net: &layers::Sequential<f32>, name: &str) -> Vec<f32> {
    net.named_parameters().into_iter().find(|(n, _)| n == name).unwrap().1.value.to_contiguous().to_vec()
}

#[test]
fn conv_and_pool_matrices_match_naive_loops() {
    let (specs, net, x) = (specs(), arch_net(2), input());
    let p = layers_pass(&specs, &net, x.clone(), None).unwrap();
    // Layer 0: 3×12×12, 3×3, padding 1.
    let (z0, rows) = naive_conv(&x.to_vec(), INPUT, &param(&net, "0.weight"), &param(&net, "0.bias"), 3, 1, 1);
    assert_eq!(rows, 144);
    close("z0 against the naive convolution", &find(&p.forward, "z0").data, &z0, 1e-5);
    // Layer 4: 4×6×6, 3×3, stride 2, padding 1.
    let y3 = &find(&p.forward, "y3").data;
    let (z4, rows) = naive_conv(y3, [4, 6, 6], &param(&net, "4.weight"), &param(&net, "4.bias"), 3, 2, 1);
    assert_eq!(rows, 9);
    close("z4 against the naive convolution", &find(&p.forward, "z4").data, &z4, 1e-5);

    // Layer 3: max-pool 3×3, stride 2, padding 1 over 4×12×12 (overlapping windows).
    let y2 = &find(&p.forward, "y2").data;
    let a3 = find(&p.forward, "a3");
    let argmax = a3.argmax.as_ref().unwrap();
    for c in 0..4 {
        for i in 0..6 {
            for j in 0..6 {
                let r = (c * 6 + i) * 6 + j;
                let cells: Vec<f32> = (0..9)
                    .map(|t| {
                        let (u, v) = ((2 * i + t / 3) as isize - 1, (2 * j + t % 3) as isize - 1);
                        if (0..12).contains(&u) && (0..12).contains(&v) {
                            y2[(c * 12 + u as usize) * 12 + v as usize]
                        } else {
                            f32::NEG_INFINITY
                        }
                    })
                    .collect();
                assert_eq!(cells, a3.data[r * 9..r * 9 + 9], "window {r}");
                let first = (0..9).fold(0, |k, q| if cells[q] > cells[k] { q } else { k });
                assert_eq!(usize::from(argmax[r]), first, "argmax of window {r}");
            }
        }
    }
    // Layer 6: average pool 2×2, stride 2, padding 1 over 6×3×3: zeros in the padding, /4.
    let y5 = &find(&p.forward, "y5").data;
    let (a6, y6) = (find(&p.forward, "a6"), find(&p.forward, "y6"));
    for r in 0..24 {
        let (c, i, j) = (r / 4, (r % 4) / 2, r % 2);
        let cells: Vec<f32> = (0..4)
            .map(|t| {
                let (u, v) = ((2 * i + t / 2) as isize - 1, (2 * j + t % 2) as isize - 1);
                if (0..3).contains(&u) && (0..3).contains(&v) { y5[(c * 3 + u as usize) * 3 + v as usize] } else { 0.0 }
            })
            .collect();
        assert_eq!(cells, a6.data[r * 4..r * 4 + 4], "average window {r}");
        assert!((y6.data[r] - cells.iter().sum::<f32>() / 4.0).abs() < 1e-6);
    }
}

/// The derivation's layout of a parameter gradient: a convolution's `[F, C, k, k]` as
/// `[C·k·k, F]`, a linear layer's `[out, in]` as `[in, out]`, a vector as one row.
fn layout(g: &Tensor<f32>) -> Vec<f32> {
    let s = g.shape();
    match s.len() {
        4 => g.reshape(&[s[0], s[1] * s[2] * s[3]]).unwrap().t().unwrap().to_contiguous().to_vec(),
        2 => g.t().unwrap().to_contiguous().to_vec(),
        _ => g.to_vec(),
    }
}

#[test]
fn gradients_match_the_tape_through_the_library_forward() {
    let (specs, net, x) = (specs(), arch_net(3), input());
    let label = 3;
    let p = layers_pass(&specs, &net, x.clone(), Some(label)).unwrap();
    assert_eq!(p.label, label);
    let tape = Tape::new();
    let xin = tape.leaf(x.clone());
    let loss = layers::cross_entropy(net.forward(xin).unwrap(), &[label]).unwrap();
    let grads = tape.backward(loss).unwrap();
    let mut checked = 0;
    for (name, param) in net.named_parameters() {
        let (i, what) = name.split_once('.').unwrap();
        let id = match (specs[i.parse::<usize>().unwrap()].is::<models::arch::kinds::BatchNorm>(), what) {
            (true, "weight") => format!("dg{i}"),
            (true, _) => format!("dbe{i}"),
            (_, "weight") => format!("dW{i}"),
            _ => format!("db{i}"),
        };
        let want = layout(grads.param(param).unwrap());
        close(&format!("{id} ({name})"), &find(&p.backward, &id).data, &want, 1e-4);
        checked += 1;
    }
    assert_eq!(checked, 12, "conv ×2, batch norm ×2, linear ×2: a weight and a bias each");
    close("∇x⁽⁰⁾", &find(&p.backward, "dx0").data, &grads.get(xin).unwrap().to_vec(), 1e-4);

    // ∇y⁽ᴸ⁾ = P − Y (N = 1).
    let mut py = p.probabilities.clone();
    py[label] -= 1.0;
    close("∇y13 = P − Y", &find(&p.backward, "dy13").data, &py, 1e-6);
    // The max-pool routing: each row's gradient sits at its argmax, nowhere else.
    let da3 = find(&p.backward, "da3");
    let argmax = da3.argmax.as_ref().unwrap();
    let dy3 = &find(&p.backward, "dx4").data;
    for (r, &k) in argmax.iter().enumerate() {
        for q in 0..9 {
            let want = if q == usize::from(k) { dy3[r] } else { 0.0 };
            assert_eq!(da3.at(r, q), want, "∇a3[{r}, {q}]");
        }
    }
    // Every backward matrix is signed and names its layer.
    assert!(p.backward.iter().all(|m: &Matrix| m.signed && m.layer.starts_with("layer ")));
}

#[test]
fn a_step_moves_the_label_up_and_leaves_the_network_alone() {
    let (specs, x) = (specs(), input());
    let net = Net { arch: models::arch::Arch::from(specs.clone()), model: arch_net(4), input: INPUT };
    let model = &net.model;
    let before_params: Vec<Vec<f32>> = model.named_parameters().iter().map(|(_, p)| p.value.to_vec()).collect();
    let label = 1;
    let lr = 0.05;
    let p = layers_pass(&specs, model, x.clone(), Some(label)).unwrap();
    let s = step(&net, &x, label, lr, 1).unwrap();
    assert!(s.after[label] > s.before[label], "P[label] {} → {}", s.before[label], s.after[label]);
    assert!(s.loss_after < s.loss_before);
    close("P before", &s.before, &p.probabilities, 1e-6);
    assert_eq!(s.deltas.len(), 12);
    for d in &s.deltas {
        let g = find(&p.backward, &d.id.replacen('D', "d", 1));
        let want: Vec<f32> = g.data.iter().map(|v| -lr * v).collect();
        close(&format!("{} = −η·∇", d.id), &d.data, &want, 1e-3);
        assert_eq!(d.shape, g.shape);
    }
    let after_params: Vec<Vec<f32>> = model.named_parameters().iter().map(|(_, p)| p.value.to_vec()).collect();
    assert_eq!(before_params, after_params, "the explorer's network is untouched");
}

#[test]
fn bad_labels_and_images_are_input_errors() {
    let (specs, net) = (specs(), arch_net(5));
    let err = layers_pass(&specs, &net, input(), Some(CLASSES)).unwrap_err();
    assert!(matches!(err, ExplorerError::Input(_)), "{err}");
    let short = Image(vec![0.0; 784]);
    assert!(matches!(short.input(&explorer_support::arch::preprocess(), INPUT), Err(ExplorerError::Input(_))));
    let nan = Image(vec![f32::NAN; 432]);
    assert!(matches!(nan.input(&explorer_support::arch::preprocess(), INPUT), Err(ExplorerError::Input(_))));
    let model = Net { arch: models::arch::Arch::from(specs.clone()), model: arch_net(5), input: INPUT };
    assert!(matches!(step(&model, &input(), CLASSES, 0.1, 1), Err(ExplorerError::Input(_))));
}

/// LeNet-5 written as layers, with LeNet-5's weights: every matrix of the pass by position
/// equals the one the preset's page shows in the derivation's notation (one pass, two
/// namings).
#[test]
fn lenet5_as_layers_gives_the_dedicated_pass_matrices() {
    let spec =
        "conv(6,5) relu maxpool(2) conv(16,5) relu maxpool(2) conv(120,5) relu flatten linear(84) relu linear(10)";
    let specs = spec.parse::<models::arch::Arch>().unwrap().layers().to_vec();
    let lenet = explorer_support::model(11);
    let mut net = models::arch::build_layers::<f32, _>(
        &specs,
        [1, 32, 32],
        Some(10),
        &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0),
    )
    .unwrap();
    let renamed = [("c1", "0"), ("c3", "3"), ("c5", "6"), ("f6", "9"), ("f7", "11")];
    let source: std::collections::HashMap<String, Tensor<f32>> =
        lenet.named_parameters().into_iter().map(|(n, p)| (n, p.value.clone())).collect();
    for (name, p) in net.named_parameters_mut() {
        let (layer, what) = name.split_once('.').unwrap();
        let from = renamed.iter().find(|(_, to)| *to == layer).unwrap().0;
        p.value = source[&format!("{from}.{what}")].clone();
    }
    net.set_training(false);
    let image = Image::from_bytes(&explorer_support::noisy_digit());
    let preprocess = models::data::Preprocess::mnist();
    let dedicated = explorer_support::lenet_pass(&lenet, &image, Some(4)).unwrap();
    let generic = layers_pass(&specs, &net, image.input(&preprocess, [1, 28, 28]).unwrap(), Some(4)).unwrap();
    assert_eq!(generic.prediction, dedicated.prediction);
    let forward = [
        ("x", "x"),
        ("a0", "a0"),
        ("W1", "W0"),
        ("z1", "z0"),
        ("out1", "y1"),
        ("a1", "a2"),
        ("z2", "y2"),
        ("a2", "a3"),
        ("W3", "W3"),
        ("z3", "z3"),
        ("out3", "y4"),
        ("a3", "a5"),
        ("z4", "y5"),
        ("a4", "a6"),
        ("W5", "W6"),
        ("z5", "z6"),
        ("a5", "y8"),
        ("W6", "W9"),
        ("z6", "y9"),
        ("a6", "y10"),
        ("W7", "W11"),
        ("z7", "y11"),
        ("P", "P"),
    ];
    let backward = [
        ("dz7", "dy11"),
        ("dW7", "dW11"),
        ("db7", "db11"),
        ("da6", "dx11"),
        ("dz6", "dx10"),
        ("dW6", "dW9"),
        ("db6", "db9"),
        ("da5", "dx9"),
        ("dz5", "dz6"),
        ("dW5", "dW6"),
        ("db5", "db6"),
        ("da4", "da6"),
        ("dz4", "dx6"),
        ("da3", "da5"),
        ("dout3", "dx5"),
        ("dz3", "dz3"),
        ("dW3", "dW3"),
        ("db3", "db3"),
        ("da2", "da3"),
        ("dz2", "dx3"),
        ("da1", "da2"),
        ("dout1", "dx2"),
        ("dz1", "dz0"),
        ("dW1", "dW0"),
        ("db1", "db0"),
        ("da0", "da0"),
    ];
    for (list_d, list_g, pairs) in
        [(&dedicated.forward, &generic.forward, &forward[..]), (&dedicated.backward, &generic.backward, &backward[..])]
    {
        for (d, g) in pairs {
            let (d, g) = (find(list_d, d), find(list_g, g));
            assert_eq!(d.shape, g.shape, "{} vs {}", d.id, g.id);
            close(&format!("{} vs {}", d.id, g.id), &g.data, &d.data, 1e-5);
            assert_eq!(d.argmax, g.argmax, "{} vs {}", d.id, g.id);
        }
    }
}

/// Networks of other shapes (no convolution first, pools without padding, a 1×1 kernel, a
/// stride larger than the kernel): `P` and every `y⁽ⁱ⁾` equal the library's forward.
#[test]
fn other_specs_match_the_library_forward() {
    let specs = [
        "flatten linear(5)",
        "avgpool(3) flatten sigmoid linear(5)",
        "conv(2,1) leakyrelu maxpool(2,s=1) conv(3,2,s=3) flatten batchnorm linear(5)",
        "maxpool(2,p=1) conv(4,3,s=2,p=2) tanh avgpool(2,s=1) flatten dropout(0.9) linear(5)",
    ];
    for spec in specs {
        let specs = spec.parse::<models::arch::Arch>().unwrap().layers().to_vec();
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(9);
        let mut net = models::arch::build_layers::<f32, _>(&specs, INPUT, Some(CLASSES), &mut rng).unwrap();
        net.set_training(false);
        let x = input();
        let p = layers_pass(&specs, &net, x.clone(), None).unwrap();
        for (i, want) in library_outputs(&net, &x).iter().enumerate() {
            close(&format!("{spec}: y{i}"), &find(&p.forward, &format!("y{i}")).data, want, 1e-5);
        }
        assert_eq!(p.backward.last().unwrap().id, "dx0", "{spec}");
    }
}

/// The page's row ↔ window links: each conv and pool layer's geometry, read back by gathering
/// every row's window from the input maps (zero or −∞ outside them), gives that layer's
/// window matrix; the output maps have one pixel per row.
#[test]
fn links_gather_each_window_matrix_from_the_input_maps() {
    let (specs, net, x) = (specs(), arch_net(1), input());
    let p = layers_pass(&specs, &net, x, None).unwrap();
    let kinds: Vec<_> = p.links.iter().map(|l| (l.name.clone(), l.per_channel)).collect();
    assert!(p.links.len() >= 4, "{kinds:?}");
    assert!(p.links.iter().any(|l| l.per_channel) && p.links.iter().any(|l| !l.per_channel), "{kinds:?}");
    links_gather_windows(&p);
    let image = Image::from_bytes(&explorer_support::noisy_digit());
    let lenet = explorer_support::model(11);
    let p = explorer_support::lenet_pass(&lenet, &image, None).unwrap();
    let names: Vec<_> = p.links.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["C1", "S2", "C3", "S4"]);
    links_gather_windows(&p);
}

/// Checks every link of `p` by gathering its windows from the input maps.
pub(crate) fn links_gather_windows(p: &models::explorer::Pass) {
    for l in &p.links {
        let (input, a, out) =
            (find(&p.forward, &l.input[0]), find(&p.forward, &l.rows[0]), find(&p.forward, &l.output[0]));
        assert_eq!(input.shape, l.input_shape, "{}", l.name);
        assert_eq!(out.shape, l.output_shape, "{}", l.name);
        let [c, h, w] = l.input_shape;
        let [_, oh, ow] = l.output_shape;
        let ([kh, kw], [sh, sw], [ph, pw]) = (l.kernel, l.stride, l.padding);
        let maps = if l.per_channel { c } else { 1 };
        assert_eq!(a.shape, vec![maps * oh * ow, a.shape[1]], "{}", l.name);
        for r in 0..a.shape[0] {
            let (m, i, j) = (r / (oh * ow), r % (oh * ow) / ow, r % ow);
            let channels = if l.per_channel { m..m + 1 } else { 0..c };
            let mut want = Vec::new();
            for ch in channels {
                for ki in 0..kh {
                    for kj in 0..kw {
                        let (y, x) = ((i * sh + ki) as isize - ph as isize, (j * sw + kj) as isize - pw as isize);
                        let inside = y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w;
                        want.push(inside.then(|| input.data[ch * h * w + y as usize * w + x as usize]));
                    }
                }
            }
            let row = &a.data[r * a.shape[1]..(r + 1) * a.shape[1]];
            assert_eq!(row.len(), want.len(), "{} row {r}", l.name);
            for (k, (got, want)) in row.iter().zip(&want).enumerate() {
                match want {
                    Some(v) => assert_eq!(got, v, "{} row {r} column {k}", l.name),
                    None => assert!(
                        *got == 0.0 || *got == f32::NEG_INFINITY,
                        "{} row {r} column {k}: padding is {got}",
                        l.name
                    ),
                }
            }
        }
    }
}
