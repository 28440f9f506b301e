//! postback-archive: turn archived Skycore postback XML into one DuckDB archive.
//!
//! The data flows one way, one module per stage:
//! [`discover`] -> [`parse`] -> [`normalize`] -> [`store`] -> [`report`].
//! [`import`] wires the first four together for the `import` command; [`lake`] is
//! where `export` puts the archive as Parquet, for Spark and for reports over many
//! archives; [`cli`] and [`cmd`] turn the command line into calls of the stages;
//! [`serve`] receives postbacks over HTTP and writes the folder that `import` reads;
//! [`compact`] rolls folders of that archive folder into tarballs that `import` reads
//! as folders. A
//! result travels from [`store`] to [`report`] and [`output`] as the plain [`value`]s,
//! so nothing past the store knows DuckDB.

pub mod cli;
pub mod cmd;
pub mod compact;
pub mod discover;
pub mod disk;
pub mod import;
pub mod lake;
pub mod normalize;
pub mod output;
pub mod parse;
pub mod problem;
pub mod progress;
pub mod report;
pub mod serve;
pub mod signals;
pub mod store;
pub mod value;
