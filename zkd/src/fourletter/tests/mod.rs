//! Tests of the words against captures of a live ZooKeeper 3.8.0
//! (`golden`), and of the rules around them (`rules`).

mod capture;
mod fake;
mod golden;
mod rules;
