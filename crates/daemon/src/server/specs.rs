//! The credspecs of one lease request, parsed and checked once (in the service layer) and
//! handed to [`super::manager::Manager::add`] as [`LeaseSpecs`].

use super::error::LeaseError;
use super::lease::MAX_TICKETS_PER_LEASE;
use crate::credspec::CredSpec;

/// One requested credspec: parsed, with the text it came from (recorded in the lease metadata,
/// as upstream does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecText {
    /// The parsed credspec.
    pub spec: CredSpec,
    /// Its JSON text.
    pub text: String,
}

/// The credspecs of one request, in request order: 1 to [`MAX_TICKETS_PER_LEASE`] of them,
/// duplicates (same gMSA, case-insensitive, and domain) sharing one ticket, and no gMSA name in
/// two domains (their ticket directories would be the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseSpecs {
    requested: Vec<SpecText>,
    /// For each requested credspec, the index in `requested` of its first spelling.
    first: Vec<usize>,
}

impl LeaseSpecs {
    /// Parses the credspec texts of a request (`AddKerberosLease`, `CF_CRED_SPEC_FILE`).
    pub fn parse(contents: &[String]) -> Result<Self, LeaseError> {
        Self::check_count(contents.len(), "credspecs")?;
        let requested = contents
            .iter()
            .enumerate()
            .map(|(i, c)| {
                CredSpec::parse(c.as_bytes())
                    .map(|spec| SpecText {
                        spec,
                        text: c.clone(),
                    })
                    .map_err(|e| LeaseError::invalid(format!("parsing credspec #{}", i + 1), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(requested)
    }

    /// Checks credspecs parsed elsewhere (e.g. read from S3 or SSM by `AddKerberosArnLease`).
    pub fn new(requested: Vec<SpecText>) -> Result<Self, LeaseError> {
        Self::check_count(requested.len(), "credspecs")?;
        let first: Vec<usize> = requested
            .iter()
            .enumerate()
            .map(|(i, r)| {
                requested
                    .iter()
                    .position(|s| same_gmsa(&s.spec, &r.spec))
                    .unwrap_or(i)
            })
            .collect();
        let specs = Self { requested, first };
        // Two gMSAs of different domains with the same name would share a directory.
        let distinct: Vec<&CredSpec> = specs.distinct().map(|s| &s.spec).collect();
        for (i, a) in distinct.iter().enumerate() {
            if distinct
                .iter()
                .skip(i + 1)
                .any(|b| b.gmsa_name.eq_ignore_ascii_case(&a.gmsa_name))
            {
                return Err(LeaseError::invalid(
                    "checking the request",
                    format!(
                        "gMSA {} appears for two domains; put them in separate requests",
                        a.gmsa_name
                    ),
                ));
            }
        }
        Ok(specs)
    }

    /// The count check of a request of `n` credspecs (`what`: how the error names them).
    pub fn check_count(n: usize, what: &str) -> Result<(), LeaseError> {
        if n == 0 {
            let one = what.strip_suffix('s').unwrap_or(what);
            return Err(LeaseError::invalid(
                "checking the request",
                format!("no {one} given"),
            ));
        }
        if n > MAX_TICKETS_PER_LEASE {
            return Err(LeaseError::invalid(
                "checking the request",
                format!("more than {MAX_TICKETS_PER_LEASE} {what}"),
            ));
        }
        Ok(())
    }

    /// Every requested credspec, in request order.
    pub fn requested(&self) -> &[SpecText] {
        &self.requested
    }

    /// The distinct gMSAs (the first spelling of each), in request order: one ticket each.
    pub fn distinct(&self) -> impl Iterator<Item = &SpecText> {
        self.requested
            .iter()
            .enumerate()
            .filter(|(i, _)| self.first.get(*i) == Some(i))
            .map(|(_, s)| s)
    }

    /// For each requested credspec, the position of its ticket among [`LeaseSpecs::distinct`].
    pub fn ticket_of_each(&self) -> Vec<usize> {
        let firsts: Vec<usize> = (0..self.requested.len())
            .filter(|i| self.first.get(*i) == Some(i))
            .collect();
        self.first
            .iter()
            .map(|f| firsts.iter().position(|x| x == f).unwrap_or(0))
            .collect()
    }

    /// The domain of the first credspec (where a domainless secret's user is looked up when
    /// the secret names no domain).
    pub fn domain(&self) -> &str {
        self.requested
            .first()
            .map(|s| s.spec.domain.as_str())
            .unwrap_or_default()
    }
}

fn same_gmsa(a: &CredSpec, b: &CredSpec) -> bool {
    a.domain == b.domain && a.gmsa_name.eq_ignore_ascii_case(&b.gmsa_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::error::ErrorKind;

    fn spec(name: &str, domain: &str) -> String {
        serde_json::json!({
            "DomainJoinConfig": {"DnsName": domain},
            "ActiveDirectoryConfig": {"GroupManagedServiceAccounts": [{"Name": name}]}
        })
        .to_string()
    }

    #[test]
    fn duplicates_share_a_ticket_in_request_order() {
        let s = LeaseSpecs::parse(&[
            spec("B", "example.test"),
            spec("A", "example.test"),
            spec("b", "example.test"),
            spec("C", "example.test"),
        ])
        .unwrap();
        let names: Vec<&str> = s.distinct().map(|s| s.spec.gmsa_name.as_str()).collect();
        assert_eq!(names, ["B", "A", "C"]);
        assert_eq!(s.ticket_of_each(), [0, 1, 0, 2]);
        assert_eq!(s.requested().len(), 4);
        assert_eq!(s.domain(), "example.test");
    }

    #[test]
    fn bad_requests_are_refused() {
        let e = LeaseSpecs::parse(&[]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert_eq!(e.to_string(), "checking the request: no credspec given");
        let many = vec![spec("A", "example.test"); MAX_TICKETS_PER_LEASE + 1];
        assert!(LeaseSpecs::parse(&many).is_err());
        let e = LeaseSpecs::parse(&[spec("A", "example.test"), "{}".into()]).unwrap_err();
        assert!(e.to_string().contains("credspec #2"), "{e}");
        let e =
            LeaseSpecs::parse(&[spec("A", "example.test"), spec("a", "other.test")]).unwrap_err();
        assert!(e.to_string().contains("two domains"), "{e}");
    }
}
