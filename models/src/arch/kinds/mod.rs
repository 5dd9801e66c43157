//! The layer kinds of the spec language, one file each, and [`Kinds`]: the list the parser,
//! the help text and the README's layer table are made from. [`Kinds::builtin`] is the one
//! list of the built-in kinds; a kind of your own joins a copy of it
//! ([`Kinds::register`]).

use thiserror::Error;

use super::args::{ArgError, Args};
use super::kind::{Kind, LayerSpec};

/// A kind written as its bare token (`relu`, `flatten`): no arguments, no keys, its module
/// built as `$module`. The struct, its constants, `parse`, `write` and `build` are written
/// here; the kind's file gives the rest of its [`Kind`] implementation (`plan`, the page).
macro_rules! bare_kind {
    ($(#[$doc:meta])* $kind:ident = $name:literal, layer $layer:literal, pytorch $pytorch:literal, module $module:expr;
     $($rest:tt)*) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $kind;

        impl $crate::arch::Kind for $kind {
            const NAME: &'static str = $name;
            const USAGE: &'static str = $name;
            const LAYER: &'static str = $layer;
            const PYTORCH: &'static str = $pytorch;
            const KEYS: &'static [&'static str] = &[];

            fn parse(args: &$crate::arch::args::Args) -> Result<Self, $crate::arch::args::ArgError> {
                args.expect(Self::USAGE, 0, 0, &[])?;
                Ok($kind)
            }

            fn write(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(Self::NAME)
            }

            fn build<T: tensor::Element>(
                &self,
                _: &mut $crate::arch::BuildContext<'_>,
            ) -> Result<Box<dyn layers::Module<T>>, layers::LayerError> {
                Ok(Box::new($module))
            }

            $($rest)*
        }
    };
}

/// A pooling kind, `NAME(K[,s=S][,p=P])` (the stride defaulting to the kernel), built as
/// `$module::with_window`; `windows` says whether its plan shows the window matrix and the
/// row maxima. The struct, constants, parser, text, check, plan and builder are written
/// here; the kind's file gives the rest of its [`Kind`] implementation (the page).
macro_rules! pool_kind {
    ($(#[$doc:meta])* $kind:ident = $name:literal, layer $layer:literal, pytorch $pytorch:literal,
     module $module:ty, windows $windows:expr, padding $padding:literal;
     $($rest:tt)*) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $kind {
            /// Window side.
            pub kernel: usize,
            /// Stride (default: the kernel).
            pub stride: usize,
            #[doc = $padding]
            pub padding: usize,
        }

        impl $kind {
            fn square(&self) -> super::window::Square {
                super::window::Square { kernel: self.kernel, stride: self.stride, padding: self.padding }
            }
        }

        impl $crate::arch::Kind for $kind {
            const NAME: &'static str = $name;
            const USAGE: &'static str = concat!($name, "(K[,s=S][,p=P])");
            const LAYER: &'static str = $layer;
            const PYTORCH: &'static str = $pytorch;
            const KEYS: &'static [&'static str] = &[];

            fn parse(args: &$crate::arch::args::Args) -> Result<Self, $crate::arch::args::ArgError> {
                args.expect(Self::USAGE, 1, 1, &["s", "p"])?;
                let super::window::Square { kernel, stride, padding } = super::window::Square::parse(args, 0, None)?;
                Ok($kind { kernel, stride, padding })
            }

            fn write(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!($name, "({}"), self.kernel)?;
                self.square().write_extras(f, self.kernel)?;
                f.write_str(")")
            }

            fn check(&self) -> Result<(), String> {
                self.square().check_pool()
            }

            fn plan(&self, input: &[usize]) -> Result<$crate::arch::plan::LayerPlan, String> {
                self.square().pool_plan(Self::NAME, input, $windows)
            }

            fn build<T: tensor::Element>(
                &self,
                _: &mut $crate::arch::BuildContext<'_>,
            ) -> Result<Box<dyn layers::Module<T>>, layers::LayerError> {
                Ok(Box::new(<$module>::with_window(self.square().window())?))
            }

            $($rest)*
        }
    };
}

mod avgpool;
mod batchnorm;
mod conv;
mod dropout;
mod flatten;
mod gap;
mod leakyrelu;
mod linear;
mod maxpool;
mod relu;
mod res;
mod sigmoid;
mod tanh;
mod window;

pub use avgpool::AvgPool;
pub use batchnorm::BatchNorm;
pub use conv::Conv;
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use gap::Gap;
pub use leakyrelu::LeakyRelu;
pub use linear::Linear;
pub use maxpool::MaxPool;
pub use relu::Relu;
pub use res::Res;
pub use sigmoid::Sigmoid;
pub use tanh::Tanh;

/// The presets of the spec language: each stands alone for a whole network.
pub const PRESETS: [&str; 6] = ["lenet5", "lenet5-1998", "resnet20", "resnet32", "resnet44", "resnet56"];

/// One kind as the parser, the help text and the README see it: its [`Kind`]'s constants
/// and its parser.
#[derive(Clone, Copy)]
pub struct KindEntry {
    /// [`Kind::NAME`].
    pub name: &'static str,
    /// [`Kind::USAGE`].
    pub usage: &'static str,
    /// [`Kind::LAYER`].
    pub layer: &'static str,
    /// [`Kind::PYTORCH`].
    pub pytorch: &'static str,
    /// [`Kind::KEYS`].
    pub keys: &'static [&'static str],
    parse: fn(&Args) -> Result<LayerSpec, ArgError>,
}

impl KindEntry {
    /// The entry of kind `K`.
    pub fn of<K: Kind>() -> Self {
        KindEntry {
            name: K::NAME,
            usage: K::USAGE,
            layer: K::LAYER,
            pytorch: K::PYTORCH,
            keys: K::KEYS,
            parse: parse_as::<K>,
        }
    }

    /// The layer `args` describe, checked ([`Kind::check`]).
    pub fn parse(&self, args: &Args) -> Result<LayerSpec, ArgError> {
        (self.parse)(args)
    }
}

impl std::fmt::Debug for KindEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindEntry").field("name", &self.name).field("usage", &self.usage).finish_non_exhaustive()
    }
}

fn parse_as<K: Kind>(args: &Args) -> Result<LayerSpec, ArgError> {
    let layer = K::parse(args)?;
    layer.check().map_err(ArgError::Invalid)?;
    Ok(LayerSpec::new(layer))
}

/// Why a kind cannot join a list.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KindError {
    /// A kind of that name is in the list already.
    #[error("a layer kind named {0:?} is registered already")]
    Taken(&'static str),
    /// The name is a preset's.
    #[error("{0:?} is a preset of the spec language, not a name for a layer kind")]
    Preset(&'static str),
    /// The name is not a token of the spec language (it must be lowercase letters, digits
    /// and `-`, starting with a letter).
    #[error("{0:?} is not a layer name: lowercase letters, digits and '-', starting with a letter")]
    Name(&'static str),
}

/// The layer kinds a spec may use, in the order the help text lists them.
#[derive(Debug, Clone)]
pub struct Kinds {
    entries: Vec<KindEntry>,
}

impl Default for Kinds {
    fn default() -> Self {
        Kinds::builtin()
    }
}

impl Kinds {
    /// The built-in kinds: the one list of them.
    pub fn builtin() -> Kinds {
        Kinds {
            entries: vec![
                KindEntry::of::<Conv>(),
                KindEntry::of::<MaxPool>(),
                KindEntry::of::<AvgPool>(),
                KindEntry::of::<Gap>(),
                KindEntry::of::<BatchNorm>(),
                KindEntry::of::<Dropout>(),
                KindEntry::of::<Relu>(),
                KindEntry::of::<LeakyRelu>(),
                KindEntry::of::<Tanh>(),
                KindEntry::of::<Sigmoid>(),
                KindEntry::of::<Flatten>(),
                KindEntry::of::<Linear>(),
                KindEntry::of::<Res>(),
            ],
        }
    }

    /// Adds kind `K` at the end of the list; an error when its name is taken or is not a
    /// token of the spec language.
    pub fn register<K: Kind>(&mut self) -> Result<&mut Self, KindError> {
        let name = K::NAME;
        let mut chars = name.chars();
        let first = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        if !first || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Err(KindError::Name(name));
        }
        if PRESETS.contains(&name) {
            return Err(KindError::Preset(name));
        }
        if self.get(name).is_some() {
            return Err(KindError::Taken(name));
        }
        self.entries.push(KindEntry::of::<K>());
        Ok(self)
    }

    /// This list with kind `K` added ([`Kinds::register`]).
    pub fn with<K: Kind>(mut self) -> Result<Self, KindError> {
        self.register::<K>()?;
        Ok(self)
    }

    /// The kinds, in order.
    pub fn entries(&self) -> &[KindEntry] {
        &self.entries
    }

    /// The kind named `name`.
    pub fn get(&self, name: &str) -> Option<&KindEntry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The help of `--arch`: what a spec is, an example, every kind as it is written, and
    /// the presets.
    pub fn arch_help(&self) -> String {
        let usages: Vec<&str> = self.entries.iter().map(|e| e.usage).collect();
        format!(
            "The network: lenet5 (the default) or layers separated by spaces, e.g. \"conv(16,3,p=1) relu \
             conv(32,3,s=2,p=1) relu maxpool(3,s=2) flatten linear(64) relu linear(10)\". Layers: {}. Presets: {}",
            usages.join(", "),
            PRESETS.join(", ")
        )
    }

    /// The kinds as a Markdown table (token, layer, PyTorch module, checkpoint keys): the
    /// README's layer table.
    pub fn markdown_table(&self) -> String {
        let mut out = String::from("| layer | builds | PyTorch | keys |\n|---|---|---|---|\n");
        for e in &self.entries {
            let keys: Vec<String> = e.keys.iter().map(|k| format!("`{k}`")).collect();
            let keys = if keys.is_empty() { "none".to_string() } else { keys.join(", ") };
            let cell = |text: &str| text.replace('|', "\\|");
            out += &format!("| `{}` | {} | `{}` | {keys} |\n", cell(e.usage), cell(e.layer), cell(e.pytorch));
        }
        out
    }
}
