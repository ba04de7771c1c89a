//! Protocol numbers: padata types, message types, error codes, key usages, encryption and
//! checksum types.

/// Pre-authentication data types (RFC 4120 §7.5.2, RFC 6113, RFC 6806, MS-KILE, MS-SFU).
pub mod pa_type {
    /// PA-TGS-REQ: the AP-REQ authenticating a TGS-REQ.
    pub const TGS_REQ: i32 = 1;
    /// PA-ENC-TIMESTAMP: encrypted PA-ENC-TS-ENC (key usage 1).
    pub const ENC_TIMESTAMP: i32 = 2;
    /// PA-PW-SALT: a salt string (obsolete).
    pub const PW_SALT: i32 = 3;
    /// PA-ENC-UNIX-TIME (deprecated).
    pub const ENC_UNIX_TIME: i32 = 5;
    /// PA-SANDIA-SECUREID.
    pub const SANDIA_SECUREID: i32 = 6;
    /// PA-SESAME.
    pub const SESAME: i32 = 7;
    /// PA-OSF-DCE.
    pub const OSF_DCE: i32 = 8;
    /// PA-CYBERSAFE-SECUREID.
    pub const CYBERSAFE_SECUREID: i32 = 9;
    /// PA-AFS3-SALT.
    pub const AFS3_SALT: i32 = 10;
    /// PA-ETYPE-INFO: ETYPE-INFO (older KDCs).
    pub const ETYPE_INFO: i32 = 11;
    /// PA-SAM-CHALLENGE.
    pub const SAM_CHALLENGE: i32 = 12;
    /// PA-SAM-RESPONSE.
    pub const SAM_RESPONSE: i32 = 13;
    /// PA-PK-AS-REQ_OLD (PKINIT draft 9).
    pub const PK_AS_REQ_OLD: i32 = 14;
    /// PA-PK-AS-REP_OLD (PKINIT draft 9).
    pub const PK_AS_REP_OLD: i32 = 15;
    /// PA-PK-AS-REQ (RFC 4556).
    pub const PK_AS_REQ: i32 = 16;
    /// PA-PK-AS-REP (RFC 4556).
    pub const PK_AS_REP: i32 = 17;
    /// PA-ETYPE-INFO2: ETYPE-INFO2, how to derive the client's key (salt, s2kparams).
    pub const ETYPE_INFO2: i32 = 19;
    /// PA-SVR-REFERRAL-INFO (RFC 6806).
    pub const SVR_REFERRAL_INFO: i32 = 20;
    /// PA-PAC-REQUEST: KERB-PA-PAC-REQUEST (MS-KILE 2.2.3).
    pub const PAC_REQUEST: i32 = 128;
    /// PA-FOR-USER: S4U2Self (MS-SFU).
    pub const FOR_USER: i32 = 129;
    /// PA-FOR-X509-USER: S4U2Self by certificate (MS-SFU).
    pub const FOR_X509_USER: i32 = 130;
    /// PA-FX-COOKIE (RFC 6113).
    pub const FX_COOKIE: i32 = 133;
    /// PA-FX-FAST: FAST armor (RFC 6113).
    pub const FX_FAST: i32 = 136;
    /// PA-FX-ERROR (RFC 6113).
    pub const FX_ERROR: i32 = 137;
    /// PA-ENCRYPTED-CHALLENGE (RFC 6113).
    pub const ENCRYPTED_CHALLENGE: i32 = 138;
    /// PA-OTP-CHALLENGE (RFC 6560).
    pub const OTP_CHALLENGE: i32 = 141;
    /// PA-OTP-REQUEST (RFC 6560).
    pub const OTP_REQUEST: i32 = 142;
    /// PA-REQ-ENC-PA-REP: ask for encrypted padata in the reply (RFC 6806 §11).
    pub const REQ_ENC_PA_REP: i32 = 149;
    /// PA-AS-FRESHNESS (RFC 8070).
    pub const AS_FRESHNESS: i32 = 150;
    /// PA-SPAKE (RFC 9621 draft numbers, MIT).
    pub const SPAKE: i32 = 151;
    /// KERB-KEY-LIST-REQ (MS-KILE, RODC key list).
    pub const KEY_LIST_REQ: i32 = 161;
    /// KERB-KEY-LIST-REP (MS-KILE).
    pub const KEY_LIST_REP: i32 = 162;
    /// PA-SUPPORTED-ENCTYPES: the account's msDS-SupportedEncryptionTypes (MS-KILE 2.2.8).
    pub const SUPPORTED_ETYPES: i32 = 165;
    /// PA-PAC-OPTIONS: KerberosFlags (claims, branch-aware, forward-to-full-DC; MS-KILE 2.2.10).
    pub const PAC_OPTIONS: i32 = 167;
    /// KERB-SUPERSEDED-BY-USER (MS-KILE 2.2.13, dMSA).
    pub const SUPERSEDED_BY_USER: i32 = 170;
    /// KERB-DMSA-KEY-PACKAGE (MS-KILE, dMSA).
    pub const DMSA_KEY_PACKAGE: i32 = 171;
}

/// Message types (`msg-type`, equal to the APPLICATION tag of the message; RFC 4120 §7.5.7).
pub mod msg_type {
    /// AS-REQ, `[APPLICATION 10]`.
    pub const AS_REQ: i32 = 10;
    /// AS-REP, `[APPLICATION 11]`.
    pub const AS_REP: i32 = 11;
    /// TGS-REQ, `[APPLICATION 12]`.
    pub const TGS_REQ: i32 = 12;
    /// TGS-REP, `[APPLICATION 13]`.
    pub const TGS_REP: i32 = 13;
    /// AP-REQ, `[APPLICATION 14]`.
    pub const AP_REQ: i32 = 14;
    /// AP-REP, `[APPLICATION 15]`.
    pub const AP_REP: i32 = 15;
    /// KRB-TGT-REQ (user-to-user, reserved).
    pub const TGT_REQ: i32 = 16;
    /// KRB-TGT-REP (user-to-user, reserved).
    pub const TGT_REP: i32 = 17;
    /// KRB-SAFE, `[APPLICATION 20]`.
    pub const KRB_SAFE: i32 = 20;
    /// KRB-PRIV, `[APPLICATION 21]`.
    pub const KRB_PRIV: i32 = 21;
    /// KRB-CRED, `[APPLICATION 22]`.
    pub const KRB_CRED: i32 = 22;
    /// KRB-ERROR, `[APPLICATION 30]`.
    pub const KRB_ERROR: i32 = 30;

    /// The RFC name of an APPLICATION tag number (messages and encrypted parts), or `None`.
    pub fn application_name(tag: u32) -> Option<&'static str> {
        Some(match tag {
            1 => "Ticket",
            2 => "Authenticator",
            3 => "EncTicketPart",
            10 => "AS-REQ",
            11 => "AS-REP",
            12 => "TGS-REQ",
            13 => "TGS-REP",
            14 => "AP-REQ",
            15 => "AP-REP",
            16 => "KRB-TGT-REQ",
            17 => "KRB-TGT-REP",
            20 => "KRB-SAFE",
            21 => "KRB-PRIV",
            22 => "KRB-CRED",
            25 => "EncASRepPart",
            26 => "EncTGSRepPart",
            27 => "EncAPRepPart",
            28 => "EncKrbPrivPart",
            29 => "EncKrbCredPart",
            30 => "KRB-ERROR",
            _ => return None,
        })
    }
}

/// Error codes (RFC 4120 §7.5.9, plus PKINIT RFC 4556, FAST RFC 6113 and RFC 8636).
pub mod error_code {
    /// No error.
    pub const KDC_ERR_NONE: i32 = 0;
    /// Client's entry in database has expired.
    pub const KDC_ERR_NAME_EXP: i32 = 1;
    /// Server's entry in database has expired.
    pub const KDC_ERR_SERVICE_EXP: i32 = 2;
    /// Requested protocol version number not supported.
    pub const KDC_ERR_BAD_PVNO: i32 = 3;
    /// Client's key encrypted in old master key.
    pub const KDC_ERR_C_OLD_MAST_KVNO: i32 = 4;
    /// Server's key encrypted in old master key.
    pub const KDC_ERR_S_OLD_MAST_KVNO: i32 = 5;
    /// Client not found in Kerberos database.
    pub const KDC_ERR_C_PRINCIPAL_UNKNOWN: i32 = 6;
    /// Server not found in Kerberos database.
    pub const KDC_ERR_S_PRINCIPAL_UNKNOWN: i32 = 7;
    /// Multiple principal entries in database.
    pub const KDC_ERR_PRINCIPAL_NOT_UNIQUE: i32 = 8;
    /// The client or server has a null key.
    pub const KDC_ERR_NULL_KEY: i32 = 9;
    /// Ticket not eligible for postdating.
    pub const KDC_ERR_CANNOT_POSTDATE: i32 = 10;
    /// Requested starttime is later than end time.
    pub const KDC_ERR_NEVER_VALID: i32 = 11;
    /// KDC policy rejects request.
    pub const KDC_ERR_POLICY: i32 = 12;
    /// KDC cannot accommodate requested option.
    pub const KDC_ERR_BADOPTION: i32 = 13;
    /// KDC has no support for encryption type.
    pub const KDC_ERR_ETYPE_NOSUPP: i32 = 14;
    /// KDC has no support for checksum type.
    pub const KDC_ERR_SUMTYPE_NOSUPP: i32 = 15;
    /// KDC has no support for padata type.
    pub const KDC_ERR_PADATA_TYPE_NOSUPP: i32 = 16;
    /// KDC has no support for transited type.
    pub const KDC_ERR_TRTYPE_NOSUPP: i32 = 17;
    /// Clients credentials have been revoked.
    pub const KDC_ERR_CLIENT_REVOKED: i32 = 18;
    /// Credentials for server have been revoked.
    pub const KDC_ERR_SERVICE_REVOKED: i32 = 19;
    /// TGT has been revoked.
    pub const KDC_ERR_TGT_REVOKED: i32 = 20;
    /// Client not yet valid; try again later.
    pub const KDC_ERR_CLIENT_NOTYET: i32 = 21;
    /// Server not yet valid; try again later.
    pub const KDC_ERR_SERVICE_NOTYET: i32 = 22;
    /// Password has expired; change password to reset.
    pub const KDC_ERR_KEY_EXPIRED: i32 = 23;
    /// Pre-authentication information was invalid.
    pub const KDC_ERR_PREAUTH_FAILED: i32 = 24;
    /// Additional pre-authentication required.
    pub const KDC_ERR_PREAUTH_REQUIRED: i32 = 25;
    /// Requested server and ticket don't match.
    pub const KDC_ERR_SERVER_NOMATCH: i32 = 26;
    /// Server principal valid for user2user only.
    pub const KDC_ERR_MUST_USE_USER2USER: i32 = 27;
    /// KDC Policy rejects transited path.
    pub const KDC_ERR_PATH_NOT_ACCEPTED: i32 = 28;
    /// A service is not available.
    pub const KDC_ERR_SVC_UNAVAILABLE: i32 = 29;
    /// Integrity check on decrypted field failed.
    pub const KRB_AP_ERR_BAD_INTEGRITY: i32 = 31;
    /// Ticket expired.
    pub const KRB_AP_ERR_TKT_EXPIRED: i32 = 32;
    /// Ticket not yet valid.
    pub const KRB_AP_ERR_TKT_NYV: i32 = 33;
    /// Request is a replay.
    pub const KRB_AP_ERR_REPEAT: i32 = 34;
    /// The ticket isn't for us.
    pub const KRB_AP_ERR_NOT_US: i32 = 35;
    /// Ticket and authenticator don't match.
    pub const KRB_AP_ERR_BADMATCH: i32 = 36;
    /// Clock skew too great.
    pub const KRB_AP_ERR_SKEW: i32 = 37;
    /// Incorrect net address.
    pub const KRB_AP_ERR_BADADDR: i32 = 38;
    /// Protocol version mismatch.
    pub const KRB_AP_ERR_BADVERSION: i32 = 39;
    /// Invalid msg type.
    pub const KRB_AP_ERR_MSG_TYPE: i32 = 40;
    /// Message stream modified.
    pub const KRB_AP_ERR_MODIFIED: i32 = 41;
    /// Message out of order.
    pub const KRB_AP_ERR_BADORDER: i32 = 42;
    /// Specified version of key is not available.
    pub const KRB_AP_ERR_BADKEYVER: i32 = 44;
    /// Service key not available.
    pub const KRB_AP_ERR_NOKEY: i32 = 45;
    /// Mutual authentication failed.
    pub const KRB_AP_ERR_MUT_FAIL: i32 = 46;
    /// Incorrect message direction.
    pub const KRB_AP_ERR_BADDIRECTION: i32 = 47;
    /// Alternative authentication method required.
    pub const KRB_AP_ERR_METHOD: i32 = 48;
    /// Incorrect sequence number in message.
    pub const KRB_AP_ERR_BADSEQ: i32 = 49;
    /// Inappropriate type of checksum in message.
    pub const KRB_AP_ERR_INAPP_CKSUM: i32 = 50;
    /// Policy rejects transited path.
    pub const KRB_AP_PATH_NOT_ACCEPTED: i32 = 51;
    /// Response too big for UDP; retry with TCP.
    pub const KRB_ERR_RESPONSE_TOO_BIG: i32 = 52;
    /// Generic error (description in e-text).
    pub const KRB_ERR_GENERIC: i32 = 60;
    /// Field is too long for this implementation.
    pub const KRB_ERR_FIELD_TOOLONG: i32 = 61;
    /// PKINIT: client not trusted.
    pub const KDC_ERROR_CLIENT_NOT_TRUSTED: i32 = 62;
    /// PKINIT: KDC not trusted.
    pub const KDC_ERROR_KDC_NOT_TRUSTED: i32 = 63;
    /// PKINIT: invalid signature.
    pub const KDC_ERROR_INVALID_SIG: i32 = 64;
    /// PKINIT: key too weak.
    pub const KDC_ERR_KEY_TOO_WEAK: i32 = 65;
    /// PKINIT: certificate mismatch.
    pub const KDC_ERR_CERTIFICATE_MISMATCH: i32 = 66;
    /// No TGT available to validate USER-TO-USER.
    pub const KRB_AP_ERR_NO_TGT: i32 = 67;
    /// Wrong realm (used for referrals).
    pub const KDC_ERR_WRONG_REALM: i32 = 68;
    /// Ticket must be for USER-TO-USER.
    pub const KRB_AP_ERR_USER_TO_USER_REQUIRED: i32 = 69;
    /// PKINIT: cannot verify certificate.
    pub const KDC_ERR_CANT_VERIFY_CERTIFICATE: i32 = 70;
    /// PKINIT: invalid certificate.
    pub const KDC_ERR_INVALID_CERTIFICATE: i32 = 71;
    /// PKINIT: revoked certificate.
    pub const KDC_ERR_REVOKED_CERTIFICATE: i32 = 72;
    /// PKINIT: revocation status unknown.
    pub const KDC_ERR_REVOCATION_STATUS_UNKNOWN: i32 = 73;
    /// PKINIT: revocation status unavailable.
    pub const KDC_ERR_REVOCATION_STATUS_UNAVAILABLE: i32 = 74;
    /// PKINIT: client name mismatch.
    pub const KDC_ERR_CLIENT_NAME_MISMATCH: i32 = 75;
    /// PKINIT: KDC name mismatch.
    pub const KDC_ERR_KDC_NAME_MISMATCH: i32 = 76;
    /// PKINIT: inconsistent key purpose.
    pub const KDC_ERR_INCONSISTENT_KEY_PURPOSE: i32 = 77;
    /// PKINIT: digest in certificate not accepted.
    pub const KDC_ERR_DIGEST_IN_CERT_NOT_ACCEPTED: i32 = 78;
    /// PKINIT: paChecksum must be included.
    pub const KDC_ERR_PA_CHECKSUM_MUST_BE_INCLUDED: i32 = 79;
    /// PKINIT: digest in signed data not accepted.
    pub const KDC_ERR_DIGEST_IN_SIGNED_DATA_NOT_ACCEPTED: i32 = 80;
    /// PKINIT: public key encryption not supported.
    pub const KDC_ERR_PUBLIC_KEY_ENCRYPTION_NOT_SUPPORTED: i32 = 81;
    /// FAST: pre-authentication expired.
    pub const KDC_ERR_PREAUTH_EXPIRED: i32 = 90;
    /// FAST: more pre-authentication data required.
    pub const KDC_ERR_MORE_PREAUTH_DATA_REQUIRED: i32 = 91;
    /// FAST: bad authentication set.
    pub const KDC_ERR_PREAUTH_BAD_AUTHENTICATION_SET: i32 = 92;
    /// FAST: unknown critical FAST options.
    pub const KDC_ERR_UNKNOWN_CRITICAL_FAST_OPTIONS: i32 = 93;
    /// PKINIT (RFC 8636): no acceptable KDF.
    pub const KDC_ERR_NO_ACCEPTABLE_KDF: i32 = 100;

    /// The symbolic name of `code` (e.g. `"KDC_ERR_PREAUTH_FAILED"`), `"KRB_ERR_UNKNOWN"` if
    /// not known.
    ///
    /// ```
    /// use krb5_proto::asn1::error_code::error_name;
    /// assert_eq!(error_name(24), "KDC_ERR_PREAUTH_FAILED");
    /// assert_eq!(error_name(4242), "KRB_ERR_UNKNOWN");
    /// ```
    pub fn error_name(code: i32) -> &'static str {
        match code {
            0 => "KDC_ERR_NONE",
            1 => "KDC_ERR_NAME_EXP",
            2 => "KDC_ERR_SERVICE_EXP",
            3 => "KDC_ERR_BAD_PVNO",
            4 => "KDC_ERR_C_OLD_MAST_KVNO",
            5 => "KDC_ERR_S_OLD_MAST_KVNO",
            6 => "KDC_ERR_C_PRINCIPAL_UNKNOWN",
            7 => "KDC_ERR_S_PRINCIPAL_UNKNOWN",
            8 => "KDC_ERR_PRINCIPAL_NOT_UNIQUE",
            9 => "KDC_ERR_NULL_KEY",
            10 => "KDC_ERR_CANNOT_POSTDATE",
            11 => "KDC_ERR_NEVER_VALID",
            12 => "KDC_ERR_POLICY",
            13 => "KDC_ERR_BADOPTION",
            14 => "KDC_ERR_ETYPE_NOSUPP",
            15 => "KDC_ERR_SUMTYPE_NOSUPP",
            16 => "KDC_ERR_PADATA_TYPE_NOSUPP",
            17 => "KDC_ERR_TRTYPE_NOSUPP",
            18 => "KDC_ERR_CLIENT_REVOKED",
            19 => "KDC_ERR_SERVICE_REVOKED",
            20 => "KDC_ERR_TGT_REVOKED",
            21 => "KDC_ERR_CLIENT_NOTYET",
            22 => "KDC_ERR_SERVICE_NOTYET",
            23 => "KDC_ERR_KEY_EXPIRED",
            24 => "KDC_ERR_PREAUTH_FAILED",
            25 => "KDC_ERR_PREAUTH_REQUIRED",
            26 => "KDC_ERR_SERVER_NOMATCH",
            27 => "KDC_ERR_MUST_USE_USER2USER",
            28 => "KDC_ERR_PATH_NOT_ACCEPTED",
            29 => "KDC_ERR_SVC_UNAVAILABLE",
            31 => "KRB_AP_ERR_BAD_INTEGRITY",
            32 => "KRB_AP_ERR_TKT_EXPIRED",
            33 => "KRB_AP_ERR_TKT_NYV",
            34 => "KRB_AP_ERR_REPEAT",
            35 => "KRB_AP_ERR_NOT_US",
            36 => "KRB_AP_ERR_BADMATCH",
            37 => "KRB_AP_ERR_SKEW",
            38 => "KRB_AP_ERR_BADADDR",
            39 => "KRB_AP_ERR_BADVERSION",
            40 => "KRB_AP_ERR_MSG_TYPE",
            41 => "KRB_AP_ERR_MODIFIED",
            42 => "KRB_AP_ERR_BADORDER",
            44 => "KRB_AP_ERR_BADKEYVER",
            45 => "KRB_AP_ERR_NOKEY",
            46 => "KRB_AP_ERR_MUT_FAIL",
            47 => "KRB_AP_ERR_BADDIRECTION",
            48 => "KRB_AP_ERR_METHOD",
            49 => "KRB_AP_ERR_BADSEQ",
            50 => "KRB_AP_ERR_INAPP_CKSUM",
            51 => "KRB_AP_PATH_NOT_ACCEPTED",
            52 => "KRB_ERR_RESPONSE_TOO_BIG",
            60 => "KRB_ERR_GENERIC",
            61 => "KRB_ERR_FIELD_TOOLONG",
            62 => "KDC_ERROR_CLIENT_NOT_TRUSTED",
            63 => "KDC_ERROR_KDC_NOT_TRUSTED",
            64 => "KDC_ERROR_INVALID_SIG",
            65 => "KDC_ERR_KEY_TOO_WEAK",
            66 => "KDC_ERR_CERTIFICATE_MISMATCH",
            67 => "KRB_AP_ERR_NO_TGT",
            68 => "KDC_ERR_WRONG_REALM",
            69 => "KRB_AP_ERR_USER_TO_USER_REQUIRED",
            70 => "KDC_ERR_CANT_VERIFY_CERTIFICATE",
            71 => "KDC_ERR_INVALID_CERTIFICATE",
            72 => "KDC_ERR_REVOKED_CERTIFICATE",
            73 => "KDC_ERR_REVOCATION_STATUS_UNKNOWN",
            74 => "KDC_ERR_REVOCATION_STATUS_UNAVAILABLE",
            75 => "KDC_ERR_CLIENT_NAME_MISMATCH",
            76 => "KDC_ERR_KDC_NAME_MISMATCH",
            77 => "KDC_ERR_INCONSISTENT_KEY_PURPOSE",
            78 => "KDC_ERR_DIGEST_IN_CERT_NOT_ACCEPTED",
            79 => "KDC_ERR_PA_CHECKSUM_MUST_BE_INCLUDED",
            80 => "KDC_ERR_DIGEST_IN_SIGNED_DATA_NOT_ACCEPTED",
            81 => "KDC_ERR_PUBLIC_KEY_ENCRYPTION_NOT_SUPPORTED",
            90 => "KDC_ERR_PREAUTH_EXPIRED",
            91 => "KDC_ERR_MORE_PREAUTH_DATA_REQUIRED",
            92 => "KDC_ERR_PREAUTH_BAD_AUTHENTICATION_SET",
            93 => "KDC_ERR_UNKNOWN_CRITICAL_FAST_OPTIONS",
            100 => "KDC_ERR_NO_ACCEPTABLE_KDF",
            _ => "KRB_ERR_UNKNOWN",
        }
    }

    /// A one-line hint for a person about what `code` usually means and what to check.
    ///
    /// ```
    /// use krb5_proto::asn1::error_code::{error_hint, KRB_AP_ERR_SKEW};
    /// assert!(error_hint(KRB_AP_ERR_SKEW).contains("clock"));
    /// ```
    pub fn error_hint(code: i32) -> &'static str {
        match code {
            0 => "no error",
            1 => "the client principal's account has expired in the KDC database",
            2 => "the service principal's account has expired in the KDC database",
            3 => "the KDC does not support this protocol version (expected Kerberos 5)",
            4 | 5 => {
                "the principal's key is encrypted in an old master key: ask the KDC administrator"
            }
            6 => "the client principal is unknown to the KDC: check the spelling and the realm",
            7 => "the service principal is unknown to the KDC: check the SPN and the realm",
            8 => "the principal name is not unique in the KDC database (duplicate SPN or account)",
            9 => "the principal has no usable key: set or reset its password",
            10 => "the ticket may not be postdated",
            11 => "the requested start time is later than the end time",
            12 => {
                "the KDC's policy rejected the request (e.g. logon hours, workstation restrictions)"
            }
            13 => {
                "the KDC cannot grant a requested option (e.g. renewable or forwardable not allowed)"
            }
            14 => {
                "the KDC and the account share no encryption type: enable AES for the account or request the types it has keys for"
            }
            15 => "the KDC does not support the checksum type used",
            16 => "the KDC does not support this pre-authentication type",
            17 => "the KDC does not support the transited encoding",
            18 => "the client's credentials were revoked: the account is disabled or locked out",
            19 => {
                "the service's credentials were revoked: the service account is disabled or locked out"
            }
            20 => "the TGT has been revoked: get a new one",
            21 => "the client account is not yet valid: try again later",
            22 => "the service account is not yet valid: try again later",
            23 => "the password has expired: change it to get tickets again",
            24 => {
                "pre-authentication failed: the password or key is wrong for this principal (or the key version/enctype is stale)"
            }
            25 => {
                "the KDC requires pre-authentication: retry with encrypted timestamp using the salt from ETYPE-INFO2"
            }
            26 => "the requested server and the ticket do not match",
            27 => "the service accepts only user-to-user authentication",
            28 | 51 => "the realm policy rejected the cross-realm transit path",
            29 => {
                "a service is not available: the KDC may be starting up or overloaded, try another KDC"
            }
            31 => "an integrity check failed: the key used is wrong or the message was corrupted",
            32 => "the ticket has expired: get a new one",
            33 => "the ticket is not yet valid: check the clocks",
            34 => "the request is a replay of an earlier one",
            35 => "the ticket is not for this service: check the SPN and the service's keytab",
            36 => "the ticket and the authenticator do not match",
            37 => {
                "clock skew too great: the client's clock differs from the KDC's by more than the allowed skew (usually 5 minutes); fix time sync"
            }
            38 => "the request came from an address not in the ticket",
            39 => "protocol version mismatch",
            40 => "invalid message type",
            41 => {
                "the message was modified or decrypted with the wrong key (often a stale service keytab)"
            }
            42 => "message out of order",
            44 => {
                "the service does not have the key version the ticket was encrypted with: update its keytab"
            }
            45 => "the service key is not available",
            46 => "mutual authentication failed",
            47 => "incorrect message direction",
            48 => "an alternative authentication method is required",
            49 => "incorrect sequence number in a message",
            50 => "inappropriate checksum type in a message",
            52 => "the response was too big for UDP: retry over TCP",
            60 => "generic error: see the error text from the KDC",
            61 => {
                "a field was too long for the KDC (or the TCP length prefix had its high bit set)"
            }
            62..=66 | 70..=81 | 100 => "PKINIT (certificate) authentication failed",
            67 => "no TGT available to validate user-to-user authentication",
            68 => "wrong realm: the KDC refers the client to another realm (see crealm)",
            69 => "the ticket must be for user-to-user authentication",
            90..=93 => "FAST pre-authentication failed or needs another round",
            _ => "unknown Kerberos error code",
        }
    }
}

/// Key usage numbers (RFC 4120 §7.5.1, RFC 4121 §2, RFC 6113).
pub mod key_usage {
    /// AS-REQ PA-ENC-TIMESTAMP padata timestamp, encrypted with the client key.
    pub const AS_REQ_PA_ENC_TIMESTAMP: u32 = 1;
    /// AS-REP/TGS-REP ticket (includes TGS session key or application session key), encrypted
    /// with the service key.
    pub const KDC_REP_TICKET: u32 = 2;
    /// AS-REP encrypted part (includes TGS session key or application session key), encrypted
    /// with the client key.
    pub const AS_REP_ENCPART: u32 = 3;
    /// TGS-REQ KDC-REQ-BODY AuthorizationData, encrypted with the TGS session key.
    pub const TGS_REQ_AD_SESSKEY: u32 = 4;
    /// TGS-REQ KDC-REQ-BODY AuthorizationData, encrypted with the TGS authenticator subkey.
    pub const TGS_REQ_AD_SUBKEY: u32 = 5;
    /// TGS-REQ PA-TGS-REQ padata AP-REQ Authenticator cksum, keyed with the TGS session key.
    pub const TGS_REQ_AUTH_CKSUM: u32 = 6;
    /// TGS-REQ PA-TGS-REQ padata AP-REQ Authenticator, encrypted with the TGS session key.
    pub const TGS_REQ_AUTH: u32 = 7;
    /// TGS-REP encrypted part, encrypted with the TGS session key.
    pub const TGS_REP_ENCPART_SESSKEY: u32 = 8;
    /// TGS-REP encrypted part, encrypted with the TGS authenticator subkey.
    pub const TGS_REP_ENCPART_SUBKEY: u32 = 9;
    /// AP-REQ Authenticator cksum, keyed with the application session key.
    pub const AP_REQ_AUTH_CKSUM: u32 = 10;
    /// AP-REQ Authenticator, encrypted with the application session key.
    pub const AP_REQ_AUTH: u32 = 11;
    /// AP-REP encrypted part, encrypted with the application session key.
    pub const AP_REP_ENCPART: u32 = 12;
    /// KRB-PRIV encrypted part.
    pub const KRB_PRIV_ENCPART: u32 = 13;
    /// KRB-CRED encrypted part.
    pub const KRB_CRED_ENCPART: u32 = 14;
    /// KRB-SAFE cksum.
    pub const KRB_SAFE_CKSUM: u32 = 15;
    /// AD-KDCIssued checksum.
    pub const AD_KDC_ISSUED_CKSUM: u32 = 19;
    /// GSS-API (RFC 4121) Wrap/MIC tokens sealed by the acceptor.
    pub const GSS_ACCEPTOR_SEAL: u32 = 22;
    /// GSS-API MIC/integrity tokens signed by the acceptor.
    pub const GSS_ACCEPTOR_SIGN: u32 = 23;
    /// GSS-API Wrap tokens sealed by the initiator.
    pub const GSS_INITIATOR_SEAL: u32 = 24;
    /// GSS-API MIC/integrity tokens signed by the initiator.
    pub const GSS_INITIATOR_SIGN: u32 = 25;
    /// FAST request checksum (RFC 6113).
    pub const FAST_REQ_CHKSUM: u32 = 50;
    /// FAST armored request encryption (RFC 6113).
    pub const FAST_ENC: u32 = 51;
    /// FAST armored reply encryption (RFC 6113).
    pub const FAST_REP: u32 = 52;
    /// FAST finished checksum (RFC 6113).
    pub const FAST_FINISHED: u32 = 53;
    /// Encrypted challenge from the client (RFC 6113).
    pub const ENC_CHALLENGE_CLIENT: u32 = 54;
    /// Encrypted challenge from the KDC (RFC 6113).
    pub const ENC_CHALLENGE_KDC: u32 = 55;
    /// AS-REQ checksum for PA-REQ-ENC-PA-REP (RFC 6806 §11).
    pub const AS_REQ: u32 = 56;
}

/// Encryption type numbers (RFC 3961 §8, RFC 3962, RFC 8009, RFC 4757).
pub mod etype {
    /// des-cbc-crc (deprecated, RFC 6649).
    pub const DES_CBC_CRC: i32 = 1;
    /// des-cbc-md4 (deprecated).
    pub const DES_CBC_MD4: i32 = 2;
    /// des-cbc-md5 (deprecated).
    pub const DES_CBC_MD5: i32 = 3;
    /// des3-cbc-sha1-kd (deprecated, RFC 8429).
    pub const DES3_CBC_SHA1: i32 = 16;
    /// aes128-cts-hmac-sha1-96 (RFC 3962).
    pub const AES128_CTS_HMAC_SHA1_96: i32 = 17;
    /// aes256-cts-hmac-sha1-96 (RFC 3962).
    pub const AES256_CTS_HMAC_SHA1_96: i32 = 18;
    /// aes128-cts-hmac-sha256-128 (RFC 8009; not implemented by Active Directory).
    pub const AES128_CTS_HMAC_SHA256_128: i32 = 19;
    /// aes256-cts-hmac-sha384-192 (RFC 8009; not implemented by Active Directory).
    pub const AES256_CTS_HMAC_SHA384_192: i32 = 20;
    /// arcfour-hmac / rc4-hmac (RFC 4757, deprecated by RFC 8429).
    pub const RC4_HMAC: i32 = 23;
    /// arcfour-hmac-exp (export grade).
    pub const RC4_HMAC_EXP: i32 = 24;
    /// camellia128-cts-cmac (RFC 6803).
    pub const CAMELLIA128_CTS_CMAC: i32 = 25;
    /// camellia256-cts-cmac (RFC 6803).
    pub const CAMELLIA256_CTS_CMAC: i32 = 26;
}

/// Checksum type numbers (RFC 3961 §8, RFC 3962, RFC 8009, RFC 4757, RFC 4121).
pub mod cksum_type {
    /// CRC-32.
    pub const CRC32: i32 = 1;
    /// RSA-MD5.
    pub const RSA_MD5: i32 = 7;
    /// hmac-sha1-des3-kd.
    pub const HMAC_SHA1_DES3_KD: i32 = 12;
    /// hmac-sha1-96-aes128.
    pub const HMAC_SHA1_96_AES128: i32 = 15;
    /// hmac-sha1-96-aes256.
    pub const HMAC_SHA1_96_AES256: i32 = 16;
    /// hmac-sha256-128-aes128.
    pub const HMAC_SHA256_128_AES128: i32 = 19;
    /// hmac-sha384-192-aes256.
    pub const HMAC_SHA384_192_AES256: i32 = 20;
    /// The GSS-API authenticator checksum (RFC 4121 §4.1.1), 0x8003.
    pub const GSSAPI: i32 = 0x8003;
    /// hmac-md5 for RC4 keys (RFC 4757).
    pub const HMAC_MD5: i32 = -138;
}
