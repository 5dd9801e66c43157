//! The explorer's pass through residual blocks, against independent computations: each
//! path's layers as the library's own modules compute them one by one, the block's sum as
//! the fused `Residual` forward gives it, every parameter gradient (inner layers included)
//! against `tape.backward` through the library's forward, the shortcut's term of `∇x` of a
//! 1×1 stride-2 projection against a naive loop, and `∇x = body's term + shortcut's term`.

use autograd::Tape;
use layers::{Module, Part, Sequential};
use models::arch::{Arch, LayerSpec, build_layers};
use models::explorer::{Matrix, Pass, layers_pass, step};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Tensor;

use crate::explorer_support::{find, max_abs_diff};

/// Block 2 has the identity shortcut, block 4 a 1×1 stride-2 projection.
const SPEC: &str = "conv(3,3,p=1) relu res(conv(3,3,p=1) batchnorm relu conv(3,3,p=1)) relu \
                    res(conv(4,3,s=2,p=1) relu conv(4,3,p=1) | conv(4,1,s=2)) relu flatten linear(3)";
const INPUT: [usize; 3] = [2, 6, 6];

fn network() -> (Vec<LayerSpec>, Sequential<f32>, Tensor<f32>) {
    let specs = SPEC.parse::<Arch>().unwrap().layers().to_vec();
    let mut net = build_layers::<f32, _>(&specs, INPUT, Some(3), &mut StdRng::seed_from_u64(5)).unwrap();
    for (name, b) in net.named_buffers().into_iter().filter(|(n, _)| n.contains("running_")) {
        let n: usize = b.shape().iter().product();
        let v = |k: usize| if name.ends_with("running_mean") { 0.1 * k as f32 - 0.1 } else { 0.5 + 0.25 * k as f32 };
        b.set(Tensor::from_vec(&[n], (0..n).map(v).collect()).unwrap());
    }
    net.set_training(false);
    let n: usize = INPUT.iter().product();
    let x = Tensor::from_vec(&[1, 2, 6, 6], (0..n).map(|i| ((i * 37 + 11) % 23) as f32 / 11.0 - 1.0).collect());
    (specs, net, x.unwrap())
}

fn close(what: &str, got: &[f32], want: &[f32]) {
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let d = max_abs_diff(got, want);
    assert!(d <= 1e-5 * scale, "{what}: differs by {d} (scale {scale})");
}

/// The named child (`body`, `shortcut`) of a block, and its layers.
fn path<'a>(block: &'a dyn Module<f32>, name: &str) -> Vec<&'a dyn Module<f32>> {
    let mut seq = None;
    block.visit(&mut |p| {
        if let Part::Child(n, c) = p
            && n == name
        {
            seq = Some(c);
        }
    });
    let mut layers = Vec::new();
    seq.unwrap().visit(&mut |p| {
        if let Part::Child(_, l) = p {
            layers.push(l);
        }
    });
    layers
}

fn run(label: usize) -> (Vec<LayerSpec>, Sequential<f32>, Tensor<f32>, Pass) {
    let (specs, net, x) = network();
    let p = layers_pass(&specs, &net, x.clone(), Some(label)).unwrap();
    (specs, net, x, p)
}

#[test]
fn each_path_shows_its_layers_and_the_block_their_sum() {
    let (_, net, x, p) = run(1);
    let layers: Vec<_> = net.layers().collect();
    let tape = Tape::no_grad();
    let mut h = tape.constant(x);
    for (i, layer) in layers.iter().enumerate() {
        let input = h;
        h = layer.forward(input).unwrap();
        close(&format!("y{i}"), &find(&p.forward, &format!("y{i}")).data, &h.value().to_vec());
        for (name, tag) in [("body", 'b'), ("shortcut", 's')] {
            if i != 2 && i != 4 || (i == 2 && name == "shortcut") {
                continue;
            }
            let mut inner = input;
            for (j, module) in path(*layer, name).into_iter().enumerate() {
                inner = module.forward(inner).unwrap();
                let m = find(&p.forward, &format!("y{i}{tag}{j}"));
                close(&m.id, &m.data, &inner.value().to_vec());
                let lane = m.lane.as_ref().unwrap_or_else(|| panic!("{} has no lane", m.id));
                assert_eq!(lane.path, name, "{}", m.id);
                assert!(lane.part.starts_with(&format!("{name} {j} ")), "{}", lane.part);
                assert!(m.layer.starts_with(&format!("layer {i} res(")), "{}", m.layer);
            }
        }
    }
    let sum = |i: usize| find(&p.forward, &format!("y{i}"));
    assert!(sum(2).lane.is_none() && sum(4).lane.is_none(), "a block's sum is outside its paths");
    assert_eq!(sum(2).formula, "y⁽²⁾ = y⁽²ᵇ³⁾ + x⁽²⁾");
    assert_eq!(sum(4).formula, "y⁽⁴⁾ = y⁽⁴ᵇ²⁾ + y⁽⁴ˢ⁰⁾");
    // The inner convolutions in the derivation's matrix form, linked to their windows.
    assert_eq!(find(&p.forward, "a4b0").shape, [9, 27]);
    assert_eq!(find(&p.forward, "W4s0").shape, [3, 4]);
    let rows: Vec<&str> = p.links.iter().map(|l| l.rows[0].as_str()).collect();
    assert_eq!(rows, ["a0", "a2b0", "a2b3", "a4b0", "a4b2", "a4s0"]);
    let inputs: Vec<&str> = p.links.iter().map(|l| l.input[0].as_str()).collect();
    assert_eq!(inputs, ["x", "y1", "y2b2", "y3", "y4b1", "y3"]);
    crate::explorer_arch::links_gather_windows(&p);
}

#[test]
fn gradients_match_the_tape_and_the_two_terms_add_up() {
    let label = 2;
    let (_, net, x, p) = run(label);
    let tape = Tape::new();
    let xin = tape.leaf(x);
    let loss = layers::cross_entropy(net.forward(xin).unwrap(), &[label]).unwrap();
    let grads = tape.backward(loss).unwrap();
    let mut checked = 0;
    for (name, param) in net.named_parameters() {
        // `4.shortcut.0.weight` → `dW4s0`; `2.body.1.weight` (batch norm) → `dg2b1`.
        let parts: Vec<&str> = name.split('.').collect();
        let key = match parts[..] {
            [i, _] => i.to_string(),
            [i, path, j, _] => format!("{i}{}{j}", &path[..1]),
            _ => panic!("{name}"),
        };
        let batchnorm = key == "2b1";
        let id = match (batchnorm, *parts.last().unwrap()) {
            (true, "weight") => format!("dg{key}"),
            (true, _) => format!("dbe{key}"),
            (false, "weight") => format!("dW{key}"),
            (false, _) => format!("db{key}"),
        };
        let g = grads.param(param).unwrap();
        let s = g.shape().to_vec();
        let want = match s.len() {
            4 => g.reshape(&[s[0], s[1] * s[2] * s[3]]).unwrap().t().unwrap().to_contiguous().to_vec(),
            2 => g.t().unwrap().to_contiguous().to_vec(),
            _ => g.to_vec(),
        };
        close(&format!("{id} ({name})"), &find(&p.backward, &id).data, &want);
        checked += 1;
    }
    assert_eq!(checked, 16, "8 layers with a weight and a bias: a convolution, 3 + 3 layers in the blocks, a linear");
    close("∇x⁽⁰⁾", &find(&p.backward, "dx0").data, &grads.get(xin).unwrap().to_vec());

    let data = |id: &str| find(&p.backward, id).data.clone();
    let add = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x + y).collect::<Vec<f32>>();
    // The identity block: ∇x = the body's term + ∇y itself.
    close("∇x⁽²⁾ = ∇x⁽²ᵇ⁰⁾ + ∇y⁽²⁾", &data("dx2"), &add(&data("dx2b0"), &data("dy2")));
    // The projection block: the shortcut's term of a 1×1 stride-2 convolution by loops,
    // ∇x[c, 2i, 2j] = Σ_f W[f, c]·∇z[f, i, j] (∇z = ∇y⁽⁴ˢ⁰⁾ = ∇y⁽⁴⁾), zero between strides.
    let w = find(&p.forward, "W4s0"); // [C, F] = weightᵀ
    let dy = data("dy4"); // [4, 3, 3]
    let mut want = vec![0.0f32; 3 * 6 * 6];
    for c in 0..3 {
        for i in 0..3 {
            for j in 0..3 {
                want[c * 36 + 2 * i * 6 + 2 * j] = (0..4).map(|f| w.at(c, f) * dy[f * 9 + i * 3 + j]).sum();
            }
        }
    }
    close("∇x⁽⁴ˢ⁰⁾ by loops", &data("dx4s0"), &want);
    close("∇x⁽⁴⁾ = ∇x⁽⁴ᵇ⁰⁾ + ∇x⁽⁴ˢ⁰⁾", &data("dx4"), &add(&data("dx4b0"), &data("dx4s0")));
    assert_eq!(find(&p.backward, "dx4").formula, "∇x⁽⁴⁾ = ∇x⁽⁴ᵇ⁰⁾ + ∇x⁽⁴ˢ⁰⁾ (body + shortcut)");
    assert_eq!(find(&p.backward, "dx2").formula, "∇x⁽²⁾ = ∇x⁽²ᵇ⁰⁾ + ∇y⁽²⁾ (body + identity)");
    assert!(find(&p.backward, "dx4s0").lane.as_ref().is_some_and(|l| l.path == "shortcut"));
    assert!(find(&p.backward, "dx4").lane.is_none());
}

#[test]
fn ids_are_unique_and_a_step_names_inner_parameters_by_their_kind() {
    let (specs, net, x, p) = run(0);
    let mut ids: Vec<&str> = p.forward.iter().chain(&p.backward).map(|m: &Matrix| m.id.as_str()).collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate page ids");

    let class_names = (0..3).map(|c| c.to_string()).collect();
    let info = models::network::NetworkInfo { arch: SPEC.parse().unwrap(), input: INPUT, class_names };
    let preprocess = models::data::Preprocess::new(0, vec![0.0; 2], vec![1.0; 2]).unwrap();
    let explorer_net = models::explorer::Net::from_module(&info, &preprocess, &net).unwrap();
    assert_eq!(explorer_net.arch.layers(), &specs[..]);
    let r = step(&explorer_net, &x, 0, 0.1, 1).unwrap();
    let mut ids: Vec<&str> = r.deltas.iter().map(|m| m.id.as_str()).collect();
    assert!(ids.contains(&"Dg2b1") && ids.contains(&"Dbe2b1") && ids.contains(&"DW4s0"), "{ids:?}");
    assert_eq!(find(&r.deltas, "Dg2b1").formula, "Δγ⁽²ᵇ¹⁾ = −η·∇γ⁽²ᵇ¹⁾");
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate step ids");
}
