//! Differential decoding against picky-krb (an independent pure-Rust Kerberos ASN.1 model):
//! our DER must decode there and re-encode to the same bytes, and picky's encoding must
//! decode here to the same value.

mod asn1_common;

use asn1_common::*;
use krb5_proto::asn1::*;
use serde::{Serialize, de::DeserializeOwned};

/// ours -> picky decode -> picky encode == ours, and picky's bytes decode back to `v`.
fn differential<Ours, Picky>(v: &Ours) -> Picky
where
    Ours: rasn::Encode + rasn::Decode + PartialEq + std::fmt::Debug,
    Picky: Serialize + DeserializeOwned,
{
    let ours = encode(v);
    let theirs: Picky = picky_asn1_der::from_bytes(&ours)
        .unwrap_or_else(|e| panic!("picky-krb rejects our {v:?}: {e}"));
    let again = picky_asn1_der::to_vec(&theirs).expect("picky encode");
    assert_eq!(
        hex::encode(&again),
        hex::encode(&ours),
        "picky re-encodes differently"
    );
    let back: Ours = decode(&again).expect("we decode picky's encoding");
    assert_eq!(&back, v);
    theirs
}

#[test]
fn as_req_matches_picky() {
    let req = as_req();
    let p: picky_krb::messages::AsReq = differential(&req);
    let body = &p.0.req_body.0;
    assert_eq!(body.nonce.0.0, vec![0x12, 0x34, 0x56, 0x78]);
    assert_eq!(body.realm.0.to_string(), "EXAMPLE.COM");
    assert_eq!(
        body.kdc_options.0.0.payload_view(),
        &[0x40, 0x81, 0x00, 0x10]
    );
    assert_eq!(p.0.pvno.0.0, vec![5]);

    // High-bit nonce: picky keeps the 5-byte positive INTEGER.
    let mut req = as_req();
    req.0.req_body.nonce = 0xdead_beef;
    let p: picky_krb::messages::AsReq = differential(&req);
    assert_eq!(p.0.req_body.0.nonce.0.0, vec![0x00, 0xde, 0xad, 0xbe, 0xef]);
}

#[test]
fn tgs_req_matches_picky() {
    let _: picky_krb::messages::TgsReq = differential(&tgs_req());
}

#[test]
fn krb_error_matches_picky() {
    // picky-krb models cusec as KerberosTime, so only errors without ctime/cusec (which is
    // what KDCs send for AS-REQ errors) can be compared.
    for code in [6, 24, 25, 37, 68] {
        let err = krb_error(code);
        let p: picky_krb::messages::KrbError = differential(&err);
        assert_eq!(p.0.error_code.0, code as u32);
        assert_eq!(p.0.susec.0.0, 654_321u32.to_be_bytes()[1..].to_vec());
    }
    let mut minimal = krb_error(60);
    minimal.crealm = None;
    minimal.cname = None;
    minimal.e_text = None;
    minimal.e_data = None;
    let _: picky_krb::messages::KrbError = differential(&minimal);
}

#[test]
fn replies_and_ap_messages_match_picky() {
    let _: picky_krb::messages::AsRep = differential(&as_rep());
    let _: picky_krb::messages::TgsRep = differential(&tgs_rep());
    let _: picky_krb::messages::ApReq = differential(&ap_req());
    let _: picky_krb::messages::ApRep = differential(&ap_rep());
    let _: picky_krb::data_types::Ticket = differential(&ticket());
    let _: picky_krb::data_types::EncryptionKey = differential(&key());
    let _: picky_krb::data_types::PaEncTsEnc = differential(&PaEncTsEnc {
        patimestamp: t(1_700_000_000),
        pausec: Some(42),
    });
    let _: picky_krb::data_types::KerbPaPacRequest =
        differential(&PaPacRequest { include_pac: true });
}

#[test]
fn enc_parts_match_picky() {
    let _: picky_krb::messages::EncAsRepPart =
        differential(&EncAsRepPart(enc_kdc_rep_part(0x0102_0304)));
    let _: picky_krb::messages::EncTgsRepPart =
        differential(&EncTgsRepPart(enc_kdc_rep_part(0x7fff_0000)));
    let _: picky_krb::data_types::Authenticator = differential(&authenticator());
    let _: picky_krb::data_types::EncApRepPart = differential(&enc_ap_rep_part());
}
