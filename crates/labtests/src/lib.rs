//! Integration tests on real OpenZFS live in tests/.
