//! Fails on today's code: needs a src fix. Checklist rows whose test shows the product
//! is wrong. Each test here states the expected behaviour; when the fix lands, move the
//! test to its section's file. None today.
