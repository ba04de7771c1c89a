//! Proof that a KDC issued a service ticket for a service's key, shared by the tests against
//! the MIT KDCs.

use krb5_proto::Principal;
use krb5_proto::crypto::EncType;
use krb5_proto::keytab::Keytab;
use std::path::Path;

/// The service's keytab (written by kadmin) decrypts the ticket's encrypted part (key usage 2,
/// RFC 4120 7.5.1): the KDC issued it for that key.
pub fn assert_ticket_decrypts_with(keytab: &Path, svc: &Principal, ticket: &[u8]) {
    let kt = Keytab::read(keytab).unwrap();
    let ticket: krb5_proto::asn1::Ticket = krb5_proto::asn1::decode(ticket).unwrap();
    let etype = EncType::from_i32(ticket.enc_part.etype).unwrap();
    let key = kt
        .keys_for(svc)
        .into_iter()
        .find(|k| k.etype() == etype)
        .expect("service key");
    key.decrypt(2, &ticket.enc_part.cipher)
        .expect("the ticket decrypts with the service key");
}
