mod admin_tests;
mod log_tests;
mod recover_tests;
mod snapshot_tests;
mod support;
