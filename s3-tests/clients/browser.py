"""A real browser against RingVault: headless Chromium loads a static page from the website
endpoint and uploads to another bucket with fetch() (CORS preflight, presigned PUT, ETag read
through ExposeHeaders, a CORS GET back) and with an HTML form POST (a boto3 presigned POST
policy, success_action_redirect back to the website). Each object is then checked byte for
byte with boto3.

Chromium is driven over the DevTools protocol (websocket-client), with no driver to download.
Origins: the page is http://site.web.localhost:PORT (Chromium resolves *.localhost to
loopback, and the node runs with --website-domain web.localhost); the S3 endpoint is
http://127.0.0.1:PORT, another origin, so every fetch is a real cross-origin request.
Environment (from with-node.sh): RV_ENDPOINT, RV_REGION, RV_ACCESS_KEY_ID,
RV_SECRET_ACCESS_KEY, RV_WORK; CHROMIUM overrides the browser binary.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import boto3
import websocket
from botocore.config import Config

SITE = "site"
UPLOADS = "uploads"
FETCH_BYTES = 300_000
FORM_BYTES = 70_001
DEADLINE_SECS = 60

passed = 0


def step(name, ok, detail=""):
    global passed
    if not ok:
        print(f"FAIL  {name} {detail}")
        sys.exit(1)
    passed += 1
    print(f"PASS  {name}")


def pattern(n, mul, add):
    """The bytes the page makes: b[i] = (i * mul + add) & 255 (the same in JS)."""
    return bytes((i * mul + add) & 255 for i in range(n))


class Browser:
    """Headless Chromium with one page, spoken to over the DevTools protocol."""

    def __init__(self, work):
        binary = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which(
            "chromium-browser")
        if not binary:
            print("FAIL  chromium: not installed (Debian package 'chromium')")
            sys.exit(1)
        profile = os.path.join(work, "chromium-profile")
        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-dev-shm-usage", f"--user-data-dir={profile}",
             "--remote-debugging-port=0", "--remote-allow-origins=*", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "chromium.log"), "wb"))
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.monotonic() + DEADLINE_SECS
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                print("FAIL  chromium did not start; see chromium.log")
                sys.exit(1)
            time.sleep(0.1)
        port = open(port_file).read().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30,
                                              suppress_origin=True)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression, what):
        deadline = time.monotonic() + DEADLINE_SECS
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except (RuntimeError, websocket.WebSocketException):
                value = None  # the page is navigating
            if value:
                return value
            time.sleep(0.2)
        step(what, False, "(timed out in the browser)")

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:  # noqa: BLE001 - the browser may already be gone
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>RingVault upload</title></head>
<body>
<form id="upload" method="post" enctype="multipart/form-data"></form>
<script>
const cfg = %(cfg)s;
function pattern(n, mul, add) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * mul + add) & 255;
  return b;
}
async function viaFetch() {
  const data = pattern(cfg.fetch_bytes, 31, 7);
  const put = await fetch(cfg.put_url, {method: "PUT", body: data});
  const etag = put.headers.get("ETag");
  const got = await fetch(cfg.get_url);
  const back = new Uint8Array(await got.arrayBuffer());
  const same = back.length === data.length && back.every((v, i) => v === data[i]);
  window.rvResult = JSON.stringify({put: put.status, etag: etag, get: got.status, same: same});
}
function viaForm() {
  const form = document.getElementById("upload");
  form.action = cfg.post.url;
  for (const [name, value] of Object.entries(cfg.post.fields)) {
    const input = document.createElement("input");
    input.type = "hidden"; input.name = name; input.value = value;
    form.appendChild(input);
  }
  const file = document.createElement("input");
  file.type = "file"; file.name = "file";
  form.appendChild(file);
  const picked = new DataTransfer();
  picked.items.add(new File([pattern(cfg.form_bytes, 17, 3)], "photo.bin"));
  file.files = picked.files;
  form.submit();
}
const phase = new URLSearchParams(location.search).get("phase");
if (phase === "fetch") viaFetch().catch(e => { window.rvResult = JSON.stringify({error: String(e)}); });
if (phase === "form") viaForm();
</script>
</body></html>
"""


def main():
    endpoint = os.environ["RV_ENDPOINT"]
    port = urllib.parse.urlsplit(endpoint).port
    site = f"http://{SITE}.web.localhost:{port}"
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name=os.environ["RV_REGION"],
        aws_access_key_id=os.environ["RV_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["RV_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))

    s3.create_bucket(Bucket=SITE)
    s3.put_bucket_website(Bucket=SITE, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}})
    s3.put_bucket_policy(Bucket=SITE, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": f"arn:aws:s3:::{SITE}/*"}]}))
    s3.create_bucket(Bucket=UPLOADS)
    s3.put_bucket_cors(Bucket=UPLOADS, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": [site], "AllowedMethods": ["GET", "PUT", "POST"],
        "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 60}]})

    post = s3.generate_presigned_post(
        UPLOADS, "form/${filename}",
        Fields={"success_action_redirect": f"{site}/done.html"},
        Conditions=[{"success_action_redirect": f"{site}/done.html"},
                    ["content-length-range", 1, 1 << 20]],
        ExpiresIn=600)
    cfg = {
        "fetch_bytes": FETCH_BYTES,
        "form_bytes": FORM_BYTES,
        "put_url": s3.generate_presigned_url(
            "put_object", Params={"Bucket": UPLOADS, "Key": "fetch.bin"}, ExpiresIn=600),
        "get_url": s3.generate_presigned_url(
            "get_object", Params={"Bucket": UPLOADS, "Key": "fetch.bin"}, ExpiresIn=600),
        "post": post,
    }
    page = PAGE % {"cfg": json.dumps(cfg)}
    s3.put_object(Bucket=SITE, Key="index.html", Body=page.encode(), ContentType="text/html")
    s3.put_object(Bucket=SITE, Key="done.html", Body=b"<!doctype html><p>uploaded</p>",
                  ContentType="text/html")

    browser = Browser(os.environ["RV_WORK"])
    try:
        browser.call("Page.enable")
        browser.call("Page.navigate", url=f"{site}/?phase=fetch")
        title = browser.wait_for("document.title", "the website endpoint serves the page")
        step("the website endpoint serves the page (index document)", title == "RingVault upload",
             repr(title))
        result = json.loads(browser.wait_for("window.rvResult", "fetch() uploads"))
        step("fetch() PUT through a CORS preflight", result.get("put") == 200, repr(result))
        want = pattern(FETCH_BYTES, 31, 7)
        md5 = hashlib.md5(want).hexdigest()
        step("the ETag is exposed to the page", result.get("etag") == f'"{md5}"', repr(result))
        step("fetch() GET reads the object back", result.get("same") is True, repr(result))
        stored = s3.get_object(Bucket=UPLOADS, Key="fetch.bin")["Body"].read()
        step("the fetch() upload is byte-identical", stored == want,
             f"{len(stored)} bytes stored")

        browser.call("Page.navigate", url=f"{site}/?phase=form")
        landed = browser.wait_for(
            "location.pathname === '/done.html' ? location.href : ''",
            "the form POST redirects to success_action_redirect")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(landed).query)
        step("the form POST redirects back with bucket and key",
             query.get("bucket") == [UPLOADS] and query.get("key") == ["form/photo.bin"],
             landed)
        want = pattern(FORM_BYTES, 17, 3)
        stored = s3.get_object(Bucket=UPLOADS, Key="form/photo.bin")["Body"].read()
        step("the form upload is byte-identical", stored == want, f"{len(stored)} bytes stored")
        step("the redirect names the stored ETag",
             query.get("etag") == [f'"{hashlib.md5(want).hexdigest()}"'], landed)
    finally:
        browser.close()
    print(f"browser: {passed} passed, 0 failed")


if __name__ == "__main__":
    main()
