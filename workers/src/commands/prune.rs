//! `tilecast prune`: removes old runs from an output root (a directory or a bucket prefix),
//! from the catalog first and then their objects, never a run still being rendered
//! (`tilecast::run::catalog::prune`).

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::Args;
use tilecast::run::catalog::prune::{prune, Rule};

use crate::infra::storage::{Location, S3Args};

#[derive(Args)]
#[command(group(clap::ArgGroup::new("rule").required(true).multiple(true)
    .args(["keep", "older_than"])))]
pub struct PruneArgs {
    /// The output root: a directory, file://path or s3://bucket/prefix.
    #[arg(env = "TILECAST_OUT")]
    pub out: String,
    /// Keep the newest N runs (by reference time) of every series; remove the others.
    #[arg(long, env = "TILECAST_PRUNE_KEEP", value_parser = clap::value_parser!(u64).range(1..))]
    pub keep: Option<u64>,
    /// Remove only runs that entered the catalog longer ago than this: a number with a unit
    /// s, m, h, d or w (`36h`, `7d`). With --keep, a run must meet both to be removed.
    #[arg(long, env = "TILECAST_PRUNE_OLDER_THAN", value_parser = parse_age)]
    pub older_than: Option<Duration>,
    /// Only print what would be removed.
    #[arg(long, env = "TILECAST_PRUNE_DRY_RUN")]
    pub dry_run: bool,
    #[command(flatten)]
    pub s3: S3Args,
}

/// Parses `36h`, `7d`, `90m`, `3600s`, `2w`.
pub fn parse_age(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit_seconds = match unit.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "w" => 604_800.0,
        _ => {
            return Err(format!(
                "{s:?}: expected a number and a unit s, m, h, d or w (7d)"
            ))
        }
    };
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && v * unit_seconds < 1e11 => {
            Ok(Duration::from_secs_f64(v * unit_seconds))
        }
        _ => Err(format!(
            "{s:?}: expected a number and a unit s, m, h, d or w (7d)"
        )),
    }
}

/// The ledger's retention: after each run it completes, it prunes with these rules.
#[derive(Args, Clone, Debug, Default)]
pub struct RetentionArgs {
    /// After each completed run, keep only the newest N runs of every series (as
    /// `tilecast prune --keep`).
    #[arg(long, env = "TILECAST_LEDGER_PRUNE_KEEP", value_parser = clap::value_parser!(u64).range(1..))]
    pub prune_keep: Option<u64>,
    /// After each completed run, remove runs whose manifest is older than this (as
    /// `tilecast prune --older-than`).
    #[arg(long, env = "TILECAST_LEDGER_PRUNE_OLDER_THAN", value_parser = parse_age)]
    pub prune_older_than: Option<Duration>,
}

impl RetentionArgs {
    /// The rule, if any is set.
    pub fn rule(&self) -> Option<Rule> {
        (self.prune_keep.is_some() || self.prune_older_than.is_some()).then(|| Rule {
            keep: self.prune_keep.map(|n| n as usize),
            older_than: self.prune_older_than,
        })
    }
}

impl PruneArgs {
    pub fn rule(&self) -> Rule {
        Rule {
            keep: self.keep.map(|n| n as usize),
            older_than: self.older_than,
        }
    }
}

pub fn run(args: PruneArgs) -> anyhow::Result<ExitCode> {
    let store = Location::parse(&args.out)?.open(&args.s3)?;
    let done = prune(store.as_ref(), args.rule(), SystemTime::now(), args.dry_run)?;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for run in &done.runs {
        println!("{verb} run {run}");
    }
    for (run, why) in &done.skipped {
        println!("kept run {run}: {why}");
    }
    println!(
        "{verb} {} runs ({} objects); {} kept because they are in progress",
        done.runs.len(),
        done.objects,
        done.skipped.len()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_age;
    use std::time::Duration;

    #[test]
    fn ages_parse_with_units_and_bad_ones_are_refused() {
        assert_eq!(parse_age("36h"), Ok(Duration::from_secs(36 * 3600)));
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_age("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_age("0.5s"), Ok(Duration::from_millis(500)));
        for bad in ["", "7", "d", "-1d", "7y", "1e400d", "nand"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }
}
