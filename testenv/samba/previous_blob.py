#!/usr/bin/python3
"""Helpers for previous-blob.sh (a test-environment tool; the project's own code is Rust).

    /usr/bin/python3 previous_blob.py copy LIVE_SMB_CONF LIVE_PRIVATE_DIR COPY_PRIVATE_DIR
    /usr/bin/python3 previous_blob.py read COPY_SMB_CONF SAM_ACCOUNT_NAME OUT_FILE
    /usr/bin/python3 previous_blob.py interval BLOB_B64_FILE

`copy` makes a consistent copy of a running DC's sam.ldb (and its sam.ldb.d partitions) the way
`samba-tool domain backup offline` does: a transaction on sam.ldb (the partition module locks
every partition) holds off the DC's writers while the files are copied. The few other files a
local SamDB opens (encrypted_secrets.key, secrets.*, idmap/privilege/share/hklm.ldb) are copied
as they are.

`read` opens the COPY with Samba's own modules (so the constructed attribute
msDS-ManagedPassword is computed locally, from the KDS root key and the current time, which
libfaketime may shift) and writes the attribute base64-encoded on one line, as
`ldbsearch` prints it (`msDS-ManagedPassword:: ...`), to OUT_FILE.

`interval` prints the blob's QueryPasswordInterval (MS-ADTS 2.2.19: the time until the password
changes) in whole seconds.
"""

import base64
import os
import shutil
import struct
import sys

import ldb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

PLAIN_FILES = [
    "encrypted_secrets.key",
    "secrets.ldb",
    "secrets.tdb",
    "secrets.keytab",
    "idmap.ldb",
    "privilege.ldb",
    "share.ldb",
    "hklm.ldb",
]


def open_samdb(smb_conf, url):
    lp = LoadParm()
    lp.load(smb_conf)
    return SamDB(url=url, session_info=system_session(), lp=lp)


def copy(live_conf, live_private, out_private):
    os.makedirs(os.path.join(out_private, "sam.ldb.d"), mode=0o700, exist_ok=True)
    samdb = open_samdb(live_conf, os.path.join(live_private, "sam.ldb"))
    samdb.transaction_start()
    try:
        shutil.copyfile(os.path.join(live_private, "sam.ldb"), os.path.join(out_private, "sam.ldb"))
        d = os.path.join(live_private, "sam.ldb.d")
        for name in os.listdir(d):
            shutil.copyfile(os.path.join(d, name), os.path.join(out_private, "sam.ldb.d", name))
    finally:
        samdb.transaction_cancel()
    for name in PLAIN_FILES:
        src = os.path.join(live_private, name)
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(out_private, name))


def read(conf, sam, out_file):
    lp = LoadParm()
    lp.load(conf)
    url = os.path.join(lp.get("private dir"), "sam.ldb")
    samdb = open_samdb(conf, url)
    res = samdb.search(
        base=samdb.domain_dn(),
        scope=ldb.SCOPE_SUBTREE,
        expression="(sAMAccountName=%s)" % ldb.binary_encode(sam),
        attrs=["msDS-ManagedPassword"],
    )
    if len(res) != 1 or "msDS-ManagedPassword" not in res[0]:
        raise SystemExit(f"no msDS-ManagedPassword for {sam} in {url} ({len(res)} entries)")
    blob = bytes(res[0]["msDS-ManagedPassword"][0])
    with open(out_file, "w") as f:
        f.write(base64.b64encode(blob).decode() + "\n")


def interval(b64_file):
    with open(b64_file) as f:
        blob = base64.b64decode(f.read())
    version, _reserved, length, _cur, _prev, qpi_off = struct.unpack_from("<HHIHHH", blob)
    if version != 1 or length != len(blob) or qpi_off + 8 > len(blob):
        raise SystemExit(f"{b64_file}: not an MSDS-MANAGEDPASSWORD_BLOB")
    (ticks,) = struct.unpack_from("<Q", blob, qpi_off)
    print(ticks // 10_000_000)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "copy":
        copy(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 5 and sys.argv[1] == "read":
        read(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 3 and sys.argv[1] == "interval":
        interval(sys.argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
