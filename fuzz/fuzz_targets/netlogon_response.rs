//! Fuzz target: a CLDAP NetLogon ping reply (MS-ADTS 6.3.3) from an untrusted DC must never
//! panic, loop or allocate without bound. The bytes are tried both as a whole UDP datagram
//! (BER framing, searchResEntry/searchResDone, message id) and as the bare
//! `NETLOGON_SAM_LOGON_RESPONSE_EX` value (compressed names with pointers), under every `NtVer`
//! combination of optional fields; whatever parses is bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msds_gmsa::netlogon::{
    MAX_NAME_LEN, NT_VERSION_5, NT_VERSION_5EX, NT_VERSION_5EX_WITH_IP,
    NT_VERSION_WITH_CLOSEST_SITE, SamLogonResponseEx, parse_ping_reply_for,
};

fn check(r: &SamLogonResponseEx) {
    for name in [
        &r.dns_forest_name,
        &r.dns_domain_name,
        &r.dns_host_name,
        &r.netbios_domain_name,
        &r.netbios_computer_name,
        &r.user_name,
        &r.dc_site_name,
        &r.client_site_name,
    ] {
        assert!(name.len() <= MAX_NAME_LEN);
    }
    if let Some(n) = &r.next_closest_site_name {
        assert!(n.len() <= MAX_NAME_LEN);
    }
    let _ = r.flags.to_string();
    let _ = r.dc_is_closest();
}

fuzz_target!(|data: &[u8]| {
    let base = NT_VERSION_5 | NT_VERSION_5EX;
    for ntver in [
        base,
        base | NT_VERSION_5EX_WITH_IP,
        base | NT_VERSION_WITH_CLOSEST_SITE,
        base | NT_VERSION_5EX_WITH_IP | NT_VERSION_WITH_CLOSEST_SITE,
    ] {
        if let Ok(r) = SamLogonResponseEx::parse(data, ntver) {
            check(&r);
        }
    }
    if let Ok(r) = parse_ping_reply_for(data, 1, base) {
        check(&r);
    }
});
