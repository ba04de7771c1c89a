//! Group Managed Service Account support (to come: MSDS-MANAGEDPASSWORD_BLOB, key derivation,
//! retrieval over sealed SASL GSSAPI LDAP). This crate is a placeholder in the workspace for now.
