//! LeNet-5's page in the derivation's notation, from the one generic pass: every matrix's
//! id, card, formula, section, shape, operator and scale, and every link's panels and hover
//! text, against `fixtures/lenet5_page_labels.txt`, written by the dedicated LeNet-5 pass
//! this crate had before (`explorer/pass.rs`, since removed; one change since: S4's links
//! say what S2's say, where the dedicated pass said nothing).

use models::explorer::{Image, Pass};

use crate::explorer_support;

/// One line per matrix and per link, as the fixture has them.
fn labels(p: &Pass) -> String {
    let mut s = String::new();
    for (name, list) in [("F", &p.forward), ("B", &p.backward)] {
        for m in list {
            s += &format!(
                "{name} {:6} | {:10} | {:45} | {:10} | {:?} | op={:?} sc={:?} sg={} am={}\n",
                m.id,
                m.layer,
                m.formula,
                m.section,
                m.shape,
                m.op,
                m.scale,
                m.signed,
                m.argmax.is_some()
            );
        }
    }
    for l in &p.links {
        s += &format!("L {} rows={:?} in={:?} out={:?} note={:?}\n", l.name, l.rows, l.input, l.output, l.note);
    }
    s
}

#[test]
fn lenet5_page_keeps_the_derivation_labels() {
    let lenet = explorer_support::model(11);
    let image = Image::from_bytes(&explorer_support::noisy_digit());
    let p = explorer_support::lenet_pass(&lenet, &image, Some(4)).unwrap();
    let want = include_str!("fixtures/lenet5_page_labels.txt");
    let got = labels(&p);
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {}", i + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count());
}
