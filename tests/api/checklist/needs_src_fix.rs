//! Fails on today's code: needs a src fix. Checklist rows whose test shows the product
//! is wrong. Each test here states the expected behaviour; when the fix lands, move the
//! test to its section's file. None today: the F6 huge-header case moved to
//! tests/api/server_limits.rs and the E2 generic-5xx case to page_headers.rs with their fixes.
