//! Placement sources: where does the service run? One parser per source, each tested on the
//! source's real output. Filled in by the placement work (see the crate docs).
