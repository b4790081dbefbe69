//! Integration tests of the workbench host live in `integration/`: one test
//! binary that runs the real host against real plugins built from source.
