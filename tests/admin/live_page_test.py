#!/usr/bin/env python3
# The admin live page in a real headless Chromium (selenium + chromium-driver): servers and
# their health are rendered, rates and p99 show numbers after traffic, and a service that
# stops and comes back changes state on the page. Exit 77 (skip) without chromium/selenium.
# Usage: live_page_test.py BIN_DIR [--screenshot FILE.png]
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

SKIP = 77


def skip(why):
    print("SKIP: " + why)
    sys.exit(SKIP)


try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from selenium.common.exceptions import StaleElementReferenceException
except ImportError:
    skip("python3-selenium is not installed")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not CHROMIUM or not os.path.exists(DRIVER):
    skip("chromium / chromium-driver not installed")

bin_dir = sys.argv[1]
screenshot = sys.argv[sys.argv.index("--screenshot") + 1] if "--screenshot" in sys.argv else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(url, timeout=2):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def wait_http(url, limit=15):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            if get(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("FAIL: %s did not answer within %ss" % (url, limit))


procs = []


def spawn(args, log):
    p = subprocess.Popen(args, stdout=log, stderr=log)
    procs.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


tmp = tempfile.mkdtemp(prefix="ringway-admin-")
log = open(os.path.join(tmp, "processes.log"), "w")
driver = None
try:
    p1, p2, proxy_port, admin_port = free_port(), free_port(), free_port(), free_port()
    services = {}
    for name, port in (("service1", p1), ("service2", p2)):
        services[name] = spawn([os.path.join(bin_dir, name), "--listen", "127.0.0.1:%d" % port], log)
        wait_http("http://127.0.0.1:%d/ping" % port)
    config = os.path.join(tmp, "ringway.yaml")
    hc = "{path: /ping, interval: 300ms, timeout: 200ms, healthy_threshold: 1, unhealthy_threshold: 1}"
    with open(config, "w") as f:
        f.write('listen: ["127.0.0.1:%d"]\nadmin: {listen: "127.0.0.1:%d"}\n' % (proxy_port, admin_port))
        f.write("upstreams:\n")
        f.write('  service1: {servers: ["127.0.0.1:%d"], health_check: %s}\n' % (p1, hc))
        f.write('  service2: {servers: ["127.0.0.1:%d"], health_check: %s}\n' % (p2, hc))
        f.write("routes:\n  - {prefix: /service1/, upstream: service1, strip_prefix: true}\n")
        f.write("  - {prefix: /service2/, upstream: service2, strip_prefix: true}\n")
    spawn([os.path.join(bin_dir, "ringway"), "--config", config], log)
    admin = "http://127.0.0.1:%d" % admin_port
    wait_http(admin + "/readyz")

    # Bounded background traffic (stops by itself after 60 s or when the test ends).
    done = threading.Event()

    def traffic():
        end = time.time() + 60
        while not done.is_set() and time.time() < end:
            for path in ("/service1/ping", "/service2/ping"):
                try:
                    get("http://127.0.0.1:%d%s" % (proxy_port, path), timeout=1)
                except OSError:
                    pass
            time.sleep(0.01)

    threading.Thread(target=traffic, daemon=True).start()

    opts = Options()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,1000", "--no-proxy-server"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.get(admin + "/")
    wait = WebDriverWait(driver, 20, poll_frequency=0.2,
                         ignored_exceptions=[StaleElementReferenceException])

    # The page replaces its tables every second: read them in one script call, so no element
    # reference goes stale between finding it and reading it.
    def server_health(port):
        return driver.execute_script(
            "var r = document.querySelector(arguments[0]); return r ? r.dataset.health : null;",
            'tr.server[data-server="127.0.0.1:%d"]' % port)

    def is_number(text):
        try:
            float(text.split()[0])
            return True
        except (ValueError, IndexError):
            return False

    def route_cell(route, cls):
        return driver.execute_script(
            "var c = document.querySelector(arguments[0]); return c ? c.textContent : '';",
            'tr.route[data-route="%s"] td.%s' % (route, cls))

    wait.until(lambda d: server_health(p1) == "up" and server_health(p2) == "up")
    print("ok: both servers rendered healthy")
    wait.until(lambda d: is_number(route_cell("/service1/", "rps")) and
               float(route_cell("/service1/", "rps")) > 0 and is_number(route_cell("/service1/", "p99")))
    wait.until(lambda d: is_number(route_cell("/service2/", "p50")) and is_number(route_cell("/service2/", "r2")))
    print("ok: rates and p99 show numbers: rps=%s p99=%s" %
          (route_cell("/service1/", "rps"), route_cell("/service1/", "p99")))
    if not driver.find_elements(By.CSS_SELECTOR, "tr.route svg.spark polyline"):
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "tr.route svg.spark polyline"))
    print("ok: sparklines drawn")
    # Nothing on the page comes from elsewhere.
    html = driver.page_source
    for bad in ("<script src", "<link", "@import", "url("):
        if bad in html:
            raise SystemExit("FAIL: page loads an outside resource (%s)" % bad)

    stop(services["service2"])
    wait.until(lambda d: server_health(p2) == "down")
    print("ok: stopped service2 shows down")
    services["service2"] = spawn([os.path.join(bin_dir, "service2"), "--listen", "127.0.0.1:%d" % p2], log)
    wait.until(lambda d: server_health(p2) == "up")
    print("ok: restarted service2 shows up again")
    if screenshot:
        time.sleep(3)  # a few more points on the sparklines
        driver.save_screenshot(screenshot)
        print("screenshot: " + screenshot)
    done.set()
    print("PASS")
except Exception as e:  # selenium timeouts carry no message: name the step via the trace
    import traceback
    traceback.print_exc()
    if driver is not None:
        print("--- page ---\n" + driver.find_element(By.TAG_NAME, "body").text[:3000])
    log.flush()
    print("--- processes ---\n" + open(log.name).read()[-3000:])
    sys.exit(1)
finally:
    if driver is not None:
        driver.quit()
    for p in reversed(procs):
        stop(p)
    shutil.rmtree(tmp, ignore_errors=True)
