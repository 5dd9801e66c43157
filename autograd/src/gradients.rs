//! The result of a backward pass: one gradient per leaf, by node or by parameter.

use tensor::{Element, Tensor};

use crate::param::{Param, ParamId};
use crate::tape::Var;

/// Gradients of the leaves and parameters an output depends on. It holds no borrow of the
/// tape, so the tape can be dropped or reset before an optimizer uses them.
pub struct Gradients<T> {
    by_node: Vec<Option<Tensor<T>>>,
    by_param: Vec<(ParamId, usize)>,
}

impl<T: Element> Gradients<T> {
    pub(crate) fn with_capacity(nodes: usize) -> Self {
        Gradients { by_node: vec![None; nodes], by_param: Vec::new() }
    }

    /// Stores a leaf's gradient; a parameter brought onto the tape more than once gets the
    /// sum over its leaves.
    pub(crate) fn insert(&mut self, node: usize, param: Option<ParamId>, grad: Tensor<T>) -> tensor::Result<()> {
        if let Some(id) = param {
            if let Some(&(_, first)) = self.by_param.iter().find(|(p, _)| *p == id) {
                if let Some(acc) = self.by_node[first].as_mut() {
                    acc.add_assign(&grad)?;
                }
                self.by_node[node] = Some(grad);
                return Ok(());
            }
            self.by_param.push((id, node));
        }
        self.by_node[node] = Some(grad);
        Ok(())
    }

    /// The gradient of a leaf made with [`Tape::leaf`](crate::Tape::leaf) or
    /// [`Tape::param`](crate::Tape::param); `None` if the output does not depend on it.
    pub fn get(&self, var: Var<'_, T>) -> Option<&Tensor<T>> {
        self.by_node.get(var.id()).and_then(Option::as_ref)
    }

    /// The gradient of a parameter, summed over every time it was brought onto the tape;
    /// `None` if the output does not depend on it.
    pub fn param(&self, param: &Param<T>) -> Option<&Tensor<T>> {
        self.param_by_id(param.id())
    }

    /// Like [`Gradients::param`], by identity.
    pub fn param_by_id(&self, id: ParamId) -> Option<&Tensor<T>> {
        let &(_, node) = self.by_param.iter().find(|(p, _)| *p == id)?;
        self.by_node[node].as_ref()
    }

    /// Adds every parameter gradient of `other` into this one (inserting those this one
    /// lacks): the gradient of a sum of losses computed on separate tapes, e.g. over the
    /// slices of a batch on several threads.
    pub fn accumulate(&mut self, other: &Gradients<T>) -> tensor::Result<()> {
        for (id, g) in other.params() {
            match self.by_param.iter().find(|(p, _)| *p == id) {
                Some(&(_, node)) => match &mut self.by_node[node] {
                    Some(acc) => acc.add_assign(g)?,
                    slot => *slot = Some(g.clone()),
                },
                None => {
                    self.by_node.push(Some(g.clone()));
                    self.by_param.push((id, self.by_node.len() - 1));
                }
            }
        }
        Ok(())
    }

    /// The parameters that received a gradient, with their gradients.
    pub fn params(&self) -> impl Iterator<Item = (ParamId, &Tensor<T>)> + '_ {
        self.by_param.iter().filter_map(|&(id, n)| self.by_node[n].as_ref().map(|g| (id, g)))
    }
}
