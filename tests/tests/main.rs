//! The integration tests of this crate as one test binary (one link, not one per file):
//! each file of `tests/` is a module here.

mod end_to_end;
mod guide_links;
