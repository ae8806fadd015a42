// The live dashboard page: /?site=<site id>&token=<user JWT>[&offline_after=<ms>].
// It renders what PulseClient gives it; KPI cards move optimistically on single changes and are
// set from kpi_updated, and the chart is drawn only on chart_refresh.
(function () {
  "use strict";
  const params = new URLSearchParams(window.location.search);
  const siteId = params.get("site") || "";
  const token = params.get("token") || window.localStorage.getItem("pulse-token") || "";
  const $ = (id) => document.getElementById(id);
  const KPI_KEYS = ["sessions", "events", "calls", "intents", "conversions", "conversion_rate"];
  const LABELS = { live: "Live", reconnecting: "Reconnecting", offline: "Offline", connecting: "Connecting" };
  let kpis = null;
  let chartDraws = 0;
  const ledger = new Map();

  $("site-name").textContent = siteId ? "site " + siteId : "";

  function showState(client) {
    const pulse = $("pulse");
    pulse.className = "pulse " + client.status;
    pulse.dataset.status = client.status;
    $("pulse-label").textContent = LABELS[client.status] || client.status;
    $("event-count").textContent = String(client.eventCount);
    $("last-event").textContent = client.lastEventAt ? client.lastEventAt.toLocaleTimeString() : "—";
    const error = $("error");
    error.hidden = !client.error;
    error.textContent = client.error || "";
  }

  function showKpis() {
    if (!kpis) return;
    $("kpi-day").textContent = kpis.day;
    for (const key of KPI_KEYS) {
      const value = kpis[key] ?? 0;
      $("kpi-" + key).textContent =
        key === "conversion_rate" ? (value * 100).toFixed(1) + "%" : String(value);
    }
  }

  // A single change bumps today's card at once; the next kpi_updated sets the exact figures.
  function bump(key, createdAt) {
    if (!kpis || !createdAt || String(createdAt).slice(0, 10) !== kpis.day) return;
    kpis[key] = (kpis[key] || 0) + 1;
    showKpis();
  }

  function showLedger() {
    const rows = [...ledger.values()].slice(-20).reverse();
    $("ledger").replaceChildren(
      ...rows.map((intent) => {
        const tr = document.createElement("tr");
        for (const text of [
          intent.id.slice(0, 8),
          intent.sealed_at ? "sealed" : intent.status,
          intent.call_status || (intent.call_id ? "…" : "—"),
          String(intent.created_at).slice(11, 19),
        ]) {
          const td = document.createElement("td");
          td.textContent = text;
          tr.appendChild(td);
        }
        return tr;
      })
    );
  }

  function putIntent(intent, deleted) {
    if (deleted) ledger.delete(intent.id);
    else ledger.set(intent.id, Object.assign(ledger.get(intent.id) || {}, intent));
    showLedger();
  }

  function drawChart(chart) {
    const canvas = $("chart");
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const buckets = chart.buckets || [];
    const top = Math.max(1, ...buckets.map((b) => b.events));
    const width = canvas.width / Math.max(1, buckets.length);
    ctx.fillStyle = "#2563eb";
    buckets.forEach((b, i) => {
      const h = (b.events / top) * (canvas.height - 10);
      ctx.fillRect(i * width, canvas.height - h, Math.max(1, width - 1), h);
    });
    chartDraws += 1;
    $("chart-draws").textContent = String(chartDraws);
  }

  function applySnapshot(snapshot) {
    kpis = snapshot.kpi ? Object.assign({}, snapshot.kpi.kpis) : null;
    showKpis();
    ledger.clear();
    for (const intent of [...snapshot.intents].reverse()) ledger.set(intent.id, intent);
    showLedger();
    if (snapshot.chart) drawChart(snapshot.chart);
  }

  if (!siteId || !token) {
    const error = $("error");
    error.hidden = false;
    error.textContent = "open this page as /?site=<site id>&token=<user JWT>";
    return;
  }

  const client = new window.PulseClient({
    siteId,
    getToken: () => token,
    offlineAfterMs: Number(params.get("offline_after") || 15000),
    callbacks: {
      onStateChange: showState,
      onSnapshot: applySnapshot,
      onKpiUpdated: (u) => {
        if (!kpis || u.kpis.day >= kpis.day) {
          kpis = Object.assign({}, u.kpis);
          showKpis();
        }
      },
      onChartRefresh: (u) => drawChart(u),
      onIntentCreated: (u) => {
        putIntent(u.intent, false);
        bump("intents", u.intent.created_at);
      },
      onIntentUpdated: (u) => putIntent(u.intent, u.deleted),
      onConversionSealed: (u) => {
        const intent = ledger.get(u.intent_id);
        if (intent) putIntent(Object.assign({}, intent, { sealed_at: u.sealed_at }), false);
      },
      onCallCreated: (u) => bump("calls", u.call.created_at),
      onCallUpdated: (u) => {
        for (const intent of ledger.values()) {
          if (intent.call_id === u.call.id) intent.call_status = u.deleted ? "deleted" : u.call.status;
        }
        showLedger();
      },
      onEventCreated: (u) => bump("events", u.event.created_at),
      onDataFreshness: () => {},
    },
  });
  window.pulse = client;
  client.start();
})();
