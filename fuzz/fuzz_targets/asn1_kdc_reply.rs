//! Fuzzes the KDC reply decoder (`decode_kdc_reply`) and everything a client decodes from a
//! reply: padata contents and the decrypted EncKDCRepPart. Must never panic.
#![no_main]

use krb5_proto::asn1::{
    EncAsRepPart, EtypeInfo2, KdcRep, KdcReply, MethodData, decode, decode_enc_kdc_rep_part,
    decode_kdc_reply, encode, pa_type,
};
use libfuzzer_sys::fuzz_target;

fn check_padata(rep: &KdcRep) {
    for pa in rep.padata.iter().flatten() {
        if pa.r#type == pa_type::ETYPE_INFO2 {
            let _ = decode::<EtypeInfo2>(&pa.value);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    match decode_kdc_reply(data) {
        Ok(KdcReply::AsRep(rep)) | Ok(KdcReply::TgsRep(rep)) => {
            check_padata(&rep);
            // Whatever decodes must re-encode to something that decodes to the same value.
            let again = encode(&rep);
            assert_eq!(decode::<KdcRep>(&again).ok(), Some(rep));
        }
        Ok(KdcReply::Error(err)) => {
            let _ = err.error_name();
            if let Some(e_data) = &err.e_data {
                let _ = decode::<MethodData>(e_data);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(part) = decode_enc_kdc_rep_part(data) {
        let again = encode(&EncAsRepPart(part.clone()));
        assert_eq!(decode_enc_kdc_rep_part(&again).ok(), Some(part));
    }
});
