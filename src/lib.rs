pub mod causality;
pub mod clock;
pub mod coordinator;
pub mod ring;
pub mod store;
