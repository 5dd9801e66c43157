//! `Display`: the shape on one line, then the values nested like numpy's repr, elided
//! when large. A precision (`{:.3}`) applies to every value.

use std::fmt;

use crate::tensor::Tensor;

/// Along an axis longer than this, only the first and last `EDGE` entries are printed.
const ELIDE_ABOVE: usize = 8;
const EDGE: usize = 3;

impl<T: Clone + fmt::Display> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Tensor{:?}", self.shape())?;
        let mut index = Vec::with_capacity(self.rank());
        self.write_nested(f, &mut index)
    }
}

impl<T: Clone + fmt::Display> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<T: Clone + fmt::Display> Tensor<T> {
    fn write_nested(&self, f: &mut fmt::Formatter<'_>, index: &mut Vec<usize>) -> fmt::Result {
        let axis = index.len();
        if axis == self.rank() {
            let value = self.get(index).map_err(|_| fmt::Error)?;
            return match f.precision() {
                Some(p) => write!(f, "{value:.p$}"),
                None => write!(f, "{value}"),
            };
        }
        let len = self.shape()[axis];
        let shown: Vec<Option<usize>> = if len > ELIDE_ABOVE {
            (0..EDGE).map(Some).chain([None]).chain((len - EDGE..len).map(Some)).collect()
        } else {
            (0..len).map(Some).collect()
        };
        f.write_str("[")?;
        for (k, entry) in shown.iter().enumerate() {
            if k > 0 {
                f.write_str(if axis + 1 == self.rank() { ", " } else { ",\n" })?;
                if axis + 1 < self.rank() {
                    write!(f, "{:width$}", "", width = axis + 1)?;
                }
            }
            match entry {
                Some(i) => {
                    index.push(*i);
                    self.write_nested(f, index)?;
                    index.pop();
                }
                None => f.write_str("...")?,
            }
        }
        f.write_str("]")
    }
}
