//! What a run does: the workload, object sizes, how long, against what. Parsed from the command
//! line's words ("4KiB", "1KiB..1MiB", "get=45,put=15") and checked before any request is sent.

use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use serde::Serialize;

use super::client::Target;

/// One kind of request the generator measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Put,
    Get,
    Head,
    Delete,
    List,
    Multipart,
}

impl Op {
    pub const ALL: [Op; 6] = [Op::Put, Op::Get, Op::Head, Op::Delete, Op::List, Op::Multipart];

    pub fn name(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::Get => "get",
            Op::Head => "head",
            Op::Delete => "delete",
            Op::List => "list",
            Op::Multipart => "multipart",
        }
    }

    /// Whether the operation needs objects that already exist.
    pub fn reads_existing(self) -> bool {
        matches!(self, Op::Get | Op::Head | Op::Delete | Op::List)
    }
}

impl FromStr for Op {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Op::ALL.into_iter().find(|op| op.name() == s).ok_or_else(|| {
            let names: Vec<_> = Op::ALL.iter().map(|op| op.name()).collect();
            format!("unknown operation {s:?} (one of {})", names.join(", "))
        })
    }
}

/// Relative weights of the operations a mixed load draws from.
#[derive(Debug, Clone, PartialEq)]
pub struct Mix(Vec<(Op, u32)>);

impl Mix {
    /// One operation only.
    pub fn only(op: Op) -> Self {
        Self(vec![(op, 1)])
    }

    pub fn ops(&self) -> impl Iterator<Item = Op> + '_ {
        self.0.iter().map(|(op, _)| *op)
    }

    pub fn pick(&self, rng: &mut impl Rng) -> Op {
        let total: u32 = self.0.iter().map(|(_, w)| w).sum();
        let mut roll = rng.random_range(0..total);
        for &(op, weight) in &self.0 {
            if roll < weight {
                return op;
            }
            roll -= weight;
        }
        self.0[self.0.len() - 1].0
    }
}

impl FromStr for Mix {
    type Err = String;
    /// `get=45,put=15,head=30,delete=10`
    fn from_str(s: &str) -> Result<Self, String> {
        let mut weights = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (op, weight) =
                part.split_once('=').ok_or_else(|| format!("{part:?} is not op=weight"))?;
            let op: Op = op.trim().parse()?;
            let weight: u32 =
                weight.trim().parse().map_err(|_| format!("weight of {op:?} is not a number"))?;
            if weights.iter().any(|(o, _)| *o == op) {
                return Err(format!("{} appears twice", op.name()));
            }
            if weight > 0 {
                weights.push((op, weight));
            }
        }
        if weights.is_empty() {
            return Err("a mix needs at least one operation with a weight above 0".into());
        }
        Ok(Self(weights))
    }
}

/// Object sizes: one size, or drawn uniformly from an inclusive range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectSize {
    pub min: u64,
    pub max: u64,
}

impl ObjectSize {
    pub fn sample(self, rng: &mut impl Rng) -> u64 {
        if self.min == self.max { self.min } else { rng.random_range(self.min..=self.max) }
    }
}

impl std::fmt::Display for ObjectSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |n: u64| bytesize::ByteSize::b(n).display().iec().to_string();
        if self.min == self.max {
            write!(f, "{}", show(self.min))
        } else {
            write!(f, "{}..{}", show(self.min), show(self.max))
        }
    }
}

/// A byte count such as `4096`, `4KiB`, `1.5 MiB` or `1GB`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("{s:?} is not a size: {e}"))
}

impl FromStr for ObjectSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (min, max) = match s.split_once("..") {
            Some((min, max)) => (parse_bytes(min)?, parse_bytes(max)?),
            None => {
                let size = parse_bytes(s)?;
                (size, size)
            }
        };
        if min > max {
            return Err(format!("size range {s:?} runs backwards"));
        }
        Ok(Self { min, max })
    }
}

/// When the measured phase ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    After(Duration),
    Count(u64),
}

/// Largest object a single PUT may carry (S3's limit).
pub const PUT_BYTES_MAX: u64 = 5 << 30;
/// Smallest part of a multipart upload other than the last (S3's limit).
pub const PART_BYTES_MIN: u64 = 5 << 20;
/// Most parts one upload may have (S3's limit).
pub const PARTS_MAX: u64 = 10_000;

/// Bytes the default set of prepared objects may hold: 1,000 objects of 4 KiB, but only four
/// of 256 MiB (a read benchmark must not fill the disk it measures unless told to).
pub const PREPARED_BYTES_DEFAULT: u64 = 1 << 30;

/// How many objects a workload that reads existing ones writes first when `--objects` is not
/// given: 1,000, fewer where they would hold more than [`PREPARED_BYTES_DEFAULT`], never fewer
/// than one per worker. A `delete` run deletes each object once: as many as `--count`, or
/// 10,000.
pub fn default_objects(
    workload: &str,
    size: ObjectSize,
    concurrency: usize,
    count: Option<u64>,
) -> u64 {
    if workload == "delete" {
        return count.unwrap_or(10_000);
    }
    let fit = PREPARED_BYTES_DEFAULT / size.max.max(1);
    fit.clamp(concurrency as u64, 1000).max(1)
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub mix: Mix,
    pub targets: Vec<Target>,
    pub bucket: String,
    /// Every key the run writes starts with `<prefix>/`.
    pub prefix: String,
    pub size: ObjectSize,
    pub part_size: u64,
    pub concurrency: usize,
    pub stop: Stop,
    /// Objects written before the measured phase, for operations that need existing ones.
    pub objects: u64,
    /// Directories the objects are spread over (0: all directly under the prefix).
    pub directories: u64,
    /// LIST with delimiter "/" (one entry per directory) instead of every key.
    pub delimiter: bool,
    /// The objects exist already (a run with `keep` wrote them): no preparation.
    pub reuse: bool,
    /// Leave what the run wrote in place.
    pub keep: bool,
    pub timeout: Duration,
}

impl Plan {
    pub fn needs_existing(&self) -> bool {
        self.mix.ops().any(Op::reads_existing)
    }

    /// Refuses plans S3 or the generator cannot carry out, before any request.
    pub fn check(&self) -> Result<(), String> {
        if self.targets.is_empty() {
            return Err("at least one --endpoint is needed".into());
        }
        if self.concurrency == 0 {
            return Err("--concurrency must be at least 1".into());
        }
        if matches!(self.stop, Stop::After(d) if d.is_zero()) || self.stop == Stop::Count(0) {
            return Err("the run must last at least one operation or a non-zero duration".into());
        }
        if self.prefix.is_empty() || self.prefix.contains("//") {
            return Err("--prefix must be non-empty and hold no empty path segment".into());
        }
        let puts = self.mix.ops().any(|op| op == Op::Put) || self.needs_existing();
        if puts && self.size.max > PUT_BYTES_MAX {
            return Err(format!(
                "objects larger than {} need --workload multipart",
                ObjectSize { min: PUT_BYTES_MAX, max: PUT_BYTES_MAX }
            ));
        }
        if self.mix.ops().any(|op| op == Op::Multipart) {
            if self.part_size < PART_BYTES_MIN || self.part_size > PUT_BYTES_MAX {
                return Err("--part-size must be between 5 MiB and 5 GiB".into());
            }
            if self.size.max.div_ceil(self.part_size) > PARTS_MAX {
                return Err("objects need more than 10,000 parts: raise --part-size".into());
            }
        }
        if self.needs_existing() && self.objects == 0 {
            return Err("this workload reads existing objects: --objects must be at least 1".into());
        }
        Ok(())
    }

    /// The name of the `index`-th object of the run.
    pub fn key(&self, index: u64) -> String {
        match self.directories {
            0 => format!("{}/o{index:010}", self.prefix),
            d => format!("{}/d{:06}/o{index:010}", self.prefix, index % d),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn sizes_parse_with_units_and_ranges() {
        assert_eq!("4KiB".parse::<ObjectSize>().unwrap(), ObjectSize { min: 4096, max: 4096 });
        assert_eq!("1 MiB".parse::<ObjectSize>().unwrap().min, 1 << 20);
        assert_eq!("1GiB".parse::<ObjectSize>().unwrap().max, 1 << 30);
        assert_eq!("1000".parse::<ObjectSize>().unwrap().min, 1000);
        let range: ObjectSize = "1KiB..2KiB".parse().unwrap();
        assert_eq!(range, ObjectSize { min: 1024, max: 2048 });
        let mut rng = StdRng::seed_from_u64(3);
        assert!((0..100).map(|_| range.sample(&mut rng)).all(|s| (1024..=2048).contains(&s)));
        assert!("2KiB..1KiB".parse::<ObjectSize>().is_err());
        assert!("lots".parse::<ObjectSize>().is_err());
        assert_eq!(range.to_string(), "1.0 KiB..2.0 KiB");
    }

    #[test]
    fn a_mix_draws_operations_in_proportion_to_their_weights() {
        let mix: Mix = "get=3, put=1,delete=0".parse().unwrap();
        assert_eq!(mix.ops().collect::<Vec<_>>(), [Op::Get, Op::Put]);
        let mut rng = StdRng::seed_from_u64(9);
        let gets = (0..4000).filter(|_| mix.pick(&mut rng) == Op::Get).count();
        assert!((2800..3200).contains(&gets), "{gets} of 4000");
        assert!("get=1,get=2".parse::<Mix>().is_err());
        assert!("get".parse::<Mix>().is_err());
        assert!("fetch=1".parse::<Mix>().unwrap_err().contains("one of put, get"));
        assert!("get=0".parse::<Mix>().is_err());
    }

    fn plan() -> Plan {
        Plan {
            name: "put".into(),
            mix: Mix::only(Op::Put),
            targets: vec![Target {
                endpoint: "http://127.0.0.1:9000".into(),
                access_key_id: "k".into(),
                secret_access_key: "s".into(),
                region: "us-east-1".into(),
            }],
            bucket: "b".into(),
            prefix: "run".into(),
            size: ObjectSize { min: 4096, max: 4096 },
            part_size: 16 << 20,
            concurrency: 4,
            stop: Stop::Count(10),
            objects: 0,
            directories: 0,
            delimiter: false,
            reuse: false,
            keep: false,
            timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn plans_s3_cannot_carry_out_are_refused_before_any_request() {
        assert_eq!(plan().check(), Ok(()));
        let too_big = Plan { size: ObjectSize { min: 6 << 30, max: 6 << 30 }, ..plan() };
        assert!(too_big.check().unwrap_err().contains("multipart"));
        let small_parts = Plan { mix: Mix::only(Op::Multipart), part_size: 1 << 20, ..plan() };
        assert!(small_parts.check().unwrap_err().contains("--part-size"));
        let gets_nothing = Plan { mix: Mix::only(Op::Get), ..plan() };
        assert!(gets_nothing.check().unwrap_err().contains("--objects"));
        assert!(Plan { concurrency: 0, ..plan() }.check().is_err());
        assert!(Plan { stop: Stop::Count(0), ..plan() }.check().is_err());
        assert!(Plan { targets: vec![], ..plan() }.check().is_err());
    }

    #[test]
    fn the_default_prepared_set_stays_within_a_gibibyte() {
        let size = |n: u64| ObjectSize { min: n, max: n };
        assert_eq!(default_objects("get", size(4096), 16, None), 1000);
        assert_eq!(default_objects("get", size(1 << 20), 16, None), 1000);
        assert_eq!(default_objects("get", size(256 << 20), 1, None), 4);
        assert_eq!(default_objects("mixed", ObjectSize { min: 1, max: 1 << 30 }, 1, None), 1);
        // Each worker still gets an object of its own.
        assert_eq!(default_objects("get", size(256 << 20), 16, None), 16);
        assert_eq!(default_objects("delete", size(1 << 30), 4, Some(50)), 50);
        assert_eq!(default_objects("delete", size(4096), 4, None), 10_000);
    }

    #[test]
    fn keys_spread_over_directories_when_asked() {
        assert_eq!(plan().key(7), "run/o0000000007");
        assert_eq!(Plan { directories: 3, ..plan() }.key(7), "run/d000001/o0000000007");
    }
}
