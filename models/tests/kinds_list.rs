//! The one list of layer kinds (`Kinds::builtin`) against everything made from it or kept
//! beside it: the README's layer table, the help of `lenet5 train --arch`, the PyTorch
//! parser of the benchmarks, each kind's checkpoint keys as built; and what a kind of
//! one's own may not be called.

use std::collections::BTreeSet;
use std::path::Path;

use layers::Module;
use models::arch::{Arch, Kind, KindError, Kinds, LayerSpec};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::common::lenet5;

fn workspace_file(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::read_to_string(root.join(path)).unwrap()
}

#[test]
fn the_readme_shows_the_table_of_the_list() {
    let readme = workspace_file("README.md");
    let table = Kinds::builtin().markdown_table();
    assert!(readme.contains(&table), "README.md's layer table is not Kinds::builtin().markdown_table():\n{table}");
    assert_eq!(table.lines().count(), 2 + Kinds::builtin().entries().len());
}

#[test]
fn the_help_of_arch_lists_every_kind() {
    let run = lenet5(&["train", "--help"]);
    run.assert_ok("train --help");
    let help: String = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for kind in Kinds::builtin().entries() {
        assert!(help.contains(kind.usage), "train --help does not list {}:\n{help}", kind.usage);
    }
    assert!(help.contains("Presets: lenet5, lenet5-1998"), "{help}");
}

#[test]
fn the_pytorch_parser_of_the_benchmarks_knows_the_same_kinds() {
    let script = workspace_file("bench/pytorch_arch.py");
    let start = script.find("MODULES = {").expect("bench/pytorch_arch.py has its MODULES table");
    let end = start + script[start..].find("\n}\n").unwrap();
    let python: BTreeSet<&str> =
        script[start..end].lines().skip(1).filter_map(|l| l.trim().strip_prefix('"')?.split('"').next()).collect();
    let rust: BTreeSet<&str> = Kinds::builtin().entries().iter().map(|e| e.name).collect();
    assert_eq!(python, rust);
    for kind in Kinds::builtin().entries() {
        for module in kind.pytorch.split(" / ") {
            let class = module.split('(').next().unwrap();
            let line =
                script[start..end].lines().find(|l| l.trim().starts_with(&format!("\"{}\"", kind.name))).unwrap();
            assert!(line.contains(class), "{}: {line} does not build {class}", kind.name);
        }
    }
}

/// Every kind once, on 1×8×8 images of 3 classes.
const EVERY_KIND: &str = "conv(4,3,p=1) batchnorm relu res(conv(4,3,p=1) relu | conv(4,1)) maxpool(2) avgpool(1) gap dropout(0.5) leakyrelu tanh \
     sigmoid flatten linear(3)";

#[test]
fn each_kind_builds_the_keys_it_states_and_prints_back_canonically() {
    let arch: Arch = EVERY_KIND.parse().unwrap();
    let layers = arch.layers();
    let kinds = Kinds::builtin();
    let named: BTreeSet<&str> = layers.iter().map(LayerSpec::name).collect();
    let listed: BTreeSet<&str> = kinds.entries().iter().map(|e| e.name).collect();
    assert_eq!(named, listed, "EVERY_KIND has each kind of the list once");
    let net = arch.build::<f32, _>([1, 8, 8], Some(3), &mut StdRng::seed_from_u64(0)).unwrap();
    let mut keys: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
    keys.extend(net.named_buffers().into_iter().map(|(n, _)| n));
    for (i, layer) in layers.iter().enumerate() {
        let built: BTreeSet<&str> = keys.iter().filter_map(|k| k.strip_prefix(&format!("{i}."))).collect();
        // A block states its keys by path (`body.*`): each built key is under one of them.
        let stated: BTreeSet<&str> = kinds.get(layer.name()).unwrap().keys.iter().copied().collect();
        let built: BTreeSet<&str> = built
            .into_iter()
            .map(|k| {
                stated.iter().find(|s| s.strip_suffix('*').is_some_and(|p| k.starts_with(p))).copied().unwrap_or(k)
            })
            .collect();
        assert_eq!(built, stated, "layer {i} {layer}");
        assert_eq!(layer.to_string().parse::<LayerSpec>().unwrap(), *layer);
    }
    assert_eq!(arch.to_string(), EVERY_KIND);
}

#[derive(Debug, PartialEq)]
struct Named<const N: usize>;

macro_rules! named_kind {
    ($n:literal, $name:literal) => {
        impl Kind for Named<$n> {
            const NAME: &'static str = $name;
            const USAGE: &'static str = $name;
            const LAYER: &'static str = "`ReLU`";
            const PYTORCH: &'static str = "nn.ReLU()";
            const KEYS: &'static [&'static str] = &[];
            fn parse(_: &models::arch::Args) -> Result<Self, models::arch::ArgError> {
                Ok(Named)
            }
            fn write(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($name)
            }
            fn plan(&self, input: &[usize]) -> Result<models::arch::LayerPlan, String> {
                Ok(models::arch::LayerPlan::element_wise(input))
            }
            fn build<T: tensor::Element>(
                &self,
                _: &mut models::arch::BuildContext<'_>,
            ) -> Result<Box<dyn Module<T>>, layers::LayerError> {
                Ok(Box::new(layers::ReLU))
            }
        }
    };
}

named_kind!(0, "relu");
named_kind!(1, "lenet5");
named_kind!(2, "Big");
named_kind!(3, "two words");
named_kind!(4, "relu2");

#[test]
fn a_kind_of_ones_own_needs_a_free_name_of_the_language() {
    let mut kinds = Kinds::builtin();
    assert_eq!(kinds.register::<Named<0>>().map(|_| ()), Err(KindError::Taken("relu")));
    assert_eq!(kinds.register::<Named<1>>().map(|_| ()), Err(KindError::Preset("lenet5")));
    assert_eq!(kinds.register::<Named<2>>().map(|_| ()), Err(KindError::Name("Big")));
    assert_eq!(kinds.register::<Named<3>>().map(|_| ()), Err(KindError::Name("two words")));
    assert_eq!(kinds.entries().len(), Kinds::builtin().entries().len(), "a refused kind is not added");
    let kinds = kinds.with::<Named<4>>().unwrap();
    assert_eq!(kinds.parse("relu2 flatten linear(2)").unwrap().to_string(), "relu2 flatten linear(2)");
    let e = "relu2 flatten linear(2)".parse::<Arch>().unwrap_err();
    assert_eq!(e.position, Some(1));
    assert!(e.to_string().contains("did you mean relu?"), "{e}");
}
