mod admin_tests;
mod log_tests;
mod recover_tests;
mod snap_stream_tests;
mod snapshot_tests;
mod support;
