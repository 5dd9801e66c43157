//! Networks described from one input shape: the lazy layers take the sizes a hand-built
//! network spells out, and draw the same weights from the same seed; a layer that does not
//! fit its input is named; batch norm's kind and dropout's mask ids follow the chain.

use layers::parameter_bits;
use layers::prelude::*;

#[test]
fn lazy_layers_take_the_sizes_a_hand_built_network_spells_out() {
    let lazy = Sequential::<f32>::input([3, 10, 9])
        .with(LazyConv2d::new(6, 3).stride(2).padding(1))
        .with(ReLU)
        .with(LazyConv2d::new(4, 1).kernel(2, 3).bias(false).init(Init::KaimingNormal))
        .with(MaxPool2d::new(2, 2).unwrap())
        .with(Flatten)
        .with(LazyLinear::new(5).init(Init::XavierUniform))
        .with(Tanh)
        .with(LazyLinear::new(2).bias(false))
        .build(11)
        .unwrap();
    // By hand: 10×9 → (10+2−3)/2+1 = 5 × (9+2−3)/2+1 = 5 → 2×3 kernel: 4×3 → pool: 2×1, 4 channels.
    let mut rng = StdRng::seed_from_u64(11);
    let by_hand = Sequential::<f32>::new()
        .with(Conv2d::new(Conv2dConfig::new(3, 6, 3).stride(2).padding(1), &mut rng).unwrap())
        .with(ReLU)
        .with(
            Conv2d::new(Conv2dConfig::new(6, 4, 1).kernel(2, 3).bias(false).init(Init::KaimingNormal), &mut rng)
                .unwrap(),
        )
        .with(MaxPool2d::new(2, 2).unwrap())
        .with(Flatten)
        .with(Linear::with_options(4 * 2, 5, true, Init::XavierUniform, &mut rng).unwrap())
        .with(Tanh)
        .with(Linear::with_options(5, 2, false, Init::PytorchDefault, &mut rng).unwrap());
    assert_eq!(parameter_bits(&lazy), parameter_bits(&by_hand));
    assert_eq!(format!("{lazy:?}"), format!("{by_hand:?}"));
    assert_eq!(lazy.output_shape(&[7, 3, 10, 9]).unwrap(), [7, 2]);
    let other = Sequential::<f32>::input([3, 10, 9]).with(LazyConv2d::new(6, 3)).build(12).unwrap();
    assert_ne!(parameter_bits(&other)[0], parameter_bits(&lazy)[0], "another seed, other weights");
}

#[test]
fn batch_norm_follows_the_rank_and_dropout_its_position() {
    let net = Sequential::<f32>::input([2, 4, 4])
        .with(LazyBatchNorm)
        .with(LazyDropout(0.5))
        .with(Flatten)
        .with(LazyBatchNorm)
        .with(LazyDropout(0.1))
        .build(0)
        .unwrap();
    let shapes: Vec<(String, Vec<usize>)> =
        net.named_buffers().into_iter().map(|(n, b)| (n, b.shape())).filter(|(n, _)| n.ends_with("mean")).collect();
    assert_eq!(shapes, [("0.running_mean".to_string(), vec![2]), ("3.running_mean".to_string(), vec![32])]);
    let text = format!("{net:?}");
    assert!(text.contains("BatchNorm2d(2") && text.contains("BatchNorm1d(32"), "{text}");
    assert!(text.contains("Dropout(p=0.5, layer id 1)") && text.contains("Dropout(p=0.1, layer id 4)"), "{text}");
}

#[test]
fn a_layer_that_does_not_fit_is_named() {
    let message = |b: SequentialBuilder<f32>| b.build(0).unwrap_err().to_string();
    let unflattened = Sequential::input([1, 8, 8]).with(LazyConv2d::new(2, 3)).with(ReLU).with(LazyLinear::new(4));
    let text = message(unflattened);
    assert!(text.contains("layer 2") && text.contains("Flatten") && text.contains("[1, 2, 6, 6]"), "{text}");
    let too_small = Sequential::input([1, 4, 4]).with(LazyConv2d::new(2, 3)).with(LazyConv2d::new(2, 3));
    assert!(message(too_small).contains("layer 1"));
    let built_wrong = Sequential::input([5]).with(Linear::new(4, 2, &mut StdRng::seed_from_u64(0)).unwrap());
    let text = message(built_wrong);
    assert!(text.contains("layer 0") && text.contains("[N, 4]"), "{text}");
    assert!(message(Sequential::input([3, 0, 2])).contains("at least 1"));
    assert!(message(Sequential::input(Vec::<usize>::new())).contains("at least one axis"));
}
