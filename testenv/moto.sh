#!/usr/bin/env bash
# moto (PyPI `moto[server]`): a local emulator of the AWS APIs the daemon calls (Secrets Manager,
# S3, SSM, STS, and the EC2 instance metadata service) for the integration tests.
#
#   testenv/moto.sh install   pip install 'moto[server]' unless moto_server is already installed
#   testenv/moto.sh start     (re)start our two moto_server processes, create the test IAM users
#   testenv/moto.sh stop      stop them (by their pid files)
#   testenv/moto.sh status    exit 0 when both run and answer
#
# Two servers on 127.0.0.1:
#   * MOTO_PORT (5055): signatures and IAM policies checked (INITIAL_NO_AUTH_ACTION_COUNT=0), so
#     a request signed with a wrong key is refused. Users: cf-reader (Allow *), cf-denied (no policy).
#   * MOTO_OPEN_PORT (5056): no authentication. Its IMDS paths hand out moto's fixed instance
#     credentials (AccessKeyId "test-key"), which moto's own IAM does not know; the instance-role
#     tests therefore call the AWS APIs on this one. moto's IMDSv2 token answer lacks the
#     X-aws-ec2-metadata-token-ttl-seconds header that real IMDS sends and the AWS SDKs require:
#     this server runs moto through a small wrapper that adds it (moto itself is unchanged).
# Everything lives in WORK=${TESTENV_DIR:-/tmp/gmsa-testenv}/moto: testenv.json (mode 600: it holds
# the emulator's access keys), moto.log / moto-open.log, the pid files.
set -euo pipefail

TESTENV_DIR=${TESTENV_DIR:-/tmp/gmsa-testenv}
WORK=$TESTENV_DIR/moto
HOST=127.0.0.1
PORT=${MOTO_PORT:-5055}
OPEN_PORT=${MOTO_OPEN_PORT:-5056}
REGION=us-east-1

log() { printf 'moto: %s\n' "$*" >&2; }
die() { printf 'moto: ERROR: %s\n' "$*" >&2; exit 1; }

find_python() {
    local p ms
    # Prefer the interpreter moto_server was installed for.
    if ms=$(command -v moto_server 2>/dev/null) && p=$(head -1 "$ms" | sed -n 's/^#!\(.*python[0-9.]*\)$/\1/p') && [[ -x $p ]]; then
        echo "$p"
        return 0
    fi
    for p in python3 python; do
        command -v "$p" >/dev/null && { echo "$p"; return 0; }
    done
    return 1
}

cmd_install() {
    if command -v moto_server >/dev/null; then
        log "moto_server already installed: $(command -v moto_server)"
        return 0
    fi
    local py
    py=$(find_python) || die "python3 is needed to install moto"
    "$py" -m pip --version >/dev/null 2>&1 || die "pip is missing for $py (apt-get install python3-pip)"
    # Debian's python refuses system-wide pip installs without --break-system-packages.
    "$py" -m pip install --quiet 'moto[server]' \
        || "$py" -m pip install --quiet --break-system-packages 'moto[server]' \
        || die "pip install 'moto[server]' failed"
    command -v moto_server >/dev/null || die "moto_server is not on PATH after pip install"
    log "installed $(command -v moto_server)"
}

alive() { kill -0 "$1" 2>/dev/null; }

# Prints the pid in pid file $1 if it names a live moto_server process.
our_pid() {
    local f=$1 pid
    [[ -r $f ]] || return 1
    pid=$(tr -dc '0-9' <"$f")
    [[ -n $pid ]] && alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q moto_server || return 1
    echo "$pid"
}

stop_one() {
    local f=$1 pid i
    if pid=$(our_pid "$f"); then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        log "stopped moto_server (pid $pid)"
    fi
    rm -f -- "$f"
}

cmd_stop() {
    stop_one "$WORK/moto.pid"
    stop_one "$WORK/moto-open.pid"
}

port_answers() {
    local port=$1
    (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null
}

# moto_server with the IMDSv2 token TTL header real IMDS sends (see the header of this file).
write_imds_wrapper() {
    cat >"$WORK/moto_server_imds_ttl.py" <<'PY'
import sys
from urllib.parse import urlparse
from moto.instance_metadata import responses as r

_orig = r.InstanceMetadataResponse.metadata_response

def metadata_response(request, full_url, headers):
    status, out_headers, body = _orig(request, full_url, headers)
    if urlparse(full_url).path == "/latest/api/token":
        ttl = request.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "21600")
        out_headers = dict(out_headers, **{"X-aws-ec2-metadata-token-ttl-seconds": ttl})
    return status, out_headers, body

r.InstanceMetadataResponse.metadata_response = staticmethod(metadata_response)
from moto.instance_metadata import urls
urls.url_paths = {k: metadata_response for k in urls.url_paths}
from moto.server import main
sys.exit(main())
PY
}

start_one() {
    local port=$1 pidf=$2 logf=$3 auth=$4 i
    port_answers "$port" && die "$HOST:$port is already in use by a process we did not start"
    if [[ $auth == yes ]]; then
        INITIAL_NO_AUTH_ACTION_COUNT=0 setsid moto_server -H "$HOST" -p "$port" >"$logf" 2>&1 </dev/null &
    else
        write_imds_wrapper
        env -u INITIAL_NO_AUTH_ACTION_COUNT setsid "$(find_python)" "$WORK/moto_server_imds_ttl.py" \
            -H "$HOST" -p "$port" >"$logf" 2>&1 </dev/null &
    fi
    echo $! >"$pidf"
    for ((i = 0; i < 150; i++)); do
        port_answers "$port" && return 0
        alive "$(<"$pidf")" || { tail -20 "$logf" >&2; cmd_stop; die "moto_server on port $port exited; log $logf"; }
        sleep 0.1
    done
    tail -20 "$logf" >&2
    cmd_stop
    die "moto_server on port $port did not answer within 15 s; log $logf"
}

cmd_start() {
    command -v moto_server >/dev/null || die "moto_server is not installed (testenv/moto.sh install)"
    local py
    py=$(find_python) || die "python3 is needed"
    mkdir -p "$WORK"
    cmd_stop
    local t0=$EPOCHREALTIME
    start_one "$PORT" "$WORK/moto.pid" "$WORK/moto.log" yes
    start_one "$OPEN_PORT" "$WORK/moto-open.pid" "$WORK/moto-open.log" no
    # Create the users (a few unauthenticated calls allowed through moto's reset-auth switch),
    # check that a wrong secret key is refused, write testenv.json.
    umask 077
    MOTO_ENDPOINT="http://$HOST:$PORT" MOTO_OPEN_ENDPOINT="http://$HOST:$OPEN_PORT" \
        MOTO_REGION=$REGION MOTO_WORK=$WORK "$py" - <<'PY' || { cmd_stop; die "setting up moto failed (logs in $WORK)"; }
import json, os, sys, urllib.request
import boto3, botocore.exceptions

ep, open_ep, region, work = (os.environ[k] for k in ("MOTO_ENDPOINT", "MOTO_OPEN_ENDPOINT", "MOTO_REGION", "MOTO_WORK"))

def reset_auth(n):
    req = urllib.request.Request(ep + "/moto-api/reset-auth", data=str(n).encode(), method="POST",
                                 headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(req, timeout=10).read()

def client(service, key, secret, endpoint=ep):
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=key, aws_secret_access_key=secret)

reset_auth(8)
iam = client("iam", "AKIABOOTSTRAP0000000", "bootstrap")
iam.create_user(UserName="cf-reader")
iam.put_user_policy(UserName="cf-reader", PolicyName="allow-all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
reader = iam.create_access_key(UserName="cf-reader")["AccessKey"]
iam.create_user(UserName="cf-denied")
denied = iam.create_access_key(UserName="cf-denied")["AccessKey"]
reset_auth(0)

sts = client("sts", reader["AccessKeyId"], reader["SecretAccessKey"])
account = sts.get_caller_identity()["Account"]
for (key, secret, want) in ((reader["AccessKeyId"], "wrong-secret-key", "SignatureDoesNotMatch"),
                            ("AKIANOSUCHKEY0000000", "x", "InvalidClientTokenId"),
                            (denied["AccessKeyId"], denied["SecretAccessKey"], "AccessDenied")):
    try:
        client("secretsmanager", key, secret).list_secrets()
    except botocore.exceptions.ClientError as e:
        # moto answers auth failures of JSON services with an XML body: look for the code anywhere.
        if want not in str(e):
            sys.exit(f"moto: expected {want} for key {key}, got: {e}")
    else:
        sys.exit(f"moto: a request signed with key {key} ({want}) was accepted: signatures are not checked")

json.dump({
    "endpoint": ep,
    "open_endpoint": open_ep,
    "imds_endpoint": open_ep,
    "region": region,
    "account_id": account,
    "reader": {"user": "cf-reader", "access_key_id": reader["AccessKeyId"], "secret_access_key": reader["SecretAccessKey"]},
    "denied": {"user": "cf-denied", "access_key_id": denied["AccessKeyId"], "secret_access_key": denied["SecretAccessKey"]},
    "imds_credentials": {"access_key_id": "test-key"},
    "log": os.path.join(work, "moto.log"),
    "open_log": os.path.join(work, "moto-open.log"),
}, open(os.path.join(work, "testenv.json.tmp"), "w"), indent=2)
os.replace(os.path.join(work, "testenv.json.tmp"), os.path.join(work, "testenv.json"))
PY
    local ms
    ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
    log "up in ${ms} ms: signed $HOST:$PORT (wrong keys refused), open $HOST:$OPEN_PORT; $WORK/testenv.json"
}

cmd_status() {
    for f in moto moto-open; do
        our_pid "$WORK/$f.pid" >/dev/null || die "$f is not running"
    done
    port_answers "$PORT" || die "$HOST:$PORT does not answer"
    port_answers "$OPEN_PORT" || die "$HOST:$OPEN_PORT does not answer"
    [[ -s $WORK/testenv.json ]] || die "$WORK/testenv.json is missing"
    log "running: $HOST:$PORT (signed), $HOST:$OPEN_PORT (open)"
}

case ${1:-} in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) echo "export MOTO_TESTENV_JSON=$WORK/testenv.json" ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
