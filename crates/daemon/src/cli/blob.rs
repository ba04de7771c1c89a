use msds_gmsa::{GmsaKeys, ManagedPasswordBlob, Utf16Password};
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

/// `gmsa blob ...`.
#[derive(Debug, clap::Subcommand)]
pub enum BlobCommand {
    /// Decode an msDS-ManagedPassword blob (MS-ADTS 2.2.19) and optionally derive the account's keys.
    Decode(DecodeArgs),
}

/// `gmsa blob decode`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("acct").multiple(true).requires_all(["account", "realm"])))]
pub struct DecodeArgs {
    /// File holding the blob (`-` reads standard input).
    pub file: PathBuf,
    /// The file holds base64 text (as ldapsearch prints it) instead of raw bytes.
    #[arg(long)]
    pub base64: bool,
    /// The gMSA's sAMAccountName (e.g. WebApp01$): derive its keys.
    #[arg(long, value_name = "SAM", group = "acct")]
    pub account: Option<String>,
    /// The Kerberos realm, for the salt.
    #[arg(long, value_name = "REALM", group = "acct")]
    pub realm: Option<String>,
    /// The DNS domain when it differs from the realm (salt suffix).
    #[arg(long, value_name = "DOMAIN", requires = "account")]
    pub dns_domain: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

const MAX_INPUT: u64 = 1 << 20;

fn read_input(a: &DecodeArgs) -> Result<Vec<u8>, String> {
    let mut raw = Vec::new();
    if a.file.as_os_str() == "-" {
        std::io::stdin()
            .take(MAX_INPUT)
            .read_to_end(&mut raw)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
    } else {
        std::fs::File::open(&a.file)
            .and_then(|f| f.take(MAX_INPUT).read_to_end(&mut raw))
            .map_err(|e| format!("cannot read {}: {e}", a.file.display()))?;
    }
    if !a.base64 {
        return Ok(raw);
    }
    use base64::Engine as _;
    let text: Vec<u8> = raw
        .into_iter()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(&text)
        .map_err(|e| format!("{}: not valid base64: {e}", a.file.display()))
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    format!(
        "{}d {:02}h {:02}m {:02}s ({s} s)",
        s / 86_400,
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60
    )
}

fn unpaired_surrogates(p: &Utf16Password) -> usize {
    let units: Vec<u16> = p
        .as_utf16le()
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    char::decode_utf16(units.iter().copied())
        .filter(|r| r.is_err())
        .count()
}

fn keys_json(p: &Utf16Password, salt: Option<&[u8]>) -> Result<serde_json::Value, String> {
    let mut v = serde_json::json!({
        "utf16_bytes": p.as_utf16le().len(),
        "unpaired_surrogates": unpaired_surrogates(p),
        "nt_hash": hex::encode(*p.nt_hash()),
    });
    if let Some(salt) = salt {
        let k = GmsaKeys::derive(p, salt).map_err(|e| e.to_string())?;
        v["aes128"] = hex::encode(k.aes128.as_bytes()).into();
        v["aes256"] = hex::encode(k.aes256.as_bytes()).into();
    }
    Ok(v)
}

pub fn run(cmd: BlobCommand) -> Result<(), String> {
    let BlobCommand::Decode(a) = cmd;
    let bytes = read_input(&a)?;
    let blob = ManagedPasswordBlob::parse(&bytes)
        .map_err(|e| format!("not a valid msDS-ManagedPassword blob: {e}"))?;
    let salt = match (&a.account, &a.realm) {
        (Some(sam), Some(realm)) => Some(match &a.dns_domain {
            Some(d) => msds_gmsa::computer_account_salt_with_domain(realm, sam, d),
            None => msds_gmsa::computer_account_salt(realm, sam),
        }),
        _ => None,
    };
    let current = keys_json(blob.current(), salt.as_deref())?;
    let previous = match blob.previous() {
        Some(p) => Some(keys_json(p, salt.as_deref())?),
        None => None,
    };
    if a.json {
        let out = serde_json::json!({
            "version": blob.version(),
            "query_password_interval_secs": blob.query_password_interval().as_secs(),
            "unchanged_password_interval_secs": blob.unchanged_password_interval().as_secs(),
            "in_rollover_window": blob.in_rollover_window(),
            "salt": salt.as_ref().map(|s| String::from_utf8_lossy(s).into_owned()),
            "current": current,
            "previous": previous,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    println!("version:                     {}", blob.version());
    println!(
        "previous password:           {}",
        if blob.previous().is_some() {
            "present"
        } else {
            "absent"
        }
    );
    println!(
        "query password interval:     {}",
        human(blob.query_password_interval())
    );
    println!(
        "unchanged password interval: {}",
        human(blob.unchanged_password_interval())
    );
    if blob.in_rollover_window() {
        println!(
            "note: the DC is in the rollover window: `current` is the next password, use `previous` to log in"
        );
    }
    if let Some(s) = &salt {
        println!(
            "salt:                        {}",
            String::from_utf8_lossy(s)
        );
    }
    for (name, v) in [("current", Some(&current)), ("previous", previous.as_ref())] {
        let Some(v) = v else { continue };
        println!(
            "{name} password: {} bytes UTF-16, {} unpaired surrogate(s)",
            v["utf16_bytes"], v["unpaired_surrogates"]
        );
        println!(
            "  rc4-hmac (NT hash):        {}",
            v["nt_hash"].as_str().unwrap_or_default()
        );
        if let (Some(a128), Some(a256)) = (v["aes128"].as_str(), v["aes256"].as_str()) {
            println!("  aes128-cts-hmac-sha1-96:   {a128}");
            println!("  aes256-cts-hmac-sha1-96:   {a256}");
        }
    }
    Ok(())
}
