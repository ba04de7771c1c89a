//! Fuzzes the KRB-ERROR decoder and the e-data formats found in KRB-ERRORs (METHOD-DATA,
//! KERB-ERROR-DATA, TYPED-DATA). Must never panic.
#![no_main]

use krb5_proto::asn1::{
    EtypeInfo2, KerbErrorData, KrbError, MethodData, TypedData, decode, encode, error_code, pa_type,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The e-data decoders also run on the raw input, which reaches them more directly.
    let _ = decode::<MethodData>(data);
    let _ = decode::<TypedData>(data).map(|t| t.len());
    if let Ok(d) = decode::<KerbErrorData>(data) {
        let _ = d.ext_error();
    }
    let Ok(err) = decode::<KrbError>(data) else {
        return;
    };
    let _ = (
        error_code::error_name(err.error_code),
        error_code::error_hint(err.error_code),
        err.stime.to_unix(),
        err.e_text.as_ref().map(|t| t.to_string_lossy()),
    );
    if let Some(e_data) = &err.e_data {
        if let Ok(methods) = decode::<MethodData>(e_data) {
            for pa in methods
                .iter()
                .filter(|pa| pa.r#type == pa_type::ETYPE_INFO2)
            {
                let _ = decode::<EtypeInfo2>(&pa.value);
            }
        } else if let Ok(d) = decode::<KerbErrorData>(e_data) {
            let _ = d.ext_error();
        }
    }
    let again = encode(&err);
    assert_eq!(decode::<KrbError>(&again).ok(), Some(err));
});
