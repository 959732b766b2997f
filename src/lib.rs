pub mod causality;
pub mod clock;
pub mod store;
