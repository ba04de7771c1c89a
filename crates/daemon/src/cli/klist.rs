use super::args::CacheArgs;
use crate::timefmt::{iso8601, klist_style};
use ccache::Ccache;
use krb5_proto::crypto::EncType;

/// `gmsa klist`.
#[derive(Debug, clap::Args)]
pub struct KlistArgs {
    #[command(flatten)]
    cache: CacheArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Ticket flags in MIT klist's letters.
fn flag_letters(f: u32) -> String {
    const LETTERS: [(u32, char); 12] = [
        (0x4000_0000, 'F'),
        (0x2000_0000, 'f'),
        (0x1000_0000, 'P'),
        (0x0800_0000, 'p'),
        (0x0400_0000, 'D'),
        (0x0200_0000, 'd'),
        (0x0100_0000, 'i'),
        (0x0080_0000, 'R'),
        (0x0040_0000, 'I'),
        (0x0020_0000, 'A'),
        (0x0010_0000, 'H'),
        (0x0004_0000, 'O'),
    ];
    LETTERS
        .iter()
        .filter(|(m, _)| f & m != 0)
        .map(|(_, c)| *c)
        .collect()
}

fn enctype_name(e: u16) -> String {
    EncType::from_i32(e as i32)
        .map(|e| e.name().to_string())
        .unwrap_or_else(|| format!("enctype {e}"))
}

pub fn run(a: KlistArgs) -> Result<(), String> {
    let path = a.cache.path()?;
    let cc =
        Ccache::read(&path).map_err(|e| format!("credential cache {}: {e}", path.display()))?;
    if a.json {
        let creds: Vec<serde_json::Value> = cc
            .tickets()
            .map(|c| {
                serde_json::json!({
                    "client": c.client.to_string(),
                    "server": c.server.to_string(),
                    "enctype": enctype_name(c.key.enctype),
                    "authtime": iso8601(c.authtime as i64),
                    "starttime": iso8601(if c.starttime == 0 { c.authtime } else { c.starttime } as i64),
                    "endtime": iso8601(c.endtime as i64),
                    "renew_till": (c.renew_till != 0).then(|| iso8601(c.renew_till as i64)),
                    "flags": flag_letters(c.ticket_flags),
                })
            })
            .collect();
        let out = serde_json::json!({
            "cache": format!("FILE:{}", path.display()),
            "default_principal": cc.default_principal.to_string(),
            "credentials": creds,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    println!("Ticket cache: FILE:{}", path.display());
    println!("Default principal: {}", cc.default_principal);
    println!();
    println!("Valid starting       Expires              Service principal");
    for c in cc.tickets() {
        let start = if c.starttime == 0 {
            c.authtime
        } else {
            c.starttime
        };
        println!(
            "{}  {}  {}",
            klist_style(start as i64),
            klist_style(c.endtime as i64),
            c.server
        );
        if c.renew_till != 0 {
            println!("\trenew until {}", klist_style(c.renew_till as i64));
        }
        println!(
            "\tFlags: {}, Etype (skey): {}",
            flag_letters(c.ticket_flags),
            enctype_name(c.key.enctype)
        );
    }
    Ok(())
}
