//! Several Gatehouse instances on one PostgreSQL (issue 11): two or three real
//! `gatehouse serve` processes on loopback ports, each with its own working directory,
//! one shared database and one public issuer, as behind a load balancer. Each test asserts
//! what a user or an app would see when its requests land on different nodes. They run
//! only on PostgreSQL (GATEHOUSE_TEST_POSTGRES_URL; a failure without it when
//! GATEHOUSE_REQUIRE_POSTGRES=1). The fault tests (`faults`) stop and restart a
//! PostgreSQL of their own, never the shared one.

mod cluster;
mod private_postgres;

mod background_work;
mod dpop;
mod faults;
mod keys;
mod limits;
mod races;
mod sessions;
mod startup;
