"""The web console in a real browser: headless Chromium opens GET /console on node 0's admin
listener of a 3-node ring and is used as an operator would: a wrong token is refused, the right
one opens the console, the nodes table shows the three nodes up, the buckets table counts the
object boto3 put, the bucket browser lists its folder, and a file uploaded through the page's
file input is read back byte for byte with boto3, through the page's download path (its fetch,
hashed in the page) and with its Download button (the file Chromium saves).

Method: Chromium is driven over the DevTools protocol with browser.py's driver (Browser, step).
The test only sets what an operator would type or pick (the token field, the file input, the
key field) and clicks the page's own buttons; it reads what the page renders (ids and data-*
attributes the page documents) and window.rvLastUpload, which the page sets after an upload.
Environment (from with-node.sh): RV_ENDPOINT, RV_REGION, RV_ACCESS_KEY_ID,
RV_SECRET_ACCESS_KEY, RV_WORK, RV_ADMIN_ADDR, RV_ADMIN_TOKEN; CHROMIUM overrides the browser.
"""

import hashlib
import json
import os
import sys
import time

import boto3
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser as driver  # noqa: E402 - the driver lives beside this file
from browser import Browser, step  # noqa: E402

BUCKET = "console-bucket"
NODES = 3
UPLOAD_KEY = "uploads/from-console.bin"
UPLOAD_BYTES = 300_001


def js(value):
    """A Python value as a JavaScript literal."""
    return json.dumps(value)


def set_value(page, selector, value):
    page.evaluate(f"document.querySelector({js(selector)}).value = {js(value)}")


def click(page, selector):
    ok = page.evaluate(f"(() => {{ const b = document.querySelector({js(selector)});"
                       " if (!b) return false; b.click(); return true; })()")
    if ok is not True:
        step(f"the page has {selector} to click", False)


def evaluate_async(page, expression):
    """Evaluates a promise-returning expression in the page and returns its value."""
    result = page.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                       returnByValue=True)
    if "exceptionDetails" in result:
        step("the page evaluates the script", False, repr(result["exceptionDetails"]))
    return result["result"].get("value")


def wait_until(page, expression, want):
    """Polls `expression` until it equals `want`; returns its last value (a failure's detail)."""
    deadline = time.monotonic() + driver.DEADLINE_SECS
    value = None
    while time.monotonic() < deadline:
        try:
            value = page.evaluate(expression)
        except RuntimeError:
            value = None  # the page is navigating
        if value == want:
            break
        time.sleep(0.2)
    return value


def sign_in(page, token):
    set_value(page, "#token", token)
    page.evaluate("document.getElementById('token-form').requestSubmit()")


def main():
    admin = f"http://{os.environ['RV_ADMIN_ADDR']}"
    token = os.environ["RV_ADMIN_TOKEN"]
    work = os.environ["RV_WORK"]
    s3 = boto3.client(
        "s3", endpoint_url=os.environ["RV_ENDPOINT"], region_name=os.environ["RV_REGION"],
        aws_access_key_id=os.environ["RV_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["RV_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="docs/readme.txt", Body=b"hello from the console test\n")

    page = Browser(work)
    try:
        page.call("Page.enable")
        page.call("Page.navigate", url=f"{admin}/console")
        ready = page.wait_for(
            "document.title === 'RingVault console' && !!document.getElementById('token-form')",
            "the admin listener serves the console")
        step("the admin listener serves the console without a token", ready is True)

        sign_in(page, "not-the-admin-token-" + "0" * 16)
        message = page.wait_for(
            "(() => { const form = document.getElementById('token-form');"
            " const text = document.getElementById('token-message').textContent;"
            " return !form.hidden && document.getElementById('console').hidden"
            " && /the token was refused/i.test(text) ? text : ''; })()",
            "a wrong token is refused")
        step("a wrong token brings back the token form, refused", True, message)

        sign_in(page, token)
        # Each node row's state as the operator reads it: "up,up,up" once the ring is seen.
        states = ("[...document.querySelectorAll('#nodes tbody tr[data-node-id]')]"
                  ".map(r => r.querySelector('.state').textContent.trim()).join(',')")
        all_up = ",".join(["up"] * NODES)
        shown = wait_until(page, states, all_up)
        step("the console shows the three nodes up", shown == all_up,
             f"the nodes table shows {shown!r}, expected {all_up!r}")

        # A reload keeps the token (sessionStorage): the console comes back without the form.
        page.call("Page.reload")
        shown = wait_until(page, f"document.getElementById('token-form').hidden && {states}",
                           all_up)
        step("a reload keeps the token and the console", shown == all_up, repr(shown))

        row = f"document.querySelector('#buckets tr[data-bucket={js(BUCKET)}]')"
        count = page.wait_for(
            f"(() => {{ const r = {row}; const c = r && r.querySelector('.objects');"
            " return c && /^[0-9,+]+$/.test(c.textContent) ? c.textContent : ''; })()",
            "the buckets table counts the objects")
        step(f"the buckets table lists {BUCKET} with 1 object", count == "1", repr(count))

        click(page, f"#buckets tr[data-bucket={js(BUCKET)}] button.browse")
        page.wait_for("!!document.querySelector('#objects tr[data-prefix=\"docs/\"]')",
                      "browsing the bucket shows docs/")
        step(f"browsing {BUCKET} shows the folder docs/", True)
        owner = page.wait_for(
            "(() => { const d = document.getElementById('bucket-detail');"
            " return d.querySelector('code') ? d.textContent : ''; })()",
            "the bucket's detail shows")
        step("the bucket's owner and grants show", os.environ["RV_ACCESS_KEY_ID"] in owner,
             repr(owner))

        click(page, "#objects tr[data-prefix=\"docs/\"] button")
        page.wait_for("!!document.querySelector('#objects tr[data-key=\"docs/readme.txt\"]')"
                      " && document.getElementById('breadcrumb').textContent.includes('docs')",
                      "descending into docs/")
        step("descending into docs/ lists readme.txt under a breadcrumb", True)
        click(page, "#breadcrumb button")
        page.wait_for("!!document.querySelector('#objects tr[data-prefix=\"docs/\"]')",
                      "the breadcrumb goes back up")
        step("the breadcrumb goes back to the bucket's root", True)

        data = bytes((i * 131 + 17) & 255 for i in range(UPLOAD_BYTES))
        path = os.path.join(work, "from-console.bin")
        with open(path, "wb") as f:
            f.write(data)
        document = page.call("DOM.getDocument")
        node = page.call("DOM.querySelector", nodeId=document["root"]["nodeId"],
                         selector="#upload-file")
        page.call("DOM.setFileInputFiles", files=[path], nodeId=node["nodeId"])
        set_value(page, "#upload-key", UPLOAD_KEY)
        click(page, "#upload-button")
        reported = page.wait_for(
            "window.rvLastUpload ? JSON.stringify(window.rvLastUpload) : ''",
            "the page reports the upload")
        reported = json.loads(reported)
        md5 = hashlib.md5(data).hexdigest()
        status = page.evaluate("document.getElementById('upload-status').textContent")
        step("the page reports the upload (key, size, ETag)",
             reported.get("key") == UPLOAD_KEY and reported.get("size") == UPLOAD_BYTES
             and reported.get("etag", "").strip('"') == md5 and UPLOAD_KEY in status,
             f"{reported!r} {status!r}")
        stored = s3.get_object(Bucket=BUCKET, Key=UPLOAD_KEY)["Body"].read()
        step("an upload through the console lands byte-identical", stored == data,
             f"{len(stored)} bytes stored")
        page.wait_for("!!document.querySelector('#objects tr[data-prefix=\"uploads/\"]')",
                      "the listing shows uploads/")
        step("the listing refreshes and shows uploads/", True)

        digest = evaluate_async(page, f"""(async () => {{
            const blob = await window.rvConsole.fetchObject({js(BUCKET)}, {js(UPLOAD_KEY)});
            const bytes = await blob.arrayBuffer();
            const sum = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
            return JSON.stringify({{length: bytes.byteLength,
                sha256: [...sum].map(b => b.toString(16).padStart(2, '0')).join('')}});
        }})()""")
        want = {"length": UPLOAD_BYTES, "sha256": hashlib.sha256(data).hexdigest()}
        step("the page's download path reads the same bytes (length, SHA-256)",
             json.loads(digest or "{}") == want, f"{digest} != {want}")

        # The Download button itself: blob -> object URL -> <a download>, saved by Chromium.
        downloads = os.path.join(work, "downloads")
        os.makedirs(downloads)
        page.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=downloads)
        row = f"#objects tr[data-key={js(UPLOAD_KEY)}]"
        click(page, "#objects tr[data-prefix=\"uploads/\"] button")
        page.wait_for(f"!!document.querySelector({js(row)})", "the uploads/ folder lists the file")
        click(page, f"{row} button.download")
        saved = os.path.join(downloads, os.path.basename(UPLOAD_KEY))
        deadline = time.monotonic() + driver.DEADLINE_SECS
        while time.monotonic() < deadline and not (
                os.path.exists(saved) and os.path.getsize(saved) == UPLOAD_BYTES):
            time.sleep(0.2)
        got = open(saved, "rb").read() if os.path.exists(saved) else b""
        step("the Download button saves the same bytes", got == data,
             f"{len(got)} bytes in {os.listdir(downloads)}")

        click(page, "#forget")
        gone = page.wait_for(
            "!document.getElementById('token-form').hidden"
            " && sessionStorage.getItem('ringvault-admin-token') === null",
            "forget token")
        step("forget token returns to the token form and drops the token", gone is True)
    finally:
        page.close()
    print(f"console: {driver.passed} passed, 0 failed")


if __name__ == "__main__":
    main()
