//! The CIFAR ResNets of He et al. 2016 (§4.2) as specs: the presets `resnet20`, `resnet32`,
//! `resnet44`, `resnet56` (`6n + 2` layers). A 3×3 convolution of 16 filters, then three
//! stages of `n` basic blocks with 16, 32 and 64 filters (the first block of stages 2 and 3
//! halves the map with stride 2), then global average pooling and a linear layer of 10.
//! Every convolution is bias-free before its batch norm, as in PyTorch's ResNets. Where the
//! shape changes, the shortcut is a 1×1 convolution with stride 2 and batch norm (the
//! paper's option B); elsewhere it is the identity. `resnet20` has 0.27 M parameters. Any
//! input size works (the pooling is global), and any channel count.

/// The depths of the presets, `6n + 2`.
pub const DEPTHS: [usize; 4] = [20, 32, 44, 56];

/// The spec of the preset `name` (`resnet20` …), or `None` when it is not one.
pub fn spec(name: &str) -> Option<String> {
    let depth: usize = name.strip_prefix("resnet")?.parse().ok()?;
    DEPTHS.contains(&depth).then(|| of_depth(depth))
}

/// ResNet-`depth` (`depth = 6n + 2`) as a spec.
fn of_depth(depth: usize) -> String {
    let n = (depth - 2) / 6;
    let conv = |c: usize, s: usize| {
        let stride = if s == 1 { String::new() } else { format!(",s={s}") };
        format!("conv({c},3{stride},p=1,bias=false) batchnorm")
    };
    let mut layers = vec![format!("{} relu", conv(16, 1))];
    for (stage, c) in [16, 32, 64].into_iter().enumerate() {
        for block in 0..n {
            let s = if stage > 0 && block == 0 { 2 } else { 1 };
            let body = format!("{} relu {}", conv(c, s), conv(c, 1));
            let shortcut = if s == 1 { String::new() } else { format!(" | conv({c},1,s=2,bias=false) batchnorm") };
            layers.push(format!("res({body}{shortcut}) relu"));
        }
    }
    layers.push("gap flatten linear(10)".into());
    layers.join(" ")
}

/// The preset a spec's layers are, if any (for the default file name).
pub fn name_of(text: &str) -> Option<String> {
    DEPTHS.iter().find(|&&d| of_depth(d) == text).map(|d| format!("resnet{d}"))
}
