// The admin page's live dashboard: a self-contained script (no outside scripts, fonts or
// styles) that polls /stats every second and draws tables and inline SVG sparklines.
#include <string>

namespace ringway::proxy {

// Kept as one literal so the page is a single response; render_status_html wraps it.
const char* live_page_script() {
  return R"JS(
(function () {
  'use strict';
  var live = document.getElementById('live');
  live.hidden = false;
  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c];
    });
  }
  function num(v, d) { return v === null || v === undefined ? '-' : Number(v).toFixed(d); }
  function spark(vals, color) {
    var w = 150, h = 28, n = vals.length;
    if (n < 2) return '<svg class="spark" width="' + w + '" height="' + h + '"></svg>';
    var v = vals.map(function (x) { return x === null ? 0 : x; });
    var max = Math.max.apply(null, v.concat([1e-9]));
    var pts = v.map(function (x, i) {
      return (i * w / (n - 1)).toFixed(1) + ',' + (h - 2 - (x / max) * (h - 4)).toFixed(1);
    }).join(' ');
    return '<svg class="spark" width="' + w + '" height="' + h + '" viewBox="0 0 ' + w + ' ' + h +
      '"><title>max ' + max.toFixed(2) + '</title><polyline fill="none" stroke="' + color +
      '" stroke-width="1.5" points="' + pts + '"/></svg>';
  }
  function ago(ms, now) {
    if (!ms) return 'never';
    var s = Math.max(0, Math.round((now - ms) / 1000));
    return s < 120 ? s + ' s ago' : Math.round(s / 60) + ' min ago';
  }
  function render(s) {
    var h = '<p class="facts">version ' + esc(s.version) + ' &middot; io ' + esc(s.io) +
      (s.io_fallback_reason ? ' (fell back: ' + esc(s.io_fallback_reason) + ')' : '') +
      ' &middot; ' + s.workers + ' worker(s) &middot; ' +
      (s.draining ? 'draining' : (s.ready ? 'ready' : 'starting')) +
      ' &middot; up <span id="uptime">' + s.uptime_s + '</span> s &middot; last reload: <span id="reload">' +
      esc(s.last_reload.result) + (s.last_reload.unix_ms ? ' (' + ago(s.last_reload.unix_ms, s.now_unix_ms) + ')' : '') +
      '</span> &middot; client connections: <span id="conn-active">' + s.connections.active +
      '</span> active, <span id="conn-idle">' + s.connections.idle + '</span> idle</p>';
    h += '<h2>Routes</h2><table><tr><th>route</th><th>upstream</th><th>req/s</th><th>2xx/s</th>' +
      '<th>4xx/s</th><th>5xx/s</th><th>p50 (1 min)</th><th>p99 (1 min)</th>' +
      '<th>req/s, 5 min</th><th>p99, 5 min</th></tr>';
    s.routes.forEach(function (r) {
      h += '<tr class="route" data-route="' + esc(r.route) + '"><td>' + esc(r.route) + '</td><td>' +
        esc(r.upstream) + '</td><td class="rps">' + num(r.rps, 1) + '</td><td class="r2">' +
        num(r.rate_2xx, 1) + '</td><td class="r4">' + num(r.rate_4xx, 1) + '</td><td class="r5">' +
        num(r.rate_5xx, 1) + '</td><td class="p50">' + num(r.p50_ms, 2) + ' ms</td><td class="p99">' +
        num(r.p99_ms, 2) + ' ms</td><td>' + spark(r.series.rps, '#2a6') + '</td><td>' +
        spark(r.series.p99_ms, '#c63') + '</td></tr>';
    });
    h += '</table><h2>Upstream servers</h2>';
    s.upstreams.forEach(function (u) {
      h += '<h3>' + esc(u.name) + ' <small>(' + esc(u.balance) + ', queue ' + num(u.queue_depth, 0) +
        ')</small></h3><table><tr><th>server</th><th>health</th><th>last check</th>' +
        '<th>last change</th><th>in flight</th><th>open / max conns</th><th>idle conns</th>' +
        '<th>ejected</th><th>ejections</th><th>latency EWMA</th></tr>';
      u.servers.forEach(function (v) {
        var state = v.healthy ? 'up' : 'down';
        h += '<tr class="server" data-server="' + esc(v.address) + '" data-health="' + state +
          '"><td>' + esc(v.address) + '</td><td class="' + state + '">' +
          (v.healthy ? 'healthy' : 'unhealthy') + (v.health_checked ? '' : ' (not checked)') +
          '</td><td>' + esc(v.last_check) + '</td><td>' + ago(v.last_transition_unix_ms, s.now_unix_ms) +
          '</td><td>' + v.in_flight + '</td><td>' + num(v.open_connections, 0) + ' / ' +
          (v.max_connections === 0 ? 'unlimited' : num(v.max_connections, 0)) + '</td><td>' + v.idle_connections + '</td><td>' +
          (v.ejected ? 'yes' : 'no') + '</td><td>' + v.ejections + '</td><td>' +
          num(v.ewma_latency_ms, 2) + ' ms</td></tr>';
      });
      h += '</table>';
    });
    live.innerHTML = h;
  }
  var status = document.getElementById('poll');
  function tick() {
    fetch('/stats', {cache: 'no-store'}).then(function (r) { return r.json(); }).then(function (s) {
      render(s);
      status.textContent = 'updated ' + new Date(s.now_unix_ms).toISOString();
      status.className = '';
    }).catch(function (e) {
      status.textContent = 'cannot reach /stats (' + e + ')';
      status.className = 'down';
    });
  }
  tick();
  setInterval(tick, 1000);
})();
)JS";
}

}  // namespace ringway::proxy
