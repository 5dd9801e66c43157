//! Micro-benchmarks of the kernels that matter for LeNet-5, at its sizes (batch 64, f32):
//! im2col and col2im of C1 and C3, the pooling gather/scatter of S2, and each layer's
//! forward and backward; and the layers of the grid's other networks (`bench/grid.sh`):
//! padded 3×3 and stride-2 convolutions, 3×3/2 max-pooling.
//! `cargo bench -p bench-kernels`.

use std::hint::black_box;

use autograd::Tape;
use criterion::{Criterion, criterion_group, criterion_main};
use layers::{Conv2d, Conv2dConfig, Linear, MaxPool2d, Module};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Tensor, Window2d};

const N: usize = 64;

fn input(shape: &[usize], rng: &mut StdRng) -> Tensor<f32> {
    Tensor::rand_normal(shape, 0.0, 1.0, rng).expect("valid shape")
}

fn kernels(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0);
    let five = Window2d::square(5, 1, 0);
    for (name, shape) in [("C1", [N, 1, 32, 32]), ("C3", [N, 6, 14, 14])] {
        let x = input(&shape, &mut rng);
        let cols = tensor::im2col(&x, &five).expect("geometry");
        c.bench_function(&format!("im2col {name} {shape:?}"), |b| b.iter(|| tensor::im2col(black_box(&x), &five)));
        c.bench_function(&format!("col2im {name} {:?}", cols.shape()), |b| {
            b.iter(|| tensor::col2im(black_box(&cols), &shape, &five))
        });
    }
    let pool = Window2d::square(2, 2, 0);
    let s2 = input(&[N, 6, 28, 28], &mut rng);
    c.bench_function("pool_windows S2 gather", |b| b.iter(|| tensor::pool_windows(black_box(&s2), &pool)));
    c.bench_function("max_pool2d S2 fused", |b| b.iter(|| tensor::max_pool2d(black_box(&s2), &pool)));
    let (y, argmax) = tensor::max_pool2d(&s2, &pool).expect("geometry");
    let g = Tensor::<f32>::ones(y.shape()).expect("shape");
    c.bench_function("max_pool2d_backward S2 scatter", |b| {
        b.iter(|| tensor::max_pool2d_backward(black_box(&g), &argmax))
    });
}

/// Forward, and forward + backward, of one layer on a recording tape.
fn layer<M: Module<f32>>(c: &mut Criterion, name: &str, layer: &M, x: &Tensor<f32>) {
    c.bench_function(&format!("{name} forward"), |b| {
        b.iter(|| {
            let tape = Tape::no_grad();
            layer.forward(tape.constant(x.clone())).map(|y| y.value())
        })
    });
    c.bench_function(&format!("{name} forward+backward"), |b| {
        b.iter(|| {
            let tape = Tape::new();
            let y = layer.forward(tape.leaf(x.clone())).expect("forward").sum().expect("sum");
            tape.backward(y).map(|g| g.params().count())
        })
    });
}

fn layers(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let c1 = Conv2d::new(Conv2dConfig::new(1, 6, 5), &mut rng).expect("config");
    let c3 = Conv2d::new(Conv2dConfig::new(6, 16, 5), &mut rng).expect("config");
    let c5 = Conv2d::new(Conv2dConfig::new(16, 120, 5), &mut rng).expect("config");
    let f6 = Linear::new(120, 84, &mut rng).expect("config");
    let pool = MaxPool2d::new(2, 2).expect("config");
    layer(c, "C1 conv 1→6 5×5", &c1, &input(&[N, 1, 32, 32], &mut rng));
    layer(c, "S2 max-pool 2×2", &pool, &input(&[N, 6, 28, 28], &mut rng));
    layer(c, "C3 conv 6→16 5×5", &c3, &input(&[N, 6, 14, 14], &mut rng));
    layer(c, "C5 conv 16→120 5×5", &c5, &input(&[N, 16, 5, 5], &mut rng));
    layer(c, "F6 linear 120→84", &f6, &input(&[N, 120], &mut rng));
}

/// The grid's geometries that are not LeNet-5's.
fn grid_layers(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2);
    let padded = Conv2d::new(Conv2dConfig::new(16, 32, 3).padding(1), &mut rng).expect("config");
    let strided = Conv2d::new(Conv2dConfig::new(16, 32, 3).stride(2).padding(1), &mut rng).expect("config");
    let overlapping = MaxPool2d::with_window(Window2d::square(3, 2, 0)).expect("config");
    layer(c, "conv 16→32 3×3 p1 on 13×13", &padded, &input(&[N, 16, 13, 13], &mut rng));
    layer(c, "conv 16→32 3×3 s2 p1 on 14×14", &strided, &input(&[N, 16, 14, 14], &mut rng));
    layer(c, "max-pool 3×3/2 on 16×28×28", &overlapping, &input(&[N, 16, 28, 28], &mut rng));
}

criterion_group!(benches, kernels, layers, grid_layers);
criterion_main!(benches);
