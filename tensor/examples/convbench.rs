//! Per-layer timings of the convolutions of the speed grid (`bench/grid_networks.sh`) on the
//! kernel path this process selects (`TENSOR_KERNELS`, `TENSOR_WINOGRAD`): the forward pass
//! with bias and ReLU, `∇x`, and `∇W` + `∇b`, each the best of repeated calls, with its
//! GFLOP/s (`2·outputs·C·kh·kw` multiply-adds counted once per pass).
//!
//!     cargo run --release -p tensor --example convbench
//!
//! `B=256` sets the batch (64), `ONLY=A2` the layers whose name starts so; for a profiler,
//! `N=500 OP=fwd|dx|dw` runs that many calls of one pass untimed.
use std::time::Instant;
use tensor::{Activation, Tensor, Window2d};

fn main() {
    let batch: usize = std::env::var("B").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let only = std::env::var("ONLY").ok();
    let layers: [(&str, [usize; 3], usize, Window2d); 14] = [
        ("C1 1-6 5x5 32", [1, 32, 32], 6, Window2d::square(5, 1, 0)),
        ("C3 6-16 5x5 14", [6, 14, 14], 16, Window2d::square(5, 1, 0)),
        ("A1 1-16 3x3p1 28", [1, 28, 28], 16, Window2d::square(3, 1, 1)),
        ("A2 16-32 3x3p1 14", [16, 14, 14], 32, Window2d::square(3, 1, 1)),
        ("B1 3-32 3x3p1 32", [3, 32, 32], 32, Window2d::square(3, 1, 1)),
        ("B2 32-64 3x3p1 32", [32, 32, 32], 64, Window2d::square(3, 1, 1)),
        ("S1 1-16 3x3s2 28", [1, 28, 28], 16, Window2d::square(3, 2, 1)),
        ("S2 16-32 3x3s2 14", [16, 14, 14], 32, Window2d::square(3, 2, 1)),
        ("O2 16-32 3x3p1 13", [16, 13, 13], 32, Window2d::square(3, 1, 1)),
        ("P2 16-8 1x1 28", [16, 28, 28], 8, Window2d::square(1, 1, 0)),
        ("R1 16-16 3x3p1 28", [16, 28, 28], 16, Window2d::square(3, 1, 1)),
        ("R2 16-32 3x3s2 28", [16, 28, 28], 32, Window2d::square(3, 2, 1)),
        ("R3 32-32 3x3p1 14", [32, 14, 14], 32, Window2d::square(3, 1, 1)),
        ("N1 16-32 3x3s2 32", [16, 32, 32], 32, Window2d::square(3, 2, 1)),
    ];
    let mut rng = rand::rng();
    println!("path {}", tensor::KernelPath::selected().name());
    for (name, [c, h, w], f, g) in layers {
        if let Some(o) = &only
            && !name.starts_with(o.as_str())
        {
            continue;
        }
        let x = Tensor::<f32>::rand_normal(&[batch, c, h, w], 0.0, 1.0, &mut rng).unwrap();
        let wt = Tensor::<f32>::rand_normal(&[f, c, g.kernel[0], g.kernel[1]], 0.0, 0.1, &mut rng).unwrap();
        let b = Tensor::<f32>::rand_normal(&[f], 0.0, 0.1, &mut rng).unwrap();
        let y = tensor::conv2d_activated(&x, &wt, Some(&b), &g, Some(Activation::Relu)).unwrap();
        let gy = Tensor::<f32>::rand_normal(y.shape(), 0.0, 1.0, &mut rng).unwrap();
        let flops = 2.0 * (y.numel() * c * g.kernel[0] * g.kernel[1]) as f64;
        let fixed: Option<usize> = std::env::var("N").ok().and_then(|v| v.parse().ok());
        let op = std::env::var("OP").unwrap_or_default();
        let mut which = 0;
        let mut time = |f: &mut dyn FnMut()| {
            which += 1;
            if let Some(n) = fixed {
                if op.is_empty() || op == ["", "fwd", "dx", "dw"][which] {
                    for _ in 0..n {
                        f();
                    }
                }
                return 1.0;
            }
            f();
            let mut best = f64::MAX;
            let t0 = Instant::now();
            let mut calls = 0;
            while calls < 20 || (t0.elapsed().as_secs_f64() < 0.6 && calls < 400) {
                let t = Instant::now();
                f();
                best = best.min(t.elapsed().as_secs_f64());
                calls += 1;
            }
            best
        };
        let fw = time(&mut || {
            std::hint::black_box(tensor::conv2d_activated(&x, &wt, Some(&b), &g, Some(Activation::Relu)).unwrap());
        });
        let gx = time(&mut || {
            std::hint::black_box(
                tensor::conv2d_activated_backward(&x, &wt, &g, &gy, Some((Activation::Relu, &y)), [true, false, false])
                    .unwrap(),
            );
        });
        let gw = time(&mut || {
            std::hint::black_box(
                tensor::conv2d_activated_backward(&x, &wt, &g, &gy, Some((Activation::Relu, &y)), [false, true, true])
                    .unwrap(),
            );
        });
        println!(
            "{name:20} fwd {:8.1} us {:6.1} GF/s | dx {:8.1} us {:6.1} | dW+db {:8.1} us {:6.1}",
            fw * 1e6,
            flops / fw / 1e9,
            gx * 1e6,
            flops / gx / 1e9,
            gw * 1e6,
            flops / gw / 1e9
        );
    }
}
