//! `labs grade plan`: the Kubernetes Indexed Job that grades a class in N shards, rendered from
//! `deploy/k8s/grade-job.yaml.j2` for a number of shards, an image and the volumes' claims.

use anyhow::{bail, Result};
use minijinja::{context, Environment};

const TEMPLATE: &str = include_str!("../../deploy/k8s/grade-job.yaml.j2");

/// What the Job is rendered for.
pub struct Plan {
    pub shards: u32,
    /// The grader image (`pgbg-labs/grader:<version>`, or the registry's name of it).
    pub image: String,
    /// The PersistentVolumeClaims of the submissions (mounted read-only) and of the records.
    pub submissions_claim: String,
    pub out_claim: String,
}

/// Lanes a shard's pod grades in: one more than the 2 CPUs it requests, as `labs grade` picks
/// on a machine of 2 CPUs (the pod's limit, 4 CPUs, is room for the lanes' own servers'
/// background work; the lanes' RAM, 1.5 GiB each, fits the pod's /dev/shm).
pub const LANES: u32 = 3;

/// The Job's YAML.
pub fn render(plan: &Plan) -> Result<String> {
    if plan.shards == 0 {
        bail!("a Job of 0 shards grades no one: give --shards 1 or more");
    }
    // A DNS-1123 name: the claims' names go into the Job as they are.
    for (flag, name) in [
        ("--submissions-claim", &plan.submissions_claim),
        ("--out-claim", &plan.out_claim),
    ] {
        let valid = !name.is_empty()
            && name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid {
            bail!(
                "{flag} `{name}` is not a Kubernetes object name (lower-case letters, digits, \
                 `-` and `.`, beginning and ending with a letter or digit)"
            );
        }
    }
    if plan.image.is_empty() || plan.image.chars().any(|c| c.is_whitespace() || c == '"') {
        bail!("--image `{}` is not an image name", plan.image);
    }
    let mut env = Environment::new();
    env.set_keep_trailing_newline(true);
    env.add_template("grade-job.yaml", TEMPLATE)?;
    Ok(env.get_template("grade-job.yaml")?.render(context! {
        shards => plan.shards,
        image => plan.image,
        submissions_claim => plan.submissions_claim,
        out_claim => plan.out_claim,
        version => super::shard::RUNNER,
        lanes => LANES,
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(shards: u32) -> Plan {
        Plan {
            shards,
            image: "pgbg-labs/grader:0.1.0".into(),
            submissions_claim: "pgbg-submissions".into(),
            out_claim: "pgbg-records".into(),
        }
    }

    #[test]
    fn the_job_has_n_indexes_and_the_shards_command() {
        let yaml = render(&plan(7)).unwrap();
        for line in [
            "completionMode: Indexed",
            "completions: 7",
            "parallelism: 7",
            "backoffLimitPerIndex: 2",
            "restartPolicy: Never",
            "image: \"pgbg-labs/grader:0.1.0\"",
            "claimName: \"pgbg-submissions\"",
            "claimName: \"pgbg-records\"",
            "\"--shard\", \"auto/7\"",
            "runAsUser: 10001",
        ] {
            assert!(yaml.contains(line), "no `{line}` in:\n{yaml}");
        }
        assert!(render(&plan(0)).is_err());
        let mut bad = plan(2);
        bad.out_claim = "Records!".into();
        assert!(render(&bad)
            .unwrap_err()
            .to_string()
            .contains("--out-claim"));
    }
}
