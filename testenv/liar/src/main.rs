//! `gmsa-liar`: a lying KDC for the end-to-end tests (issue 11, "a lying KDC and DC end to end").
//!
//! It listens on one TCP port per (upstream KDC, behaviour) on its own loopback address and relays
//! every request to the real KDC (the MIT KDC of `testenv/mit-kdc.sh`, the Samba DC's KDC of
//! `testenv/samba-dc.sh`). Requests of a *victim* (a principal whose password it was given, so it
//! holds the client key) get a lie instead of the honest answer: one field of the AS-REP or
//! TGS-REP changed and the enc-part re-encrypted under the right key (the client key, or the TGT
//! session key it learnt from the victim's own AS-REP), the pre-authentication hints rewritten
//! (only RC4; 2^31 PBKDF2 iterations), half a reply and then silence, or a 1 GiB length prefix.
//! Everybody else's requests are relayed untouched, so one krb5.conf pointing at a lying port
//! still serves an honest login of another principal.
//!
//! On the DC side (`--ldap-*`), one port per LDAP behaviour on the DC's own address (so the
//! client's `ldap/<dc name>` service ticket stays valid) relays to the DC's LDAP port, or answers
//! the SASL bind with garbage or a 2 GiB BER length, or a 1 GiB SASL frame after the bind.
//!
//! Usage: `gmsa-liar --listen 127.0.0.7 --base-port 18900 --upstream mit=127.0.0.3:18888
//! --upstream samba=127.0.0.2:88 --victim PRINCIPAL:SALT:PASSWORD_FILE...
//! [--ldap-listen 127.0.0.2 --ldap-base-port 18950 --ldap-upstream 127.0.0.2:389] --out testenv.json`.
//! It writes `testenv.json` (mode 600) once every port is bound; see testenv/README.md.
//!
//! Built with krb5-proto's own ASN.1 and crypto, std threads and blocking sockets: no C, no async.

use krb5_proto::asn1::{
    self, EncKdcRepPart, EtypeInfo2Entry, KdcRep, KdcReply, KerberosTime, KrbError, OctetString,
    PaData, PrincipalName, TicketFlags,
};
use krb5_proto::crypto::{EncType, Key};
use krb5_proto::rand::OsRng;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The behaviours, one port each per upstream (base port + index, MIT first, then Samba).
const MODES: [(&str, &str); 17] = [
    ("honest", "relays everything untouched"),
    ("nonce", "AS-REP enc-part nonce + 1"),
    ("crealm", "AS-REP client realm replaced (EVIL.TEST)"),
    ("sname", "AS-REP enc-part server name replaced"),
    ("ticket-sname", "AS-REP ticket's server name replaced"),
    (
        "flags",
        "AS-REP ticket flags PROXIABLE and MAY-POSTDATE added (never asked for)",
    ),
    (
        "session-etype",
        "AS-REP session key enctype 16 (des3, never offered)",
    ),
    (
        "tgs-nonce",
        "TGS-REP enc-part nonce + 1 (re-encrypted under the TGT session key)",
    ),
    (
        "rc4-only",
        "PREAUTH_REQUIRED error's PA-ETYPE-INFO2 lists only rc4-hmac (23)",
    ),
    (
        "s2k-huge",
        "PREAUTH_REQUIRED error's PA-ETYPE-INFO2 asks for 2^31 PBKDF2 iterations",
    ),
    (
        "stall",
        "sends the length prefix and half of the AS-REP, then nothing",
    ),
    (
        "huge-length",
        "answers the AS-REQ with a 1 GiB TCP length prefix and 6 bytes",
    ),
    ("tgs-stall", "sends half of the TGS-REP, then nothing"),
    (
        "end-time",
        "AS-REP end time 10 years later than the KDC's (after the request's till)",
    ),
    (
        "skew",
        "AS-REP start and auth time one hour ahead of the KDC's clock",
    ),
    (
        "preauth-loop",
        "the victim's pre-authentication is stripped: PREAUTH_REQUIRED forever",
    ),
    (
        "too-big",
        "KRB_ERR_RESPONSE_TOO_BIG over TCP instead of the AS-REP",
    ),
];

/// The LDAP behaviours (DC side), one port each from the LDAP base port.
const LDAP_MODES: [(&str, &str); 4] = [
    ("honest", "relays everything untouched"),
    (
        "garbage",
        "answers the SASL bind request with 64 bytes that are not BER",
    ),
    (
        "huge-ber",
        "answers the SASL bind request with a BER SEQUENCE of length 2^31 - 1",
    ),
    (
        "sasl-huge",
        "relays the SASL bind, then answers the first sealed request with a 1 GiB SASL frame length",
    ),
];

const TEN_YEARS: i64 = 10 * 365 * 86_400;

/// Largest request or upstream reply the liar reads (our client's own cap, 1 MiB).
const MAX_MSG: usize = 1 << 20;
/// How long a stalling connection is held open at most.
const HOLD: Duration = Duration::from_secs(120);
/// TGT session keys remembered (the newest first).
const MAX_SESSION_KEYS: usize = 256;

struct Victim {
    principal: String,
    salt: Vec<u8>,
    password: Vec<u8>,
}

impl Victim {
    fn key(&self, etype: EncType, s2kparams: Option<&[u8]>) -> Option<Key> {
        Key::from_password(etype, &self.password, &self.salt, s2kparams).ok()
    }
}

struct Shared {
    victims: Vec<Victim>,
    /// TGT session keys of the victims' AS-REPs, to read and rewrite their TGS exchanges.
    session_keys: Mutex<VecDeque<Key>>,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("gmsa-liar: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut listen = "127.0.0.7".to_string();
    let mut base_port: u16 = 18900;
    let mut upstreams: Vec<(String, SocketAddr)> = Vec::new();
    let mut victims = Vec::new();
    let mut out = None;
    let mut ldap_listen = None;
    let mut ldap_base_port: u16 = 18950;
    let mut ldap_upstream: Option<SocketAddr> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--listen" => listen = val()?,
            "--base-port" => base_port = val()?.parse().map_err(|e| format!("--base-port: {e}"))?,
            "--upstream" => {
                let v = val()?;
                let (name, addr) = v.split_once('=').ok_or("--upstream NAME=HOST:PORT")?;
                let addr = addr.parse().map_err(|e| format!("--upstream {v}: {e}"))?;
                upstreams.push((name.to_string(), addr));
            }
            "--victim" => {
                let v = val()?;
                let mut it = v.splitn(3, ':');
                let (Some(p), Some(salt), Some(file)) = (it.next(), it.next(), it.next()) else {
                    return Err("--victim PRINCIPAL:SALT:PASSWORD_FILE".into());
                };
                let password = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
                victims.push(Victim {
                    principal: p.to_string(),
                    salt: salt.as_bytes().to_vec(),
                    password,
                });
            }
            "--out" => out = Some(val()?),
            "--ldap-listen" => ldap_listen = Some(val()?),
            "--ldap-base-port" => {
                ldap_base_port = val()?
                    .parse()
                    .map_err(|e| format!("--ldap-base-port: {e}"))?
            }
            "--ldap-upstream" => {
                let v = val()?;
                ldap_upstream = Some(v.parse().map_err(|e| format!("--ldap-upstream {v}: {e}"))?);
            }
            _ => return Err(format!("unknown argument {a} (see the module docs)")),
        }
    }
    let out = out.ok_or("--out FILE is required")?;
    let shared = Arc::new(Shared {
        victims,
        session_keys: Mutex::new(VecDeque::new()),
    });
    let mut kdcs = serde_json::Map::new();
    let mut port = base_port;
    let mut listeners = Vec::new();
    for (name, upstream) in &upstreams {
        let mut ports = serde_json::Map::new();
        for (mode, _) in MODES {
            let addr = format!("{listen}:{port}");
            let l = TcpListener::bind(&addr).map_err(|e| format!("bind {addr}: {e}"))?;
            ports.insert(mode.into(), addr.into());
            listeners.push((l, *upstream, mode));
            port += 1;
        }
        kdcs.insert(name.clone(), ports.into());
    }
    for (l, upstream, mode) in listeners {
        let shared = shared.clone();
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    if let Err(e) = serve(conn, upstream, mode, &shared) {
                        eprintln!("gmsa-liar [{mode}]: {e}");
                    }
                });
            }
        });
    }
    let mut ldap = serde_json::Map::new();
    if let (Some(host), Some(upstream)) = (&ldap_listen, ldap_upstream) {
        for (i, (mode, _)) in LDAP_MODES.iter().enumerate() {
            let addr = format!("{host}:{}", ldap_base_port + i as u16);
            let l = TcpListener::bind(&addr).map_err(|e| format!("bind {addr}: {e}"))?;
            ldap.insert((*mode).into(), addr.into());
            let mode: &'static str = mode;
            std::thread::spawn(move || {
                for conn in l.incoming().flatten() {
                    std::thread::spawn(move || {
                        if let Err(e) = serve_ldap(conn, upstream, mode) {
                            eprintln!("gmsa-liar [ldap {mode}]: {e}");
                        }
                    });
                }
            });
        }
    }
    let json = serde_json::json!({
        "ldap": ldap,
        "ldap_upstream": ldap_upstream.map(|a| a.to_string()),
        "ldap_modes": LDAP_MODES.iter().map(|(m, d)| ((*m).to_string(), (*d).into()))
            .collect::<serde_json::Map<String, serde_json::Value>>(),
        "address": listen,
        "pid": std::process::id(),
        "kdcs": kdcs,
        "upstreams": upstreams.iter().map(|(n, a)| (n.clone(), a.to_string().into()))
            .collect::<serde_json::Map<String, serde_json::Value>>(),
        "victims": shared.victims.iter().map(|v| v.principal.clone()).collect::<Vec<_>>(),
        "modes": MODES.iter().map(|(m, d)| ((*m).to_string(), (*d).into()))
            .collect::<serde_json::Map<String, serde_json::Value>>(),
    });
    let tmp = format!("{out}.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&json).unwrap())
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        })
        .and_then(|()| std::fs::rename(&tmp, &out))
        .map_err(|e| format!("{out}: {e}"))?;
    eprintln!(
        "gmsa-liar: {} ports from {listen}:{base_port}, wrote {out}",
        port - base_port
    );
    loop {
        std::thread::park();
    }
}

fn read_frame(s: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)
        .map_err(|e| format!("read length: {e}"))?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_MSG {
        return Err(format!("frame of {len} bytes refused"));
    }
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf)
        .map_err(|e| format!("read {len} bytes: {e}"))?;
    Ok(buf)
}

fn framed(msg: &[u8]) -> Vec<u8> {
    let mut v = (msg.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(msg);
    v
}

fn relay(upstream: SocketAddr, req: &[u8]) -> Result<Vec<u8>, String> {
    let mut s = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))
        .map_err(|e| format!("connect {upstream}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(&framed(req))
        .map_err(|e| format!("send to {upstream}: {e}"))?;
    read_frame(&mut s)
}

/// Holds `conn` open without answering until the client gives up (or [`HOLD`] passes).
fn hold(mut conn: TcpStream) {
    conn.set_read_timeout(Some(HOLD)).ok();
    let mut sink = [0u8; 512];
    while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
}

/// Who the request is from, when it is one of the victims: `(victim index, TGS reply key and
/// usage)`; for an AS-REQ the key is `None`.
type Victimised = Option<(usize, Option<(Key, u32)>)>;

fn classify(req: &[u8], shared: &Shared) -> Victimised {
    match req.first() {
        Some(0x6a) => {
            let as_req: asn1::AsReq = asn1::decode(req).ok()?;
            let body = &as_req.0.req_body;
            let cname = body.cname.as_ref()?;
            let name = format!("{}@{}", join(cname), body.realm.to_string_lossy());
            let i = shared
                .victims
                .iter()
                .position(|v| v.principal.eq_ignore_ascii_case(&name))?;
            Some((i, None))
        }
        Some(0x6c) => {
            let tgs_req: asn1::TgsReq = asn1::decode(req).ok()?;
            let pa = tgs_req.0.padata.as_ref()?.iter().find(|p| p.r#type == 1)?;
            let ap: asn1::ApReq = asn1::decode(&pa.value).ok()?;
            let keys = shared.session_keys.lock().unwrap();
            for k in keys.iter() {
                if k.etype().to_i32() != ap.authenticator.etype {
                    continue;
                }
                let Ok(plain) = k.decrypt(7, &ap.authenticator.cipher) else {
                    continue;
                };
                let auth: asn1::Authenticator = asn1::decode(&plain).ok()?;
                let reply_key = match auth.subkey {
                    Some(sk) => (
                        Key::new(EncType::from_i32(sk.r#type)?, sk.value.as_ref()).ok()?,
                        9,
                    ),
                    None => (k.clone(), 8),
                };
                return Some((0, Some(reply_key)));
            }
            None
        }
        _ => None,
    }
}

fn join(n: &PrincipalName) -> String {
    n.string
        .iter()
        .map(|s| s.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn serve(
    mut conn: TcpStream,
    upstream: SocketAddr,
    mode: &str,
    shared: &Shared,
) -> Result<(), String> {
    conn.set_read_timeout(Some(Duration::from_secs(30))).ok();
    loop {
        let req = match read_frame(&mut conn) {
            Ok(r) => r,
            Err(_) => return Ok(()), // the client closed the connection (or sent garbage)
        };
        let victim = classify(&req, shared);
        let is_as = req.first() == Some(&0x6a);
        if let (Some(_), true, "huge-length") = (&victim, is_as, mode) {
            eprintln!("gmsa-liar [{mode}]: 1 GiB length prefix");
            conn.write_all(&[0x40, 0, 0, 0, 0x6b, 0x84, 0x40, 0, 0, 0])
                .map_err(|e| e.to_string())?;
            hold(conn);
            return Ok(());
        }
        let req = match (&victim, mode) {
            (Some(_), "preauth-loop") if is_as => strip_preauth(req),
            _ => req,
        };
        let reply = relay(upstream, &req)?;
        let reply = match &victim {
            Some((i, tgs_key)) => lie(mode, reply, &shared.victims[*i], tgs_key.as_ref(), shared)?,
            None => reply,
        };
        let stall = victim.is_some()
            && ((mode == "stall" && reply.first() == Some(&0x6b))
                || (mode == "tgs-stall" && reply.first() == Some(&0x6d)));
        if stall {
            eprintln!("gmsa-liar [{mode}]: half a reply, then silence");
            let f = framed(&reply);
            conn.write_all(&f[..f.len() / 2])
                .map_err(|e| e.to_string())?;
            hold(conn);
            return Ok(());
        }
        conn.write_all(&framed(&reply)).map_err(|e| e.to_string())?;
    }
}

/// The victim's reply with this port's lie in it (the reply unchanged when the lie is for
/// another message).
fn lie(
    mode: &str,
    reply: Vec<u8>,
    victim: &Victim,
    tgs_key: Option<&(Key, u32)>,
    shared: &Shared,
) -> Result<Vec<u8>, String> {
    let decoded = asn1::decode_kdc_reply(&reply).map_err(|e| format!("upstream reply: {e}"))?;
    match decoded {
        KdcReply::Error(err) if err.error_code == 25 && matches!(mode, "rc4-only" | "s2k-huge") => {
            eprintln!("gmsa-liar [{mode}]: PREAUTH_REQUIRED rewritten");
            Ok(asn1::encode(&rewrite_hints(err, mode)))
        }
        KdcReply::AsRep(mut rep) => {
            let etype =
                EncType::from_i32(rep.enc_part.etype).ok_or("AS-REP in an unknown enctype")?;
            let s2kparams = etype_info2(&rep).and_then(|e| e.s2kparams.map(|p| p.to_vec()));
            let key = victim
                .key(etype, s2kparams.as_deref())
                .ok_or("cannot derive the victim's key")?;
            let plain = key
                .decrypt(3, &rep.enc_part.cipher)
                .map_err(|e| format!("AS-REP of {} does not decrypt: {e}", victim.principal))?;
            let mut part = asn1::decode_enc_kdc_rep_part(&plain).map_err(|e| e.to_string())?;
            remember(shared, &part);
            let tgs_part = plain.first() == Some(&0x7a);
            match mode {
                "nonce" => part.nonce = part.nonce.wrapping_add(1),
                "crealm" => rep.crealm = "EVIL.TEST".into(),
                "sname" => part.sname.string = vec!["krbtgt".into(), "EVIL.TEST".into()],
                "ticket-sname" => {
                    rep.ticket.sname.string = vec!["krbtgt".into(), "EVIL.TEST".into()]
                }
                "flags" => {
                    part.flags = TicketFlags(
                        part.flags.0 | TicketFlags::PROXIABLE | TicketFlags::MAY_POSTDATE,
                    )
                }
                "session-etype" => part.key.r#type = 16,
                "end-time" => {
                    part.end_time = KerberosTime::from_unix(part.end_time.to_unix() + TEN_YEARS)
                }
                "skew" => {
                    let start = part.start_time.unwrap_or(part.auth_time).to_unix();
                    part.start_time = Some(KerberosTime::from_unix(start + 3600));
                    part.auth_time = KerberosTime::from_unix(part.auth_time.to_unix() + 3600);
                }
                "too-big" => {
                    eprintln!(
                        "gmsa-liar [{mode}]: RESPONSE_TOO_BIG for {}",
                        victim.principal
                    );
                    return Ok(asn1::encode(&KrbError {
                        pvno: 5,
                        msg_type: 30,
                        ctime: None,
                        cusec: None,
                        stime: part.auth_time,
                        susec: 0,
                        error_code: 52,
                        crealm: None,
                        cname: None,
                        realm: part.srealm,
                        sname: part.sname,
                        e_text: None,
                        e_data: None,
                    }));
                }
                _ => return Ok(reply),
            }
            eprintln!(
                "gmsa-liar [{mode}]: AS-REP of {} rewritten",
                victim.principal
            );
            rep.enc_part.cipher = key
                .encrypt(3, &encode_part(part, tgs_part), &mut OsRng)
                .into();
            Ok(asn1::encode(&asn1::AsRep(rep)))
        }
        KdcReply::TgsRep(mut rep) if mode == "tgs-nonce" => {
            let Some((key, usage)) = tgs_key else {
                return Ok(reply);
            };
            let plain = key
                .decrypt(*usage, &rep.enc_part.cipher)
                .map_err(|e| format!("TGS-REP does not decrypt: {e}"))?;
            let tgs_part = plain.first() == Some(&0x7a);
            let mut part = asn1::decode_enc_kdc_rep_part(&plain).map_err(|e| e.to_string())?;
            part.nonce = part.nonce.wrapping_add(1);
            eprintln!("gmsa-liar [{mode}]: TGS-REP rewritten");
            rep.enc_part.cipher = key
                .encrypt(*usage, &encode_part(part, tgs_part), &mut OsRng)
                .into();
            Ok(asn1::encode(&asn1::TgsRep(rep)))
        }
        _ => Ok(reply),
    }
}

/// The AS-REQ without its pre-authentication (the KDC then asks for it again).
fn strip_preauth(req: Vec<u8>) -> Vec<u8> {
    match asn1::decode::<asn1::AsReq>(&req) {
        Ok(mut r) if r.0.padata.is_some() => {
            eprintln!("gmsa-liar [preauth-loop]: pre-authentication stripped");
            r.0.padata = None;
            asn1::encode(&r)
        }
        _ => req,
    }
}

fn encode_part(part: EncKdcRepPart, tgs_part: bool) -> Vec<u8> {
    if tgs_part {
        asn1::encode(&asn1::EncTgsRepPart(part))
    } else {
        asn1::encode(&asn1::EncAsRepPart(part))
    }
}

fn remember(shared: &Shared, part: &EncKdcRepPart) {
    let Some(etype) = EncType::from_i32(part.key.r#type) else {
        return;
    };
    if let Ok(k) = Key::new(etype, part.key.value.as_ref()) {
        let mut keys = shared.session_keys.lock().unwrap();
        keys.push_front(k);
        keys.truncate(MAX_SESSION_KEYS);
    }
}

fn etype_info2(rep: &KdcRep) -> Option<EtypeInfo2Entry> {
    let pa = rep.padata.as_ref()?.iter().find(|p| p.r#type == 19)?;
    let list: Vec<EtypeInfo2Entry> = asn1::decode(&pa.value).ok()?;
    list.into_iter().find(|e| e.etype == rep.enc_part.etype)
}

/// The PREAUTH_REQUIRED error with its PA-ETYPE-INFO2 rewritten for `mode`.
fn rewrite_hints(mut err: KrbError, mode: &str) -> KrbError {
    let Some(e_data) = err.e_data.as_ref() else {
        return err;
    };
    let Ok(mut hints) = asn1::decode::<Vec<PaData>>(e_data) else {
        return err;
    };
    for pa in hints.iter_mut().filter(|p| p.r#type == 19) {
        let Ok(list) = asn1::decode::<Vec<EtypeInfo2Entry>>(&pa.value) else {
            continue;
        };
        let salt = list.iter().find_map(|e| e.salt.clone());
        let new: Vec<EtypeInfo2Entry> = if mode == "rc4-only" {
            vec![EtypeInfo2Entry {
                etype: 23,
                salt,
                s2kparams: None,
            }]
        } else {
            list.into_iter()
                .map(|mut e| {
                    if (17..=20).contains(&e.etype) {
                        // 2^31 iterations, big-endian (RFC 3962 s2kparams).
                        e.s2kparams = Some(OctetString::from(vec![0x80, 0, 0, 0]));
                    }
                    e
                })
                .collect()
        };
        pa.value = asn1::encode(&new).into();
    }
    // PA-ETYPE-INFO (11) would still list the honest enctypes: drop it.
    hints.retain(|p| p.r#type != 11);
    err.e_data = Some(asn1::encode(&hints).into());
    err
}

/// Reads one client message off an LDAP connection: a BER LDAPMessage (`0x30`, definite length)
/// while the bind runs, or a SASL frame (4-byte big-endian length) once a security layer is on.
/// Returns the bytes and whether it was a SASL frame; `None` when the client closed.
fn read_ldap_message(s: &mut TcpStream) -> Result<Option<(Vec<u8>, bool)>, String> {
    let mut first = [0u8; 1];
    if s.read(&mut first).map_err(|e| e.to_string())? == 0 {
        return Ok(None);
    }
    let mut msg = first.to_vec();
    let body_len = if first[0] == 0x30 {
        let mut l = [0u8; 1];
        s.read_exact(&mut l).map_err(|e| e.to_string())?;
        msg.push(l[0]);
        if l[0] < 0x80 {
            l[0] as usize
        } else {
            let n = (l[0] & 0x7f) as usize;
            if n == 0 || n > 4 {
                return Err(format!("BER length of {n} bytes"));
            }
            let mut len = vec![0u8; n];
            s.read_exact(&mut len).map_err(|e| e.to_string())?;
            msg.extend_from_slice(&len);
            len.iter().fold(0usize, |a, b| (a << 8) | *b as usize)
        }
    } else {
        let mut rest = [0u8; 3];
        s.read_exact(&mut rest).map_err(|e| e.to_string())?;
        msg.extend_from_slice(&rest);
        u32::from_be_bytes([first[0], rest[0], rest[1], rest[2]]) as usize
    };
    if body_len > MAX_MSG {
        return Err(format!("client message of {body_len} bytes"));
    }
    let start = msg.len();
    msg.resize(start + body_len, 0);
    s.read_exact(&mut msg[start..]).map_err(|e| e.to_string())?;
    Ok(Some((msg, first[0] != 0x30)))
}

/// One LDAP connection: relayed to the DC, with this port's lie.
fn serve_ldap(mut conn: TcpStream, upstream: SocketAddr, mode: &str) -> Result<(), String> {
    conn.set_read_timeout(Some(HOLD)).ok();
    let Some((first, _)) = read_ldap_message(&mut conn)? else {
        return Ok(());
    };
    match mode {
        "garbage" => {
            eprintln!("gmsa-liar [ldap {mode}]: garbage for the bind");
            conn.write_all(&[0xff; 64]).map_err(|e| e.to_string())?;
            hold(conn);
            return Ok(());
        }
        "huge-ber" => {
            eprintln!("gmsa-liar [ldap {mode}]: a BER length of 2^31 - 1");
            conn.write_all(&[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01])
                .map_err(|e| e.to_string())?;
            hold(conn);
            return Ok(());
        }
        _ => {}
    }
    let mut up = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))
        .map_err(|e| format!("connect {upstream}: {e}"))?;
    let mut down = conn.try_clone().map_err(|e| e.to_string())?;
    let mut from_up = up.try_clone().map_err(|e| e.to_string())?;
    // The DC's answers go straight back to the client.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_up, &mut down);
        let _ = down.shutdown(std::net::Shutdown::Write);
    });
    up.write_all(&first).map_err(|e| e.to_string())?;
    while let Some((msg, sasl)) = read_ldap_message(&mut conn)? {
        if sasl && mode == "sasl-huge" {
            eprintln!("gmsa-liar [ldap {mode}]: a 1 GiB SASL frame for the first sealed request");
            // The lie first, then the upstream closed: closing it first let the relay thread
            // see its end and shut our write side before the lie went out (a flaky test).
            conn.write_all(&[0x40, 0, 0, 0, 0x05, 0x04, 0xff])
                .map_err(|e| e.to_string())?;
            let _ = up.shutdown(std::net::Shutdown::Both);
            hold(conn);
            return Ok(());
        }
        up.write_all(&msg).map_err(|e| e.to_string())?;
    }
    let _ = up.shutdown(std::net::Shutdown::Both);
    Ok(())
}
